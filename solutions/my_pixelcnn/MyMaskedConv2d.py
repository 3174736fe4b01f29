# Your MyMaskedConv2d, from notebook 02: saved by its %%mine cell. Edit it in the notebook and run the cell again.
import math

import torch
import torch.nn.functional as F
from torch import nn

import pixelcourse
from pixelcourse.mine import use

masked_conv2d = use("masked_conv2d", quiet=True)  # yours, or the reference if yours is not ready

class MyMaskedConv2d(nn.Conv2d):
    """A masked convolution layer for grey images whose forward pass is your masked_conv2d from notebook 01.

    MyMaskedConv2d(in_channels, out_channels, kernel_size, mask_type): kernel_size odd, an int or (kh, kw).
    forward(x): x float (B, in_channels, H, W) -> (B, out_channels, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, mask_type: str):
        super().__init__(in_channels, out_channels, kernel_size)
        self.mask_type = mask_type

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return masked_conv2d(x, self.weight, self.bias, self.mask_type)
