"""Quantisation: 8-bit values to the integer *levels* a PixelCNN predicts, and back.

PixelCNN treats every sub-pixel as a category, so its inputs and targets are long
tensors of levels in ``[0, levels)``: ``level = (value * levels) // 256`` for the
original 8-bit ``value``. ``levels=256`` keeps the values as they are, ``levels=2``
binarises at 128. The datasets, the models' outputs and the drawing widget all use
these two maps.
"""

from __future__ import annotations

import numpy as np
import torch


def check_levels(levels: int) -> int:
    """``levels`` as an int if it is an int from 2 to 256, else a ValueError saying so."""
    if isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or not 2 <= levels <= 256:
        raise ValueError(f"levels must be an int from 2 to 256, got {levels!r}")
    return int(levels)


def quantise(values: torch.Tensor, levels: int) -> torch.Tensor:
    """Map 8-bit values to ``levels`` equal bins: ``level = (value * levels) // 256``.

    Args:
        values: integer tensor of any shape with values in 0..255 (usually uint8).
        levels: number of bins, an int from 2 to 256 (2 binarises at 128).
    Returns:
        long tensor of the same shape with values in ``[0, levels)``.
    """
    levels = check_levels(levels)
    values = torch.as_tensor(values)
    if values.is_floating_point() or values.is_complex():
        raise TypeError(f"quantise expects integer values 0..255, got dtype {values.dtype}")
    return values.long() * levels // 256


def dequantise(levels_tensor: torch.Tensor, levels: int) -> torch.Tensor:
    """Map levels back to 8-bit values at the centre of each bin.

    ``quantise(dequantise(q, levels), levels) == q`` for every level ``q``.

    Args:
        levels_tensor: integer tensor of any shape with values in ``[0, levels)``.
        levels: number of bins, an int from 2 to 256.
    Returns:
        uint8 tensor of the same shape.
    """
    levels = check_levels(levels)
    q = torch.as_tensor(levels_tensor).long()
    # Bin q holds the values v with (v * levels) // 256 == q, i.e. lo <= v <= hi below;
    # every bin holds at least one value because levels <= 256.
    lo = (256 * q + levels - 1) // levels
    hi = (256 * (q + 1) + levels - 1) // levels - 1
    return ((lo + hi) // 2).to(torch.uint8)
