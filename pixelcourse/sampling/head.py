"""The output head at one position (notebook 06), for the fast sampler and lossless compression."""

from __future__ import annotations

import torch

from ..models import AutoregressiveModel
from .rows import as_matrix


class Head:
    """The output head at one position, for one colour at a time.

    Output channel p * C + c of the last 1x1 convolution is output p of
    colour c (level p, or mixture parameter p), so colour c needs only the
    columns c, C + c, 2C + c, ...
    """

    def __init__(self, model: AutoregressiveModel):
        C = model.config.channels
        first, last = model.head[1], model.head[3]
        self.w1, self.b1 = as_matrix(first), first.bias
        w2 = as_matrix(last)  # (hidden, P * C)
        self.w2 = [w2[:, c::C].contiguous() for c in range(C)]  # (hidden, P) per colour
        self.b2 = [last.bias[c::C].contiguous() for c in range(C)]
        self.to_logits = model.step_logits

    def __call__(self, features: torch.Tensor, c: int) -> torch.Tensor:
        """features (N, hidden) -> logits (N, levels) of colour c."""
        a = torch.addmm(self.b1, torch.relu(features), self.w1).relu_()  # (N, hidden)
        return self.to_logits(torch.addmm(self.b2[c], a, self.w2[c]))  # (N, levels)
