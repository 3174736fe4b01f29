"""Answers for the checks of notebook 02: a right one and wrong ones with the words their reason must contain."""

from __future__ import annotations


import torch.nn.functional as F
from torch import nn

import pixelcourse

class StubBlock(nn.Module):
    def __init__(self, hidden, kernel_size=3):
        super().__init__()
        raise NotImplementedError


def residual_block(skip: bool = True, conv_type: str = "B"):
    class Block(nn.Module):
        def __init__(self, hidden, kernel_size=3):
            super().__init__()
            self.reduce = pixelcourse.MaskedConv2d(hidden, hidden // 2, 1, "B")
            self.conv = pixelcourse.MaskedConv2d(hidden // 2, hidden // 2, kernel_size, conv_type)
            self.expand = pixelcourse.MaskedConv2d(hidden // 2, hidden, 1, "B")

        def forward(self, x):
            out = self.expand(F.relu(self.conv(F.relu(self.reduce(F.relu(x))))))
            return x + out if skip else out

    return Block


def pixelcnn(first: str = "A", relu_before_head: bool = True, relu_inside_head: bool = True, layout: str = "right",
             scale: bool = True, every_block: bool = True):
    """A PixelCNN assembled as notebook 02 asks, with one mistake switched on."""

    class Model(nn.Module):
        def __init__(self, config):
            super().__init__()
            c = self.config = config
            self.input_conv = pixelcourse.MaskedConv2d(1, c.hidden, c.input_kernel, first)
            self.blocks = nn.ModuleList(pixelcourse.ResidualBlock(c.hidden, c.kernel_size) for _ in range(c.layers))
            self.head = nn.Sequential(nn.ReLU() if relu_before_head else nn.Identity(), nn.Conv2d(c.hidden, c.hidden, 1),
                                      nn.ReLU() if relu_inside_head else nn.Identity(), nn.Conv2d(c.hidden, c.levels, 1))

        def forward(self, x, y=None):
            c = self.config
            h = self.input_conv(x.float() * 2 / (c.levels - 1) - 1 if scale else x.float())
            for block in self.blocks if every_block else self.blocks[:1]:
                h = block(h)
            out = self.head(h)  # (B, levels, H, W)
            return {"right": out.unsqueeze(2), "no channel": out, "levels second": out.unsqueeze(1),
                    "probabilities": out.softmax(1).unsqueeze(2)}[layout]

    return Model


class StubPixelCNN(nn.Module):
    def __init__(self, config):
        super().__init__()
        raise NotImplementedError


class UnmaskedBlock(residual_block()):
    def __init__(self, hidden, kernel_size=3):
        super().__init__(hidden, kernel_size)
        self.conv = nn.Conv2d(hidden // 2, hidden // 2, kernel_size, padding=kernel_size // 2)


# check name -> (right answer, [(wrong answer, words the reason must contain), ...])
CASES = {
    "check_residual_block": (
        residual_block(),
        [
            (residual_block(skip=False), "skip connection"),
            (residual_block(conv_type="A"), "mask type B"),
            (UnmaskedBlock, "MaskedConv2d"),
            (lambda hidden, kernel_size=3: nn.Identity(), "attributes"),
        ],
    ),
    "check_pixelcnn": (
        pixelcnn(),
        [
            (pixelcnn(first="B"), "mask A"),
            (pixelcnn(relu_before_head=False), "ReLU before it"),
            (pixelcnn(relu_inside_head=False), "between the head's two"),
            (pixelcnn(layout="no channel"), "channel dimension"),
            (pixelcnn(layout="levels second"), "levels come first"),
            (pixelcnn(layout="probabilities"), "probabilities"),
            (pixelcnn(scale=False), "[-1, 1]"),
            (pixelcnn(every_block=False), "all the blocks"),
        ],
    ),
}

# The package's own PixelCNN keeps the same contract.
ALSO_RIGHT = {"check_pixelcnn": [pixelcourse.PixelCNN]}

# check name -> a stub answer, where the exercise is a class (the default stub is a function)
STUBS = {"check_residual_block": StubBlock, "check_pixelcnn": StubPixelCNN}
