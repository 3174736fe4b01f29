"""The discretised logistic mixture of PixelCNN++ (notebook 05): log-probabilities of pixel levels.

PixelCNN++ (Salimans et al. 2017) replaces the 256-way softmax by a mixture of K logistic
distributions over [-1, 1], cut into ``levels`` equal bins (the two outer bins reach out to -inf
and +inf). Nearby levels then get nearby probabilities from the start, which a softmax has to learn
level by level; 3K numbers per sub-pixel replace 256 logits. The mixture's log-probabilities over
all levels are valid logits, so sampling, temperature and every bits/dim formula work unchanged.

Training and evaluation need log p of the observed level (``mixture_log_prob``); a sampling step
needs all levels of one sub-pixel at once (``mixture_step_logits``), computed with few, fast
operations because it runs once per sub-pixel.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F


LOG_SCALE_RANGE = (-7.0, 7.0)  # log scales are clamped to this range: no component is sharper or wider


def split_mixture(raw: torch.Tensor, mixtures: int):
    """Head output (N, 3K, ...) -> log mixture weights, means, log scales, each (N, K, ...)."""
    weights, means, log_scales = raw.split(mixtures, dim=1)
    return torch.log_softmax(weights, dim=1), means, log_scales.clamp(*LOG_SCALE_RANGE)


def logistic_bin_log_prob(means, log_scales, level, levels: int) -> torch.Tensor:
    """log P(bin ``level``) of logistics (means, log_scales) cut into ``levels`` bins on [-1, 1].

    P = sigmoid(upper) - sigmoid(lower) with upper, lower the bin edges in units of the scale,
    computed as sigmoid(upper) * sigmoid(-lower) * (1 - exp(lower - upper)): no cancellation in
    either tail. The first bin has no lower edge, the last no upper edge. Shapes broadcast.
    """
    half = 1.0 / (levels - 1)  # half a bin
    centre = level * (2.0 * half) - 1.0
    inv_scale = torch.exp(-log_scales)
    upper = (centre + half - means) * inv_scale
    lower = (centre - half - means) * inv_scale
    first, last = level == 0, level == levels - 1
    width = (2.0 * half) * inv_scale  # upper - lower
    return (
        torch.where(last, 0.0, F.logsigmoid(upper))
        + torch.where(first, 0.0, F.logsigmoid(-lower))
        + torch.where(first | last, 0.0, torch.log(-torch.expm1(-width)))
    )


def mixture_log_prob(raw: torch.Tensor, x: torch.Tensor, levels: int) -> torch.Tensor:
    """log p(x) of every sub-pixel: raw (B, 3K, C, H, W), x long (B, C, H, W) -> (B, C, H, W)."""
    log_weights, means, log_scales = split_mixture(raw, raw.shape[1] // 3)
    level = x.unsqueeze(1).to(raw.dtype)  # (B, 1, C, H, W)
    return torch.logsumexp(log_weights + logistic_bin_log_prob(means, log_scales, level, levels), dim=1)


def mixture_logits(raw: torch.Tensor, levels: int) -> torch.Tensor:
    """The log-probability of every level: raw (N, 3K, ...) -> (N, levels, ...), which sum to 1 when exponentiated."""
    log_weights, means, log_scales = split_mixture(raw, raw.shape[1] // 3)
    mixtures = means.shape[1]
    if raw.numel() // 3 * levels <= 1 << 20:  # small: all components at once, fewest operations
        grid = torch.arange(levels, device=raw.device, dtype=raw.dtype).view(1, levels, *([1] * (raw.dim() - 1)))
        bins = logistic_bin_log_prob(means.unsqueeze(1), log_scales.unsqueeze(1), grid, levels)  # (N, levels, K, ...)
        return torch.logsumexp(log_weights.unsqueeze(1) + bins, dim=2)
    grid = torch.arange(levels, device=raw.device, dtype=raw.dtype).view(1, levels, *([1] * (raw.dim() - 2)))
    out = None
    for k in range(mixtures):  # one component at a time keeps memory at (N, levels, ...)
        term = log_weights[:, k : k + 1] + logistic_bin_log_prob(
            means[:, k : k + 1], log_scales[:, k : k + 1], grid, levels
        )
        out = term if out is None else torch.logaddexp(out, term)
    return out


@functools.lru_cache(maxsize=8)
def _bin_edges(levels: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """Constants of ``mixture_step_logits``, float64: every level's (upper, lower) bin edge on [-1, 1]
    as (2, 1, levels), the outer edges at +-inf; the signs (2, 1, 1) that turn the lower edge into
    sigmoid(-lower); which levels are the two outer ones, (levels,) bool; and minus a bin's width."""
    half = 1.0 / (levels - 1)
    centre = torch.arange(levels, dtype=torch.float64, device=device) * (2.0 * half) - 1.0  # (levels,)
    upper, lower = centre + half, centre - half
    upper[-1], lower[0] = math.inf, -math.inf
    edges = torch.stack([upper, lower])[:, None, :]  # (2, 1, levels)
    sign = torch.tensor([1.0, -1.0], dtype=torch.float64, device=device).view(2, 1, 1)
    outer = torch.zeros(levels, dtype=torch.bool, device=device)
    outer[0] = outer[-1] = True
    return edges, sign, outer, -2.0 * half


def mixture_step_logits(raw: torch.Tensor, levels: int) -> torch.Tensor:
    """The log-probability of every level of one sub-pixel per row: raw (N, 3K) -> (N, levels).

    The same numbers as ``mixture_logits`` (up to float rounding) with far fewer operations, for
    sampling and coding, which call it once per sub-pixel. Component k puts
    sigmoid(upper) * sigmoid(-lower) * (1 - exp(lower - upper)) on a bin: a product that never
    subtracts two close numbers, so it keeps full relative precision in float64 far into the tails.
    The last factor is the same for every inner bin of a component (and 1 for the two outer bins),
    so it goes into the mixture weights, and one batched matmul sums the components. The levels
    are the last, contiguous dimension, so every elementwise step runs over 256 numbers in a row.
    Probabilities below 1e-300 (logits below -690, which no sampler can draw) are floored there.
    """
    k = raw.shape[1] // 3
    x = raw.double()  # (N, 3K): mixture logits, means, log scales
    weights = torch.softmax(x[:, :k], dim=1)  # (N, K)
    inv_scale = x[:, 2 * k :].clamp(*LOG_SCALE_RANGE).neg_().exp_()  # (N, K)
    edges, sign, outer, minus_width = _bin_edges(levels, raw.device)
    both = (edges - x[:, None, k : 2 * k, None]).mul_(inv_scale[:, None, :, None] * sign).sigmoid_()  # (N, 2, K, levels)
    inner = torch.expm1(inv_scale * minus_width).mul_(weights).neg_()  # (N, K): times 1 - exp(lower - upper)
    per_bin = torch.bmm(torch.stack([inner, weights], 1), both[:, 0].mul_(both[:, 1]))  # (N, 2, levels)
    probs = torch.where(outer, per_bin[:, 1], per_bin[:, 0])  # (N, levels)
    return probs.clamp_min_(1e-300).log_().to(raw.dtype)
