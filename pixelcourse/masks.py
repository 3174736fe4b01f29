"""Causal masks and the masked convolution (notebook 01, colour in notebook 05).

Pixels are generated in raster order (row by row, left to right) and, inside a
colour pixel, in the PixelRNN order R -> G -> B. A masked convolution zeroes the
kernel weights that would let an output see the present or the future.

Colour: every layer's channels are split into ``color_channels`` groups by
``channel % color_channels`` (group 0 = R, 1 = G, 2 = B). At the centre pixel an
output of group g may see input groups < g (mask "A") or <= g (mask "B").
Using the channel index modulo the group count keeps the order through the
whole network: the two halves of a gated activation pair channels of the same
group, and the logits reshape to (levels, C) with channel c in group c.
"""

from __future__ import annotations

import torch
from torch import nn


def channel_groups(num_channels: int, color_channels: int) -> torch.Tensor:
    """Group (0 = R, 1 = G, 2 = B) of each of ``num_channels`` channels: ``c % color_channels``."""
    return torch.arange(num_channels) % color_channels


def _check_mask_args(kernel_size, mask_type, color_channels):
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
    if kh % 2 == 0 or kw % 2 == 0 or kh < 1 or kw < 1:
        raise ValueError(f"kernel_size must be odd so that it has a centre pixel, got {kernel_size}.")
    if mask_type not in ("A", "B"):
        raise ValueError(f'mask_type must be "A" (centre excluded) or "B" (centre included), got {mask_type!r}.')
    if color_channels not in (1, 3):
        raise ValueError(f"color_channels must be 1 (grey) or 3 (RGB), got {color_channels}.")
    return kh, kw


def make_mask(
    in_channels: int,
    out_channels: int,
    kernel_size: int | tuple[int, int],
    mask_type: str = "A",
    color_channels: int = 1,
) -> torch.Tensor:
    """The causal mask of a masked convolution.

    Args:
        in_channels, out_channels: channels of the convolution.
        kernel_size: odd int or (height, width).
        mask_type: "A" hides the centre pixel's own value (first layer),
            "B" shows it (every later layer, whose centre holds features of
            the past only).
        color_channels: 1 for grey images, 3 for RGB with order R -> G -> B.

    Returns:
        float tensor (out_channels, in_channels, kh, kw) of 0s and 1s.
    """
    kh, kw = _check_mask_args(kernel_size, mask_type, color_channels)
    if in_channels < color_channels or out_channels < color_channels:
        raise ValueError(
            f"With color_channels={color_channels} every layer needs at least {color_channels} "
            f"channels (one per colour group); got in={in_channels}, out={out_channels}."
        )
    ci, cj = kh // 2, kw // 2
    mask = torch.zeros(out_channels, in_channels, kh, kw)
    mask[:, :, :ci, :] = 1  # every row above
    mask[:, :, ci, :cj] = 1  # the centre row, left of the centre
    g_out = channel_groups(out_channels, color_channels)[:, None]  # (out, 1)
    g_in = channel_groups(in_channels, color_channels)[None, :]  # (1, in)
    centre = g_in < g_out if mask_type == "A" else g_in <= g_out
    mask[:, :, ci, cj] = centre.float()
    return mask


class MaskedConv2d(nn.Conv2d):
    """A convolution that only sees pixels (and colour channels) earlier in raster order.

    ``MaskedConv2d(in_channels, out_channels, kernel_size, mask_type="A"|"B",
    color_channels=1|3, **conv_kwargs)``. Padding defaults to "same" so the
    output has the input's height and width. Input (B, in, H, W), output
    (B, out, H, W).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        mask_type: str = "A",
        color_channels: int = 1,
        **conv_kwargs,
    ):
        kh, kw = _check_mask_args(kernel_size, mask_type, color_channels)
        dilation = conv_kwargs.get("dilation", 1)
        conv_kwargs.setdefault("padding", (dilation * (kh // 2), dilation * (kw // 2)))
        super().__init__(in_channels, out_channels, (kh, kw), **conv_kwargs)
        self.mask_type = mask_type
        self.color_channels = color_channels
        # The mask is derived from the arguments, so checkpoints need not store it.
        mask = make_mask(in_channels, out_channels, (kh, kw), mask_type, color_channels)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Masking the weight (not the output) keeps the gradient of hidden weights at zero too.
        return self._conv_forward(x, self.weight * self.mask, self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", mask_type={self.mask_type}, color_channels={self.color_channels}"


def masked_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, mask_type: str) -> torch.Tensor:
    """The forward pass of a grey masked convolution as a function (notebook 01's exercise).

    x (B, in, H, W); weight (out, in, kh, kw), kh and kw odd; bias (out,) or None. Returns
    (B, out, H, W): the convolution with ``weight * mask`` and "same" padding.
    """
    kh, kw = weight.shape[-2:]
    mask = make_mask(weight.shape[1], weight.shape[0], (kh, kw), mask_type).to(weight)
    return torch.nn.functional.conv2d(x, weight * mask, bias, padding=(kh // 2, kw // 2))
