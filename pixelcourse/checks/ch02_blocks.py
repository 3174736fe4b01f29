"""Checks of notebook 02: the residual block."""

from __future__ import annotations


import torch
from torch import nn

from .core import Wrong, register, _close, _shape, _tensor
from ..layers import ResidualBlock


# --------------------------------------------------------------------------- 02 the residual block


def _check_masked_layer(layer, name: str, shape: tuple, kind: str) -> None:
    if not isinstance(layer, nn.Conv2d):
        raise Wrong(f"{name} must be a convolution (MaskedConv2d), got {type(layer).__name__}")
    if tuple(layer.weight.shape) != shape:
        raise Wrong(f"{name} must have a weight of shape (out, in, kh, kw) = {shape}, got {tuple(layer.weight.shape)}")
    if type(layer) is nn.Conv2d:
        if shape[-1] > 1:
            raise Wrong(f"{name} must be a masked convolution of type B (MaskedConv2d): a plain Conv2d lets a "
                        "pixel see the future")
        return
    if shape[-1] > 1 and getattr(layer, "mask_type", kind) != kind:
        raise Wrong(f"{name} must use mask type {kind}, got type {layer.mask_type} (type A is for the first layer only)")


def _residual_example(cls):
    return cls(8)


@register("check_residual_block", "The residual block", "02", example=_residual_example)
def check_residual_block(block_class):
    for hidden, k in ((8, 3), (6, 5)):  # the two arguments the contract names, varied
        _check_block(block_class, hidden, k)


def _check_block(block_class, hidden: int, k: int) -> None:
    block = block_class(hidden, k)
    if not isinstance(block, nn.Module):
        raise Wrong(f"the block must be an nn.Module, got {type(block).__name__}")
    missing = [n for n in ("reduce", "conv", "expand") if not hasattr(block, n)]
    if missing:
        raise Wrong(f"the block needs the attributes reduce, conv and expand; missing {', '.join(missing)}")
    half = hidden // 2
    _check_masked_layer(block.reduce, "reduce", (half, hidden, 1, 1), "B")
    _check_masked_layer(block.conv, "conv", (half, half, k, k), "B")
    _check_masked_layer(block.expand, "expand", (hidden, half, 1, 1), "B")

    reference = ResidualBlock(hidden, k)
    with torch.no_grad():
        for name in ("reduce", "conv", "expand"):
            mine, ref = getattr(block, name), getattr(reference, name)
            ref.weight.copy_(mine.weight)
            if mine.bias is not None:
                ref.bias.copy_(mine.bias)
            else:
                ref.bias.zero_()
    x = torch.randn(2, hidden, 6, 6, requires_grad=True)
    out = _tensor(block(x), "block(x)")
    if not out.is_floating_point():
        raise Wrong(f"block(x) must return a float tensor, got {out.dtype}")
    _shape(out, (2, hidden, 6, 6), f"block(x) for x of shape (2, {hidden}, 6, 6)")
    # Causality: output (3, 3) may depend on input (3, 3) itself (the skip) and on the past only.
    out[:, :, 3, 3].pow(2).sum().backward()
    future = x.grad[:, :, 4:].abs().sum() + x.grad[:, :, 3, 4:].abs().sum()
    if future > 0:
        raise Wrong(f"with kernel_size={k} the output at a pixel depends on later pixels: conv must be a masked "
                    "convolution of type B")
    with torch.no_grad():
        want = reference(x)
        got = block(x)
        if _close(got, want, 1e-4):
            return
        if _close(got + x, want, 1e-4):
            raise Wrong("the skip connection is missing: return x + expand(...)")
        raise Wrong("the output differs from x + expand(relu(conv(relu(reduce(relu(x)))))): check the ReLUs and their order")
