"""The naive sampler (notebook 06): one full forward pass per sub-pixel, the teaching version and the test oracle."""

from __future__ import annotations

from functools import partial
from typing import Callable

import torch

from ..models import AutoregressiveModel
from .step import sample_step


def positions(config) -> list[tuple[int, int, int]]:
    """Every sub-pixel (i, j, c) in generation order: raster order, then R -> G -> B."""
    return [(i, j, c) for i in range(config.height) for j in range(config.width) for c in range(config.channels)]


def complete_naive(
    model: AutoregressiveModel,
    x: torch.Tensor,
    known: torch.Tensor,
    y: torch.Tensor | None,
    temperature: float,
    generator: torch.Generator | None = None,
    callback: Callable[[int, torch.Tensor], None] | None = None,
    top_p: float = 1.0,
    draw: Callable = sample_step,
) -> None:
    """Fill the unknown sub-pixels of ``x`` in place, one full forward pass per sub-pixel: simple and slow.

    x: long (N, C, H, W), unknown entries zero; known: bool (N, C, H, W); y: long (N,)
    labels or None. Each unknown sub-pixel, in raster then colour order, gets one
    ``draw(logits, temperature, generator)`` for the whole batch (a sub-pixel that every
    image knows is skipped). callback(row, x) runs after every finished row.
    """
    c = model.config
    step = draw if top_p == 1 else partial(draw, top_p=top_p)
    for i in range(c.height):
        for j in range(c.width):
            for ch in range(c.channels):
                todo = ~known[:, ch, i, j]  # (N,)
                if not todo.any():
                    continue
                raw = model.head_output(model.features(model.normalise(x), y))  # (N, P, C, H, W): the whole network
                logits = model.step_logits(raw[:, :, ch, i, j])  # (N, levels): the mixture's levels at one place only
                new = step(logits, temperature, generator)  # (N,)
                x[:, ch, i, j] = torch.where(todo, new, x[:, ch, i, j])
        if callback is not None:
            callback(i, x)
