"""Checks of notebook 04: the gated block."""

from __future__ import annotations


import torch

from .core import Wrong, register, _close, _shape, _tensor
from ..layers import gated_activation


# --------------------------------------------------------------------------- 04 the gated activation


@register("check_gated_activation", "The gated activation", "04", example=lambda fn: fn(torch.zeros(1, 4, 2, 2)))
def check_gated_activation(my_gated_activation):
    x = torch.randn(2, 6, 3, 4) * 2  # (B, 2h, H, W) with h = 3
    out = _tensor(my_gated_activation(x), "my_gated_activation(x)")
    _shape(out, (2, 3, 3, 4), "the output for x of shape (2, 6, 3, 4)")
    want = gated_activation(x)
    if _close(out, want):
        return
    a, b = x[:, :3], x[:, 3:]
    if _close(out, torch.sigmoid(a) * torch.tanh(b)):
        raise Wrong("the halves are swapped: tanh goes on the first half of the channels, sigmoid on the second")
    if _close(out, torch.tanh(x[:, 0::2]) * torch.sigmoid(x[:, 1::2])):
        raise Wrong("the first h channels are a and the last h are b (use x.chunk(2, dim=1)), not alternate channels")
    raise Wrong("expected tanh(a) * sigmoid(b) with a, b the first and second half of the channels")
