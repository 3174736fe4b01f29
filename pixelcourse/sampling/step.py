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


def tempered_softmax(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """softmax(logits / T) in float64: logits (B, levels) of any float dtype -> float64 (B, levels).

    The same numbers as ``torch.softmax(logits.double() / T, -1)``; at T = 1 the division is
    skipped (it is exact) and the cast happens inside the softmax, one operation instead of three.
    """
    if temperature == 1:
        return torch.softmax(logits, dim=-1, dtype=torch.float64)
    return torch.softmax(logits.double() / temperature, dim=-1)


def sample_step(
    logits: torch.Tensor,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
    top_p: float = 1.0,
    u: torch.Tensor | None = None,
) -> torch.Tensor:
    """Draw one level per row of ``logits`` (B, levels) from softmax(logits / T).

    With top_p < 1 only the nucleus is drawn from: the most likely levels that
    together hold top_p of the probability (``nucleus_probs``). Inverse-CDF
    sampling: one uniform number per image, the first level whose cumulative
    probability exceeds it. u: float64 (B, 1), those numbers if they were drawn
    beforehand (the fast sampler's two halves); by default drawn here from
    ``generator``. Returns long (B,).
    """
    levels = logits.shape[-1]
    if top_p == 1:
        probs = tempered_softmax(logits, temperature)  # (B, levels) float64
    else:
        probs = nucleus_probs(logits.double(), temperature, top_p)
    # The cumulative probabilities rise (a running sum of numbers >= 0), so counting the ones below u
    # is a binary search; leaving out the last level caps the answer at levels - 1.
    cdf = probs[:, : levels - 1].cumsum(dim=-1)  # (B, levels - 1)
    if u is None:
        u = torch.rand(logits.shape[0], 1, generator=generator, dtype=torch.float64, device=logits.device)  # (B, 1)
    return torch.searchsorted(cdf, u).view(-1)  # (B,): how many cumulative probabilities lie below u
