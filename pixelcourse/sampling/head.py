"""The output head at one position (notebook 06), for the fast sampler and lossless compression."""

from __future__ import annotations

from functools import partial

import torch

from ..mixture import mixture_step_logits
from ..models import AutoregressiveModel
from .rows import as_matrix, with_ones


class Head:
    """The output head at one position, for one colour at a time, for a batch of ``batch`` images.

    Output channel p * C + c of the last 1x1 convolution is output p of
    colour c (level p, or mixture parameter p), so colour c needs only the
    columns c, C + c, 2C + c, ... Both 1x1 convolutions take their bias from a
    ones column of their input buffer. The logits are ``model.step_logits`` of
    the head's output, without its autocast guard: ``fill_rows`` turns autocast
    off once for the whole walk.
    """

    def __init__(self, model: AutoregressiveModel, batch: int):
        c = model.config
        first, last = model.head[1], model.head[3]
        like = first.weight
        self.f_ones, self.f = with_ones(batch, first.in_channels, like)  # (N, hidden + 1): relu(features), 1
        self.a_ones, self.a = with_ones(batch, first.out_channels, like)  # (N, hidden + 1): first layer, 1
        self.w1 = as_matrix(first, with_bias=True)  # (hidden + 1, hidden)
        w2 = as_matrix(last, with_bias=True)  # (hidden + 1, P * C)
        self.w2 = [w2[:, ch :: c.channels].contiguous() for ch in range(c.channels)]  # (hidden + 1, P) per colour
        self.to_logits = None if c.output == "softmax" else partial(mixture_step_logits, levels=c.levels)

    def __call__(self, features: torch.Tensor, c: int) -> torch.Tensor:
        """features (N, hidden) -> logits (N, levels) of colour c, a new tensor."""
        torch.clamp_min(features, 0, out=self.f)
        torch.mm(self.f_ones, self.w1, out=self.a).relu_()  # (N, hidden)
        raw = torch.mm(self.a_ones, self.w2[c])  # (N, P)
        return raw if self.to_logits is None else self.to_logits(raw)
