# Your training_step, from notebook 03: saved by its %%mine cell. Edit it in the notebook and run the cell again.
import math

import torch
import torch.nn.functional as F
from torch import nn

import pixelcourse
from pixelcourse.mine import use


def training_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor,
                  y: torch.Tensor | None = None) -> float:
    """One optimizer step on the loss in bits per dimension.

    Args:
        model: maps x (and y) to logits, float (B, levels, C, H, W).
        optimizer: an optimizer over model.parameters() (Adam, SGD, ...).
        x: long tensor (B, C, H, W), a batch of images as levels in [0, levels).
        y: long tensor (B,) of class labels for a class-conditional model, None otherwise.

    Returns:
        the loss of the batch before the update, as a Python float: -log2 p(x[b, c, i, j])
        averaged over all B * C * H * W sub-pixels (bits/dim).
    """
    ### BEGIN SOLUTION
    logits = model(x, y)  # (B, levels, C, H, W)
    loss = F.cross_entropy(logits, x) / math.log(2)  # mean over every sub-pixel, in bits
    optimizer.zero_grad()  # gradients add up in .grad: clear the last step's
    loss.backward()
    optimizer.step()
    return loss.item()
    ### END SOLUTION
