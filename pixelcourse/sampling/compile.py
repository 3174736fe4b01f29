"""Compile the fast sampler's steps for this machine: ``python -m pixelcourse.sampling.compile``.

numba compiles a step on its first use and keeps it on disk, once for each model shape it is
called with (a Gated PixelCNN's number of blocks is part of it). ``tools/setup.sh`` runs this once,
so that the first sample of every preset in a notebook loads its steps instead of compiling them.
Sampling works without it, a second or two slower the first time. Loading still takes a process
about half a second (importing numba, mostly): ``warm_up(model)`` pays it before a user waits, and
the drawing pad and the app call it when they start.
"""

from __future__ import annotations

import time

import torch

from ..models import PRESETS, build_model
from .caches import compilable
from .generate import complete, sample


def warm_up(model) -> None:
    """Load (or compile) ``model``'s compiled steps now, so that its first sample does not wait for them.

    Completes one image whose last row is unknown: the other rows take the row-at-once path, the
    last one every step and the head. Does nothing where the steps are not compiled.
    """
    if not compilable(model):
        return
    c = model.config
    x = torch.zeros(1, c.channels, c.height, c.width, dtype=torch.long)
    known = torch.ones_like(x, dtype=torch.bool)
    known[:, :, -1] = False
    labels = torch.zeros(1, dtype=torch.long) if c.num_classes else None
    complete(model, x, known, labels=labels, generator=torch.Generator().manual_seed(0))


def compile_steps(presets=tuple(PRESETS)) -> dict[str, float]:
    """Sample one 2x2 image of each preset's architecture (untrained), which compiles its steps; seconds per preset."""
    seconds = {}
    for preset in presets:
        model = build_model(preset, height=2, width=2).eval()
        if not compilable(model):
            continue
        labels = torch.zeros(1, dtype=torch.long) if model.config.num_classes else None
        start = time.perf_counter()
        sample(model, 1, labels=labels, generator=torch.Generator().manual_seed(0))
        seconds[preset] = time.perf_counter() - start
    return seconds


def main() -> None:
    start = time.perf_counter()
    seconds = compile_steps()
    if not seconds:
        print("The fast sampler runs torch's operations here (numba is missing, or PIXELCOURSE_COMPILED=0).")
        return
    each = ", ".join(f"{preset} {s:.1f} s" for preset, s in seconds.items())
    print(f"The fast sampler's compiled steps are ready in {time.perf_counter() - start:.1f} s ({each}); numba keeps them on disk.")


if __name__ == "__main__":
    main()
