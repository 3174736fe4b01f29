"""Building blocks: the PixelCNN residual block (notebook 02) and the gated block (notebook 04)."""

from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .masks import MaskedConv2d


def gated_activation(x: torch.Tensor) -> torch.Tensor:
    """tanh(a) * sigmoid(b) where a, b are the two halves of the channels.

    x: (B, 2h, H, W) -> (B, h, H, W). With colour, channel k and h + k belong
    to the same colour group when h is a multiple of 3, so the gate keeps the
    R -> G -> B order.
    """
    a, b = x.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


class ResidualBlock(nn.Module):
    """PixelCNN residual block: ReLU, 1x1 (h -> h/2), ReLU, masked kxk type B, ReLU, 1x1 (h/2 -> h), plus the input.

    All convolutions are masked (the 1x1s only by colour group), so the block
    never lets a pixel see its own value or the future. With ``num_classes``
    a learned per-class bias conditions the block. ``dilation`` spreads the kxk taps
    apart (notebook 02): the same weights reach further. x: (B, h, H, W) -> same.
    """

    def __init__(self, hidden: int, kernel_size: int = 3, color_channels: int = 1, num_classes: int = 0,
                 dilation: int = 1):
        super().__init__()
        half = hidden // 2
        self.reduce = MaskedConv2d(hidden, half, 1, "B", color_channels)
        self.conv = MaskedConv2d(half, half, kernel_size, "B", color_channels, dilation=dilation)
        self.expand = MaskedConv2d(half, hidden, 1, "B", color_channels)
        self.class_bias = nn.Embedding(num_classes, half) if num_classes else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        out = self.reduce(F.relu(x))  # (B, h/2, H, W)
        if self.class_bias is not None:
            out = out + self.class_bias(y)[:, :, None, None]
        out = self.conv(F.relu(out))  # (B, h/2, H, W)
        out = self.expand(F.relu(out))  # (B, h, H, W)
        return x + out


class VerticalConv2d(nn.Conv2d):
    """The vertical stack's convolution: a k x k kernel that sees only the rows above (and, later, its own row).

    ``first=True`` (input layer) hides the current row entirely, so the
    vertical stack at row i depends on input rows < i only. Later layers may
    then include their own row of vertical features, which are still strictly
    in the past. Colour groups play no part: every channel of an earlier row
    is already known.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, first: bool = False, **conv_kwargs):
        if kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd, got {kernel_size}.")
        dilation = conv_kwargs.get("dilation", 1)
        conv_kwargs.setdefault("padding", dilation * (kernel_size // 2))
        super().__init__(in_channels, out_channels, kernel_size, **conv_kwargs)
        self.first = first
        centre = kernel_size // 2
        mask = torch.zeros(out_channels, in_channels, kernel_size, kernel_size)
        mask[:, :, : centre if first else centre + 1, :] = 1
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self.weight * self.mask, self.bias)


class GatedBlock(nn.Module):
    """Gated PixelCNN block (van den Oord et al. 2016): a vertical and a horizontal stack.

    vertical:   v' = gate(Vconv(v) + c_v[y])
    horizontal: h' = h + 1x1(gate(Hconv(h) + 1x1(Vconv(v)) + c_h[y]))

    The vertical stack covers the rows above, the horizontal stack the pixels
    to the left in the current row; the vertical -> horizontal link joins them
    without the blind spot of stacked masked 3x3 convolutions. ``c_v``, ``c_h``
    are learned per-class terms (class-conditional models only).
    v, h: (B, hidden, H, W) -> (v', h') of the same shape.
    """

    def __init__(
        self,
        hidden: int,
        kernel_size: int = 3,
        color_channels: int = 1,
        num_classes: int = 0,
        dilation: int = 1,
    ):
        super().__init__()
        self.v_conv = VerticalConv2d(hidden, 2 * hidden, kernel_size, dilation=dilation)
        self.h_conv = MaskedConv2d(hidden, 2 * hidden, (1, kernel_size), "B", color_channels, dilation=dilation)
        # The vertical features are all strictly in the past, so the link needs no colour mask.
        self.v_to_h = nn.Conv2d(2 * hidden, 2 * hidden, 1)
        self.h_out = MaskedConv2d(hidden, hidden, 1, "B", color_channels)
        self.v_class = nn.Embedding(num_classes, 2 * hidden) if num_classes else None
        self.h_class = nn.Embedding(num_classes, 2 * hidden) if num_classes else None

    def forward(self, v: torch.Tensor, h: torch.Tensor, y: torch.Tensor | None = None):
        v_feat = self.v_conv(v)  # (B, 2h, H, W)
        h_feat = self.h_conv(h) + self.v_to_h(v_feat)  # (B, 2h, H, W)
        if self.v_class is not None:
            v_feat = v_feat + self.v_class(y)[:, :, None, None]
            h_feat = h_feat + self.h_class(y)[:, :, None, None]
        v_out = gated_activation(v_feat)  # (B, h, H, W)
        h_out = h + self.h_out(gated_activation(h_feat))  # (B, h, H, W)
        return v_out, h_out


def vertical_conv2d(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, first: bool) -> torch.Tensor:
    """The vertical stack's convolution as a function (notebook 04's exercise).

    x (B, in, H, W); weight (out, in, k, k), k odd; bias (out,) or None. Returns (B, out, H, W): output row i
    sees the input rows above it (``first=True``) or the rows above and its own row in full (``first=False``).
    """
    k = weight.shape[-1]
    mask = torch.zeros_like(weight)
    mask[:, :, : k // 2 if first else k // 2 + 1, :] = 1
    return F.conv2d(x, weight * mask, bias, padding=k // 2)
