"""Sampling (notebooks 06-07): one entry point for generation, completion, temperature, top-p and the widget.

``sample`` is completion with nothing known. Two methods sit behind the same
functions: "fast" (the default) caches each layer's recent input rows and
computes only the new position (``sampling/fast.py``); "naive" runs the whole
network once per sub-pixel (``sampling/naive.py``, the teaching version and the
test oracle). With the same seeded generator both give the same samples.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..models import AutoregressiveModel, check_labels
from ..util import eval_mode, model_device
from .fast import complete_fast
from .naive import complete_naive
from .step import check_temperature, check_top_p, sample_step

METHODS = ("naive", "fast")


def _as_labels(model: AutoregressiveModel, labels, batch: int) -> torch.Tensor | None:
    if labels is None:
        check_labels(model.config, None, batch)
        return None
    if isinstance(labels, int):
        labels = [labels] * batch
    y = torch.as_tensor(labels, dtype=torch.long) if not isinstance(labels, torch.Tensor) else labels
    check_labels(model.config, y, batch)
    return y


@torch.no_grad()
def sample(
    model: AutoregressiveModel,
    n: int,
    *,
    temperature: float = 1.0,
    labels=None,
    generator: torch.Generator | None = None,
    method: str = "fast",
    callback: Callable[[int, torch.Tensor], None] | None = None,
    top_p: float = 1.0,
    draw: Callable = sample_step,
) -> torch.Tensor:
    """Generate ``n`` images from scratch. Returns long (n, C, H, W) in [0, levels).

    temperature: T > 0 divides the logits (notebook 07).
    top_p: 0 < top_p <= 1; each step draws only from the most likely levels that
        together hold top_p of the probability (nucleus sampling); 1 keeps every level.
    labels: class labels for conditional models, an int (the same for all) or (n,).
    generator: a seeded ``torch.Generator`` makes samples reproducible.
    method: "fast" (cached, one position per step) or "naive" (one full forward
        pass per sub-pixel); the same generator seed gives the same samples.
    callback(row, images): called after each finished row (live display).
    draw(logits, temperature, generator[, top_p]): draws one level per image at
        each step; ``sample_step`` unless you want to watch or replace it.
    """
    c = model.config
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}.")
    images = torch.zeros(n, c.channels, c.height, c.width, dtype=torch.long, device=model_device(model))
    known = torch.zeros_like(images, dtype=torch.bool)
    return complete(
        model, images, known, temperature=temperature, labels=labels, generator=generator, method=method,
        callback=callback, top_p=top_p, draw=draw,
    )  # fmt: skip


def _check_known(images, known) -> None:
    if not isinstance(known, torch.Tensor) or known.dtype != torch.bool:
        raise TypeError("known must be a torch.bool tensor (True where the pixel is given).")
    if isinstance(images, torch.Tensor) and known.shape != images.shape:
        raise ValueError(f"known must have the shape of images {tuple(images.shape)}, got {tuple(known.shape)}.")


@torch.no_grad()
def complete(
    model: AutoregressiveModel,
    images: torch.Tensor,
    known: torch.Tensor,
    *,
    n_per_image: int = 1,
    temperature: float = 1.0,
    labels=None,
    generator: torch.Generator | None = None,
    method: str = "fast",
    callback: Callable[[int, torch.Tensor], None] | None = None,
    top_p: float = 1.0,
    draw: Callable = sample_step,
) -> torch.Tensor:
    """Keep the known sub-pixels of ``images`` and sample all the others in raster order.

    images: long (B, C, H, W); known: bool (B, C, H, W), True where a value is given.
    Returns long (B * n_per_image, C, H, W): the completions of image b are rows
    b * n_per_image ... (b + 1) * n_per_image - 1, and every known value is kept exactly.
    method: "fast" (cached) or "naive" (one full forward pass per sub-pixel); temperature,
    top_p and draw as in ``sample``.
    """
    temperature = check_temperature(temperature)
    top_p = check_top_p(top_p)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    if not isinstance(n_per_image, int) or n_per_image < 1:
        raise ValueError(f"n_per_image must be a positive int, got {n_per_image!r}.")
    _check_known(images, known)
    model.check_images(images)
    y = _as_labels(model, labels, images.shape[0])

    x = images.repeat_interleave(n_per_image, dim=0).clone()  # (N, C, H, W)
    known = known.repeat_interleave(n_per_image, dim=0)  # (N, C, H, W)
    y = None if y is None else y.repeat_interleave(n_per_image, dim=0)
    x[~known] = 0  # unknown values must not matter; zero them so nothing can leak

    fill = complete_naive if method == "naive" else complete_fast
    with eval_mode(model):
        fill(model, x, known, y, temperature, generator, callback, top_p, draw=draw)
    return x
