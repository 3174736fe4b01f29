"""One sampling step (notebooks 06-07): the checks of temperature and top-p, nucleus probabilities, one draw.

Both samplers, naive and fast, call ``sample_step`` once per sub-pixel for the
whole batch; this module knows nothing about models.
"""

from __future__ import annotations

import math

import torch


def check_temperature(temperature) -> float:
    """Temperature must be a finite number > 0; returns it as a float."""
    try:
        t = float(temperature)
    except (TypeError, ValueError):
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}.") from None
    if not math.isfinite(t) or t <= 0:
        raise ValueError(
            f"temperature must be a finite number > 0, got {temperature!r}. "
            "Use values near 1 (e.g. 0.5 for sharper, 1.5 for more diverse samples)."
        )
    return t


def check_top_p(top_p) -> float:
    """top_p must be a number with 0 < top_p <= 1; returns it as a float."""
    try:
        p = float(top_p)
    except (TypeError, ValueError):
        p = math.nan
    if not 0 < p <= 1:  # also refuses nan
        raise ValueError(
            f"top_p must be a number with 0 < top_p <= 1, got {top_p!r}. "
            "Use 1.0 to keep every level, e.g. 0.9 to drop the unlikely tail."
        )
    return p


def nucleus_probs(logits: torch.Tensor, temperature: float = 1.0, top_p: float = 1.0) -> torch.Tensor:
    """The probabilities of nucleus (top-p) sampling at temperature T, in level order.

    logits: float (B, levels). Takes softmax(logits / T), keeps the smallest set
    of most likely levels whose probabilities sum to at least ``top_p`` (the
    level that crosses top_p is kept, the most likely one always), zeroes the
    others and renormalises. Ties are broken by the order of ``torch.sort``.
    top_p = 1 keeps every level: the result is exactly softmax(logits / T).
    Returns float (B, levels) with the dtype of ``logits``; every row sums to 1.
    """
    top_p = check_top_p(top_p)
    probs = torch.softmax(logits / temperature, dim=-1)  # (B, levels)
    if top_p == 1:
        return probs
    ranked, order = probs.sort(dim=-1, descending=True)  # (B, levels), most likely first
    before = ranked.cumsum(dim=-1) - ranked  # (B, levels): mass of the more likely levels
    keep_ranked = before < top_p  # the crossing level is kept: the mass before it is still short of top_p
    keep = torch.zeros_like(keep_ranked).scatter(-1, order, keep_ranked)  # (B, levels), back in level order
    kept = probs * keep
    return kept / kept.sum(dim=-1, keepdim=True)


def sample_step(
    logits: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None, top_p: float = 1.0
) -> torch.Tensor:
    """Draw one level per row of ``logits`` (B, levels) from softmax(logits / T).

    With top_p < 1 only the nucleus is drawn from: the most likely levels that
    together hold top_p of the probability (``nucleus_probs``). Inverse-CDF
    sampling: one uniform number per image, the first level whose cumulative
    probability exceeds it. Returns long (B,).
    """
    probs = nucleus_probs(logits.double(), temperature, top_p)  # (B, levels)
    cdf = probs.cumsum(dim=-1)  # (B, levels)
    u = torch.rand(logits.shape[0], 1, generator=generator, dtype=torch.float64, device=logits.device)  # (B, 1)
    return (cdf < u).sum(dim=-1).clamp(max=logits.shape[-1] - 1)  # (B,)
