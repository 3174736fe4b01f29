"""Checks of notebook 08: looking inside the model."""

from __future__ import annotations


import torch
import torch.nn.functional as F

from .ch03_training import _logits_example
from .core import LN2, Wrong, register, _close, _shape, _tensor


# --------------------------------------------------------------------------- 08 per-pixel NLL


@register("check_nll_map", "Per-pixel NLL map", "08", example=_logits_example)
def check_nll_map(nll_map):
    for shape, levels in (((2, 1, 3, 4), 5), ((2, 3, 2, 2), 256)):
        logits = torch.randn(shape[0], levels, *shape[1:]) * 2  # (B, levels, C, H, W)
        x = torch.randint(0, levels, shape)
        got = _tensor(nll_map(logits, x), "nll_map(logits, x)")
        _shape(got, shape, f"nll_map(logits, x) for x of shape {shape}")
        want = F.cross_entropy(logits, x, reduction="none") / LN2  # (B, C, H, W)
        if _close(got, want, 1e-4):
            continue
        if _close(got, want * LN2, 1e-4):
            raise Wrong("those are nats: divide by ln 2 (math.log(2)) to get bits")
        if _close(got, -want, 1e-4) or _close(got, -want * LN2, 1e-4):
            raise Wrong("the sign is flipped: the NLL is minus the log-probability, so it is positive")
        raise Wrong("expected -log2 p(x[b, c, i, j]) at every sub-pixel, from log_softmax over the levels (dim 1)")
