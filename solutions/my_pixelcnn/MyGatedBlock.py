# Your MyGatedBlock, from notebook 04: saved by its %%mine cell. Edit it in the notebook and run the cell again.
import math

import torch
import torch.nn.functional as F
from torch import nn

import pixelcourse
from pixelcourse.mine import use

MyMaskedConv2d = use("MyMaskedConv2d", quiet=True)  # yours, or the reference if yours is not ready
MyVerticalConv2d = use("MyVerticalConv2d", quiet=True)  # yours, or the reference if yours is not ready

class MyGatedBlock(nn.Module):
    """One gated block, built from your MyVerticalConv2d and MyMaskedConv2d.

    Args:
        hidden: channels of both stacks' features.
        kernel_size: odd k; the vertical convolution is k x k, the horizontal one 1 x k.

    Attributes: v_conv, h_conv, v_to_h, h_out: the four convolutions of the contract above.

    forward(v, h): v, h float (B, hidden, H, W), the features of the vertical and of the horizontal stack;
        returns the pair (v_out, h_out), float (B, hidden, H, W) each.
    """

    def __init__(self, hidden: int, kernel_size: int = 3):
        super().__init__()
        ### BEGIN SOLUTION
        self.v_conv = MyVerticalConv2d(hidden, 2 * hidden, kernel_size)
        self.h_conv = MyMaskedConv2d(hidden, 2 * hidden, (1, kernel_size), "B")
        self.v_to_h = nn.Conv2d(2 * hidden, 2 * hidden, 1)
        self.h_out = MyMaskedConv2d(hidden, hidden, 1, "B")
        ### END SOLUTION

    def forward(self, v: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        ### BEGIN SOLUTION
        v_feat = self.v_conv(v)  # (B, 2 * hidden, H, W): rows above only
        h_feat = self.h_conv(h) + self.v_to_h(v_feat)  # (B, 2 * hidden, H, W): the row to the left, plus the link
        v_a, v_b = v_feat.chunk(2, dim=1)  # (B, hidden, H, W) each: content and gate
        h_a, h_b = h_feat.chunk(2, dim=1)  # (B, hidden, H, W) each
        v_out = torch.tanh(v_a) * torch.sigmoid(v_b)
        h_out = h + self.h_out(torch.tanh(h_a) * torch.sigmoid(h_b))
        return v_out, h_out
        ### END SOLUTION
