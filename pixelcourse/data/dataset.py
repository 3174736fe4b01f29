"""The dataset a notebook trains on: verified uint8 images served as quantised levels.

``load_dataset("mnist", "train", levels=2)`` gives a PixelDataset whose items are long
tensors of levels in ``[0, levels)`` (see ``pixelcourse.quantisation``); ``subset`` takes
the first n items and ``make_loader`` batches them without collating item by item.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler

from ..quantisation import check_levels, quantise
from .sources import default_sources
from .store import SourcesFor, check_name, data_root, obtain


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
        self.levels = check_levels(levels)
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


def load_dataset(name: str, split: str = "train", levels: int = 256, root: str | Path | None = None,
                 sources: SourcesFor = default_sources) -> PixelDataset:
    """Load a verified split, fetching it on first use.

    Args:
        name: ``"mnist"``, ``"fashion_mnist"`` or ``"cifar10"``.
        split: ``"train"`` or ``"test"``.
        levels: intensity levels of the items, an int from 2 to 256.
        root: data folder, ``settings.DATA_DIR`` by default.
        sources: gives the sources to try for a dataset name when there is no verified
            copy, ``default_sources`` by default.
    Returns:
        PixelDataset with items ``(x, y)``: x long (C, H, W) in ``[0, levels)`` -- (1, 28, 28)
        for MNIST and Fashion-MNIST, (3, 32, 32) RGB for CIFAR-10 -- and y an int label.
    Raises:
        ValueError: unknown name or split, or bad levels.
        DatasetUnavailableError: no source could provide the data.
    """
    check_name(name, split)
    levels = check_levels(levels)
    images, labels = obtain(name, [split], data_root(root), sources(name))[split]
    return PixelDataset(torch.from_numpy(images), torch.from_numpy(labels), levels, name, split)
