"""Exact likelihoods: the negative log-likelihood of a batch and bits per dimension (notebooks 02-05).

Bits/dim is the course's one measure of a model: the average negative
log2-likelihood of a sub-pixel. Training minimises the same quantity, so the
training loss and the test figure are in the same unit.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .util import eval_mode, model_device, unwrap

LN2 = math.log(2.0)
CPU_BATCH_BYTES = 8 * 2**20  # the largest tensor of an evaluation batch on the CPU


def evaluation_batch(model: nn.Module, batch_size: int | None = None) -> int:
    """Images per batch for an evaluation (forward passes only) of ``model`` on its device.

    batch_size: the caller's choice, returned once checked; None picks one. A GPU takes
    256. On the CPU the batch is kept small enough that its largest tensor, the float64
    output head or the widest features, stays under 8 MiB. Bigger batches share no more
    work there: their tensors leave the caches, and blocks over 32 MiB are fresh pages
    from the operating system on every batch (glibc's allocator maps them anew), a page
    fault per 4 KiB. The ``mnist`` preset gets 5 images, ``cifar10`` 11;
    ``benchmarks/bench_evaluation.py`` times every batch size (batch 256 took 2.1 to 3.5
    times as long per image on a Zen 4 EPYC, README).
    """
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int (images per forward pass) or None, got {batch_size!r}.")
        return batch_size
    if model_device(model).type != "cpu":
        return 256
    config = getattr(unwrap(model), "config", None)
    if config is None:
        return 8
    per_pixel = max(8 * config.head_params * config.channels, 4 * 2 * config.hidden)  # bytes of one position
    return max(1, min(256, CPU_BATCH_BYTES // (per_pixel * config.height * config.width)))


def batches(data, batch_size: int, order: torch.Tensor | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (x, y) batches of ``data``: a pixelcourse dataset, any Dataset of (x, y), or a DataLoader.

    order: indices to visit (default: all, in order). Pixelcourse datasets are
    sliced as uint8 tensors directly, which is much faster than per-item loading.
    """
    if isinstance(data, torch.utils.data.DataLoader):
        yield from data
        return
    order = torch.arange(len(data)) if order is None else order
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        if hasattr(data, "batch"):
            yield data.batch(idx)
        else:
            items = [data[int(k)] for k in idx]
            yield torch.stack([torch.as_tensor(x) for x, _ in items]), torch.as_tensor([int(y) for _, y in items])


def labels_for(model: nn.Module, y: torch.Tensor) -> torch.Tensor | None:
    """The class labels a conditional model takes, or None for an unconditional one."""
    return y.long() if unwrap(model).config.num_classes else None


def log_probs(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None, exact: bool = False) -> torch.Tensor:
    """log p(x_i | x_<i) in nats of every sub-pixel of a batch: x long (B, C, H, W) -> (B, C, H, W).

    exact: compute the softmax in float64 (evaluation), not float32 (training).
    """
    base = unwrap(model)
    if not hasattr(base, "log_prob"):  # any softmax model, such as the one a learner builds: forward gives logits
        logits = model(x, y)  # (B, levels, C, H, W)
        return -F.cross_entropy(logits.double() if exact else logits, x, reduction="none")
    raw = model(x, y, raw=True)  # (B, P, C, H, W): logits, or mixture parameters
    if exact:
        raw = raw.double()
    return base.log_prob(raw, x)


def nll_nats(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None, exact: bool = False) -> torch.Tensor:
    """Summed negative log-likelihood in nats of a batch: x long (B, C, H, W) -> scalar (``exact`` as in log_probs)."""
    return -log_probs(model, x, y, exact).sum()


@torch.no_grad()
def bits_per_dim(model: nn.Module, data, batch_size: int | None = None, progress: bool = False) -> float:
    """Exact average negative log2-likelihood per sub-pixel over every image of ``data``.

    data: a Dataset of (x, y) or a DataLoader. The softmax and the sum are in
    float64, so the batch size changes at most the last digits (those of the float32
    convolutions). batch_size: None takes ``evaluation_batch(model)``. For 28x28 grey
    images, nats per image = bits/dim * 784 * ln 2.
    """
    model = unwrap(model)
    device = model_device(model)
    batch_size = evaluation_batch(model, batch_size)
    total, count = 0.0, 0
    with eval_mode(model):
        steps = batches(data, batch_size)
        if progress:
            steps = tqdm(steps, total=math.ceil(len(data) / batch_size), desc="bits/dim", leave=False)
        for x, y in steps:
            x = x.to(device)  # (B, C, H, W) levels
            total += float(nll_nats(model, x, labels_for(model, y.to(device)), exact=True))
            count += x.numel()
    if count == 0:
        raise ValueError("bits_per_dim needs at least one image: the data set is empty.")
    return total / (count * LN2)
