"""Sampling (notebooks 06-07): one entry point for generation, completion, temperature, top-p and the widget.

``sample`` is completion with nothing known. Two methods sit behind the same
functions: "fast" (the default) caches each layer's recent input rows and
computes only the new position (``pixelcourse.fast``); "naive" runs the whole
network once per sub-pixel (the teaching version and the test oracle). With
the same seeded generator both give the same samples.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Callable

import torch

from .models import AutoregressiveModel, check_labels

METHODS = ("naive", "fast")


def check_temperature(temperature) -> float:
    """Temperature must be a finite number > 0; returns it as a float."""
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}.") from None
    if not math.isfinite(t) or t <= 0:
        raise ValueError(
            f"temperature must be a finite number > 0, got {temperature!r}. "
            "Use values near 1 (e.g. 0.5 for sharper, 1.5 for more diverse samples)."
        )
    return t


def check_top_p(top_p) -> float:
    """top_p must be a number with 0 < top_p <= 1; returns it as a float."""
    try:
        p = float(top_p)
    except (TypeError, ValueError):
        p = math.nan
    if not 0 < p <= 1:  # also refuses nan
        raise ValueError(
            f"top_p must be a number with 0 < top_p <= 1, got {top_p!r}. "
            "Use 1.0 to keep every level, e.g. 0.9 to drop the unlikely tail."
        )
    return p


def nucleus_probs(logits: torch.Tensor, temperature: float = 1.0, top_p: float = 1.0) -> torch.Tensor:
    """The probabilities of nucleus (top-p) sampling at temperature T, in level order.

    logits: float (B, levels). Takes softmax(logits / T), keeps the smallest set
    of most likely levels whose probabilities sum to at least ``top_p`` (the
    level that crosses top_p is kept, the most likely one always), zeroes the
    others and renormalises. Ties are broken by the order of ``torch.sort``.
    top_p = 1 keeps every level: the result is exactly softmax(logits / T).
    Returns float (B, levels) with the dtype of ``logits``; every row sums to 1.
    """
    top_p = check_top_p(top_p)
    probs = torch.softmax(logits / temperature, dim=-1)  # (B, levels)
    if top_p == 1:
        return probs
    ranked, order = probs.sort(dim=-1, descending=True)  # (B, levels), most likely first
    before = ranked.cumsum(dim=-1) - ranked  # (B, levels): mass of the more likely levels
    keep_ranked = before < top_p  # the crossing level is kept: the mass before it is still short of top_p
    keep = torch.zeros_like(keep_ranked).scatter(-1, order, keep_ranked)  # (B, levels), back in level order
    kept = probs * keep
    return kept / kept.sum(dim=-1, keepdim=True)


def sample_step(
    logits: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None, top_p: float = 1.0
) -> torch.Tensor:
    """Draw one level per row of ``logits`` (B, levels) from softmax(logits / T).

    With top_p < 1 only the nucleus is drawn from: the most likely levels that
    together hold top_p of the probability (``nucleus_probs``). Inverse-CDF
    sampling: one uniform number per image, the first level whose cumulative
    probability exceeds it. Returns long (B,).
    """
    probs = nucleus_probs(logits.double(), temperature, top_p)  # (B, levels)
    cdf = probs.cumsum(dim=-1)  # (B, levels)
    u = torch.rand(logits.shape[0], 1, generator=generator, dtype=torch.float64, device=logits.device)  # (B, 1)
    return (cdf < u).sum(dim=-1).clamp(max=logits.shape[-1] - 1)  # (B,)


def _as_labels(model: AutoregressiveModel, labels, batch: int) -> torch.Tensor | None:
    if labels is None:
        check_labels(model.config, None, batch)
        return None
    if isinstance(labels, int):
        labels = [labels] * batch
    y = torch.as_tensor(labels, dtype=torch.long) if not isinstance(labels, torch.Tensor) else labels
    check_labels(model.config, y, batch)
    return y


def _model_device(model) -> torch.device:
    return next(model.parameters()).device


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
    """
    c = model.config
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}.")
    images = torch.zeros(n, c.channels, c.height, c.width, dtype=torch.long, device=_model_device(model))
    known = torch.zeros_like(images, dtype=torch.bool)
    return complete(
        model, images, known, temperature=temperature, labels=labels, generator=generator, method=method,
        callback=callback, top_p=top_p,
    )  # fmt: skip


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
) -> torch.Tensor:
    """Keep the known sub-pixels of ``images`` and sample all the others in raster order.

    images: long (B, C, H, W); known: bool (B, C, H, W), True where a value is given.
    Returns long (B * n_per_image, C, H, W): the completions of image b are rows
    b * n_per_image ... (b + 1) * n_per_image - 1, and every known value is kept exactly.
    method: "fast" (cached) or "naive" (one full forward pass per sub-pixel); temperature
    and top_p as in ``sample``.
    """
    temperature = check_temperature(temperature)
    top_p = check_top_p(top_p)
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    if not isinstance(n_per_image, int) or n_per_image < 1:
        raise ValueError(f"n_per_image must be a positive int, got {n_per_image!r}.")
    if not isinstance(known, torch.Tensor) or known.dtype != torch.bool:
        raise TypeError("known must be a torch.bool tensor (True where the pixel is given).")
    if isinstance(images, torch.Tensor) and known.shape != images.shape:
        raise ValueError(f"known must have the shape of images {tuple(images.shape)}, got {tuple(known.shape)}.")
    model.check_images(images)
    y = _as_labels(model, labels, images.shape[0])

    x = images.repeat_interleave(n_per_image, dim=0).clone()  # (N, C, H, W)
    known = known.repeat_interleave(n_per_image, dim=0)  # (N, C, H, W)
    y = None if y is None else y.repeat_interleave(n_per_image, dim=0)
    x[~known] = 0  # unknown values must not matter; zero them so nothing can leak

    was_training = model.training
    model.eval()
    try:
        if method == "naive":
            _complete_naive(model, x, known, y, temperature, generator, callback, top_p)
        else:
            from .fast import complete_fast

            complete_fast(model, x, known, y, temperature, generator, callback, top_p)
    finally:
        model.train(was_training)
    return x


def positions(config) -> list[tuple[int, int, int]]:
    """Every sub-pixel (i, j, c) in generation order: raster order, then R -> G -> B."""
    return [(i, j, c) for i in range(config.height) for j in range(config.width) for c in range(config.channels)]


def _complete_naive(model, x, known, y, temperature, generator, callback, top_p=1.0):
    """One full forward pass per unknown sub-pixel: simple and slow. Fills x in place."""
    c = model.config
    step = sample_step if top_p == 1 else partial(sample_step, top_p=top_p)
    for i in range(c.height):
        for j in range(c.width):
            for ch in range(c.channels):
                todo = ~known[:, ch, i, j]  # (N,)
                if not todo.any():
                    continue
                raw = model.head_output(model.features(model.normalise(x), y))  # (N, P, C, H, W): the whole network
                logits = model.logits_from_raw(raw[:, :, ch, i, j])  # (N, levels): the mixture's levels at one place only
                new = step(logits, temperature, generator)  # (N,)
                x[:, ch, i, j] = torch.where(todo, new, x[:, ch, i, j])
        if callback is not None:
            callback(i, x)
