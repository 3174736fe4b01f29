"""Checks of notebook 03: training."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .core import LN2, Wrong, register, _number


# --------------------------------------------------------------------------- 03 bits per dimension


def _logits_example(fn):
    """Call an exercise that takes (logits, x) on a tiny input (used to tell "not implemented" apart)."""
    return fn(torch.zeros(1, 4, 1, 2, 2), torch.zeros(1, 1, 2, 2, dtype=torch.long))


@register("check_bits_per_dim", "Bits per dimension", "03", example=_logits_example)
def check_bits_per_dim(batch_bits_per_dim):
    for shape, levels in (((2, 1, 3, 3), 4), ((3, 3, 2, 2), 256)):
        logits = torch.randn(shape[0], levels, *shape[1:]) * 2  # (B, levels, C, H, W)
        x = torch.randint(0, levels, shape)
        got = _number(batch_bits_per_dim(logits, x), "batch_bits_per_dim(logits, x)")
        nats = F.cross_entropy(logits, x).item()
        want = nats / LN2
        if math.isclose(got, want, rel_tol=1e-4):
            continue
        dims = x.numel()
        per_image = dims // shape[0]
        if math.isclose(got, nats, rel_tol=1e-4):
            raise Wrong("that is nats per dimension: divide by ln 2 (math.log(2)) to get bits")
        if math.isclose(got, want * dims, rel_tol=1e-4) or math.isclose(got, nats * dims, rel_tol=1e-4):
            raise Wrong("that is the sum over the batch: average over all B * C * H * W sub-pixels")
        if math.isclose(got, want * per_image, rel_tol=1e-4) or math.isclose(got, nats * per_image, rel_tol=1e-4):
            raise Wrong("that is per image: divide by the C * H * W sub-pixels of an image too")
        if math.isclose(got, -want, rel_tol=1e-4):
            raise Wrong("the sign is flipped: the loss is the negative log-likelihood, a positive number")
        raise Wrong(f"expected {want:.4f} bits/dim for a test batch, got {got:.4f}")
