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
}

# check name -> a stub answer, where the exercise is a class (the default stub is a function)
STUBS = {"check_residual_block": StubBlock}
