# Your MyGatedPixelCNN, from notebook 04: saved by its %%mine cell. Edit it in the notebook and run the cell again.
import math

import torch
import torch.nn.functional as F
from torch import nn

import pixelcourse
from pixelcourse.mine import use

MyGatedBlock = use("MyGatedBlock", quiet=True)  # yours, or the reference if yours is not ready
MyMaskedConv2d = use("MyMaskedConv2d", quiet=True)  # yours, or the reference if yours is not ready
MyVerticalConv2d = use("MyVerticalConv2d", quiet=True)  # yours, or the reference if yours is not ready

class MyGatedPixelCNN(nn.Module):
    """Your Gated PixelCNN for grey images: two input layers, your gated blocks and a head on the horizontal stack.

    Args:
        config: a pixelcourse.PixelCNNConfig (channels 1); reads levels, hidden, layers, input_kernel, kernel_size.

    Attributes: config, v_in, h_in, blocks (an nn.ModuleList), head (an nn.Sequential): see the contract above.

    forward(x, y=None): x long (B, 1, H, W) levels -> float logits (B, levels, 1, H, W); y is ignored.
    """

    def __init__(self, config: pixelcourse.PixelCNNConfig):
        super().__init__()
        ### BEGIN SOLUTION
        c = self.config = config
        self.v_in = MyVerticalConv2d(1, c.hidden, c.input_kernel, first=True)
        self.h_in = MyMaskedConv2d(1, c.hidden, (1, c.input_kernel), "A")
        self.blocks = nn.ModuleList(MyGatedBlock(c.hidden, c.kernel_size) for _ in range(c.layers))
        self.head = nn.Sequential(
            nn.ReLU(), MyMaskedConv2d(c.hidden, c.hidden, 1, "B"), nn.ReLU(), MyMaskedConv2d(c.hidden, c.levels, 1, "B")
        )
        ### END SOLUTION

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        ### BEGIN SOLUTION
        xf = x.float() * (2.0 / (self.config.levels - 1)) - 1.0  # (B, 1, H, W) in [-1, 1]
        v, h = self.v_in(xf), self.h_in(xf)  # (B, hidden, H, W) each
        for block in self.blocks:
            v, h = block(v, h)
        return self.head(h).unsqueeze(2)  # (B, levels, 1, H, W)
        ### END SOLUTION
