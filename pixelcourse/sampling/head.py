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
    off once for the whole walk. compiled: run the two 1x1 convolutions as one
    compiled call (``kernels.head_step``), as the caches do.
    """

    def __init__(self, model: AutoregressiveModel, batch: int, compiled: bool = False):
        c = model.config
        first, last = model.head[1], model.head[3]
        like = first.weight
        self.f_ones, self.f = with_ones(batch, first.in_channels, like)  # (N, hidden + 1): relu(features), 1
        self.a_ones, self.a = with_ones(batch, first.out_channels, like)  # (N, hidden + 1): first layer, 1
        self.w1 = as_matrix(first, with_bias=True)  # (hidden + 1, hidden)
        w2 = as_matrix(last, with_bias=True)  # (hidden + 1, P * C)
        self.w2 = [w2[:, ch :: c.channels].contiguous() for ch in range(c.channels)]  # (hidden + 1, P) per colour
        self.to_logits = None if c.output == "softmax" else partial(mixture_step_logits, levels=c.levels)
        self.compiled, self.levels = compiled, c.levels
        if compiled:
            from .kernels import head_step, mixture_logits_step

            self.head_step, self.mixture_logits_step = head_step, mixture_logits_step
            self.arrays = [(self.w1.detach().numpy(), w.detach().numpy()) for w in self.w2]  # per colour
            self.scratch = like.new_empty(first.out_channels).detach().numpy()
            self.features = (None, None)  # (tensor, its numpy view): a cache returns the same buffer every step

    def __call__(self, features: torch.Tensor, c: int) -> torch.Tensor:
        """features (N, hidden) -> logits (N, levels) of colour c, a new tensor."""
        if self.compiled:
            if self.features[0] is not features:
                self.features = (features, features.detach().numpy())
            raw = self.head_step(self.features[1], *self.arrays[c], self.scratch)  # (N, P)
            if self.to_logits is not None:
                raw = self.mixture_logits_step(raw, self.levels)  # (N, levels)
            return torch.from_numpy(raw)
        torch.clamp_min(features, 0, out=self.f)
        torch.mm(self.f_ones, self.w1, out=self.a).relu_()  # (N, hidden)
        raw = torch.mm(self.a_ones, self.w2[c])  # (N, P)
        return raw if self.to_logits is None else self.to_logits(raw)
