"""Answers for the checks of notebook 04: a right one and wrong ones with the words their reason must contain."""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

import pixelcourse
import pixelcourse.masks
from pixelcourse.layers import VerticalConv2d


class StubGatedBlock(nn.Module):
    def __init__(self, hidden, kernel_size=3):
        super().__init__()
        raise NotImplementedError


def gated_block(v_conv: str = "vertical", h_conv: str = "B", link: bool = True, gate: str = "right",
                residual: bool = True, link_from_h: bool = False):
    """A gated block with one of the usual mistakes (the defaults give the right block)."""

    def gated(x):
        a, b = (x[:, 0::2], x[:, 1::2]) if gate == "alternate" else x.chunk(2, dim=1)
        if gate == "relu":
            return torch.relu(a) * torch.sigmoid(b)
        return torch.sigmoid(a) * torch.tanh(b) if gate == "swapped" else torch.tanh(a) * torch.sigmoid(b)

    class Block(nn.Module):
        def __init__(self, hidden, kernel_size=3):
            super().__init__()
            k = kernel_size
            self.v_conv = {
                "vertical": lambda: VerticalConv2d(hidden, 2 * hidden, k),
                "first": lambda: VerticalConv2d(hidden, 2 * hidden, k, first=True),
                "masked B": lambda: pixelcourse.MaskedConv2d(hidden, 2 * hidden, k, "B"),
                "plain": lambda: nn.Conv2d(hidden, 2 * hidden, k, padding=k // 2),
            }[v_conv]()
            if h_conv == "plain":
                self.h_conv = nn.Conv2d(hidden, 2 * hidden, (1, k), padding=(0, k // 2))
            else:
                self.h_conv = pixelcourse.MaskedConv2d(hidden, 2 * hidden, (1, k), h_conv)
            self.v_to_h = nn.Conv2d(2 * hidden, 2 * hidden, 1)
            self.h_out = pixelcourse.MaskedConv2d(hidden, hidden, 1, "B")

        def forward(self, v, h):
            v_feat = self.v_conv(v)  # (B, 2h, H, W)
            h_feat = self.h_conv(h) + (self.v_to_h(v_feat) if link else 0)  # (B, 2h, H, W)
            if link_from_h:  # the link the wrong way round: horizontal into vertical
                v_feat = v_feat + self.v_to_h(h_feat)
            update = self.h_out(gated(h_feat))
            return gated(v_feat), h + update if residual else update

    return Block


class WithoutLinkLayer(nn.Module):
    def __init__(self, hidden, kernel_size=3):
        super().__init__()
        self.v_conv = VerticalConv2d(hidden, 2 * hidden, kernel_size)
        self.h_conv = pixelcourse.MaskedConv2d(hidden, 2 * hidden, (1, kernel_size), "B")
        self.h_out = pixelcourse.MaskedConv2d(hidden, hidden, 1, "B")

    def forward(self, v, h):
        return v, h


class WrongShapes(gated_block()):
    def __init__(self, hidden, kernel_size=3):
        super().__init__(hidden, kernel_size)
        self.v_to_h = nn.Conv2d(hidden, hidden, 1)


# --------------------------------------------------------------------------- the vertical stack's convolution


def vertical(kind: str = "right"):
    """vertical_conv2d with one mistake switched on."""

    def fn(x, weight, bias, first):
        k = weight.shape[-1]
        if kind == "causal mask":  # notebook 01's mask instead of the vertical one
            return pixelcourse.masks.masked_conv2d(x, weight, bias, "A" if first else "B")
        if kind == "in place":
            weight[:, :, k // 2 + (0 if first else 1) :] = 0
            return F.conv2d(x, weight, bias, padding=k // 2)
        mask = torch.zeros_like(weight)
        mask[:, :, : k // 2 + (0 if first and kind != "own row always" else 1)] = 1
        if kind == "unmasked":
            mask[:] = 1
        if kind == "left half of own row" and not first:
            mask[:, :, k // 2, k // 2 + 1 :] = 0
        return F.conv2d(x, weight * mask, None if kind == "no bias" else bias,
                        padding=0 if kind == "no padding" else k // 2)

    return fn


# --------------------------------------------------------------------------- the Gated PixelCNN


def gated_pixelcnn(head_reads: str = "h", h_first: str = "A", scale: bool = True, layout: str = "right"):
    """A Gated PixelCNN assembled as notebook 04 asks, with one mistake switched on."""

    class Model(nn.Module):
        def __init__(self, config):
            super().__init__()
            c = self.config = config
            self.v_in = pixelcourse.layers.VerticalConv2d(1, c.hidden, c.input_kernel, first=True)
            self.h_in = pixelcourse.MaskedConv2d(1, c.hidden, (1, c.input_kernel), h_first)
            self.blocks = nn.ModuleList(pixelcourse.GatedBlock(c.hidden, c.kernel_size) for _ in range(c.layers))
            self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(c.hidden, c.hidden, 1), nn.ReLU(), nn.Conv2d(c.hidden, c.levels, 1))

        def forward(self, x, y=None):
            c = self.config
            xf = x.float() * 2 / (c.levels - 1) - 1 if scale else x.float()
            v, h = self.v_in(xf), self.h_in(xf)
            for block in self.blocks:
                v, h = block(v, h)
            out = self.head(h if head_reads == "h" else v)
            return out.unsqueeze(2) if layout == "right" else out

    return Model


class StubGatedPixelCNN(nn.Module):
    def __init__(self, config):
        super().__init__()
        raise NotImplementedError


# check name -> (right answer, [(wrong answer, words the reason must contain), ...])
CASES = {
    "check_gated_block": (
        gated_block(),
        [
            (gated_block(gate="swapped"), "halves are swapped"),
            (gated_block(gate="alternate"), "not alternate channels"),
            (gated_block(residual=False), "missing residual"),
            (gated_block(link=False), "no link from the vertical to the horizontal stack"),
            (gated_block(v_conv="plain"), "the vertical stack sees its own row"),
            (gated_block(link_from_h=True), "the vertical stack sees its own row"),
            (gated_block(h_conv="plain"), "the horizontal stack sees the future"),
            (gated_block(h_conv="A"), "mask type"),
            (gated_block(v_conv="masked B"), "a blind spot"),
            (gated_block(v_conv="first"), "a blind spot"),
            (gated_block(gate="relu"), "differ from pixelcourse.GatedBlock"),
            (WithoutLinkLayer, "v_to_h"),
            (WrongShapes, "v_to_h must have a weight of shape"),
            (lambda hidden, kernel_size=3: nn.Identity(), "attributes"),
        ],
    ),
    "check_vertical_conv": (
        pixelcourse.layers.vertical_conv2d,
        [
            (vertical("causal mask"), "hide the whole centre row"),
            (vertical("own row always"), "depends on row i itself"),
            (vertical("unmasked"), "rows below"),
            (vertical("left half of own row"), "its own row in full"),
            (vertical("no bias"), "bias is missing"),
            (vertical("in place"), "in place"),
            (vertical("no padding"), "pad by k // 2"),
        ],
    ),
    "check_gated_pixelcnn": (
        gated_pixelcnn(),
        [
            (gated_pixelcnn(head_reads="v"), "own row"),
            (gated_pixelcnn(h_first="B"), "mask A"),
            (gated_pixelcnn(scale=False), "[-1, 1]"),
            (gated_pixelcnn(layout="no channel"), "channel dimension"),
        ],
    ),
}

ALSO_RIGHT = {"check_gated_pixelcnn": [pixelcourse.GatedPixelCNN]}

# check name -> a stub answer, where the exercise is a class (the default stub is a function)
STUBS = {"check_gated_block": StubGatedBlock, "check_gated_pixelcnn": StubGatedPixelCNN}
