"""Checks of notebook 07: temperature and nucleus (top-p) sampling."""

from __future__ import annotations

import torch

from .core import Wrong, register, _close, _shape, _tensor


# --------------------------------------------------------------------------- 07 nucleus (top-p) probabilities


def _nucleus(probs: torch.Tensor, top_p: float, crossing: bool = True, renormalise: bool = True) -> torch.Tensor:
    """Nucleus of ``probs`` (B, levels) in level order.

    crossing=False is the usual off-by-one: it drops the level that crosses top_p (keeping the most likely one).
    """
    ranked, order = probs.sort(dim=-1, descending=True)
    total = ranked.cumsum(dim=-1)
    keep_ranked = (total - ranked < top_p) if crossing else (total < top_p)
    keep_ranked[:, 0] = True
    keep = torch.zeros_like(keep_ranked).scatter(-1, order, keep_ranked)
    kept = probs * keep
    return kept / kept.sum(dim=-1, keepdim=True) if renormalise else kept


def _ranked(probs: torch.Tensor) -> torch.Tensor:
    return probs.sort(dim=-1, descending=True).values


# Probabilities (B, levels) whose tempered cumulative sums stay at least 0.001 from every top_p used with them, far
# more than float32 rounding, so that a correct answer never depends on it, and no cut falls between two equal
# probabilities. Three rows of 6 levels; 5 rows of 3 levels (more rows than levels: a softmax over
# the wrong dim shows); one row of 256 levels with a long tail, in a scrambled level order.
_PROBS = torch.tensor([
    [0.06, 0.25, 0.04, 0.35, 0.10, 0.20],
    [0.02, 0.03, 0.05, 0.12, 0.70, 0.08],
    [0.15, 0.15, 0.30, 0.05, 0.05, 0.30],
])  # fmt: skip
_TALL = torch.tensor([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7], [0.45, 0.1, 0.45], [0.6, 0.3, 0.1], [0.25, 0.7, 0.05]])
_LONG = (0.97 ** torch.arange(256.0))[torch.randperm(256, generator=torch.Generator().manual_seed(7))][None]
# (probabilities, [(temperature, top_p), ...]): the cases of the check
CASES = (
    (_PROBS, [(1.0, 0.65), (1.0, 0.93), (0.5, 0.7), (2.0, 0.85), (1.0, 0.5)]),
    (_TALL, [(1.0, 0.75), (0.7, 0.9)]),
    (_LONG / _LONG.sum(), [(1.0, 0.9), (1.5, 0.5)]),
)


def _example(fn):
    return fn(torch.zeros(2, 4), 1.0, 0.9)


def _explain(got: torch.Tensor, logits: torch.Tensor, t: float, top_p: float, call: str) -> None:
    """Raise Wrong with the likeliest mistake behind ``got``, which differs from the nucleus."""
    tempered = torch.softmax(logits / t, dim=-1)  # (B, levels)
    want = _nucleus(tempered, top_p)
    if torch.isnan(got).any() or (got.sum(-1) == 0).any():
        raise Wrong(f"{call} has a row with no level kept (zeros or NaN): keep the most likely level always, "
                    "and the level whose probability makes the total reach top_p")
    if _close(got, _nucleus(torch.softmax(logits / t, dim=0).T, top_p).T, 1e-4):
        raise Wrong(f"{call}: the softmax ran over the batch (dim 0): every row is one image's distribution over "
                    "the levels, the last dim")
    if _close(got, _nucleus(tempered, top_p, renormalise=False), 1e-4):
        raise Wrong("the kept probabilities sum to less than 1: renormalise them, divide by their sum")
    if _close(got, _nucleus(tempered, top_p, crossing=False), 1e-4):
        raise Wrong("the level that crosses top_p is missing (off by one): keep every level while the mass of "
                    "the more likely levels is still below top_p, so the kept total reaches top_p")
    if _close(got, _ranked(want), 1e-4) and not _close(want, _ranked(want), 1e-4):
        raise Wrong("the probabilities come back sorted from most to least likely: put them back in level "
                    "order (scatter with the indices from sort), so that entry l is the probability of level l")
    if t != 1:
        plain = torch.softmax(logits, dim=-1)
        cut_first = tempered * (_nucleus(plain, top_p) > 0)
        if _close(got, _nucleus(plain, top_p), 1e-4):
            raise Wrong(f"at T = {t} the temperature was not applied: start from softmax(logits / T)")
        if _close(got, cut_first / cut_first.sum(-1, keepdim=True), 1e-4):
            raise Wrong("the temperature was applied after the cut: divide the logits by T first, then choose "
                        "the levels from the tempered probabilities")
    if _close(got, tempered, 1e-4):
        raise Wrong(f"{call} kept every level: zero the levels outside the nucleus")
    raise Wrong(f"{call} differs from the nucleus of softmax(logits / T); compare your steps with the docstring")


def _check_dtypes(nucleus_probs) -> None:
    logits = _PROBS.log()
    for dtype in (torch.float64, torch.float32):
        call = f"nucleus_probs(logits, 1.0, 0.65) for {dtype} logits"
        got = _tensor(nucleus_probs(logits.to(dtype), 1.0, 0.65), call)
        if got.dtype != dtype:
            raise Wrong(f"{call} returned {got.dtype}: keep the dtype of the logits (the samplers work in float64)")


def _check_ties(nucleus_probs) -> None:
    """Four equally likely levels: a tiny top_p keeps exactly one of them (which one is up to the sort)."""
    got = _tensor(nucleus_probs(torch.zeros(2, 4), 1.0, 0.1), "nucleus_probs(zeros(2, 4), 1.0, 0.1)")
    if torch.isnan(got).any() or (got.sum(-1) == 0).any():
        raise Wrong("with four equally likely levels and top_p = 0.1 a row came back empty: at least one level "
                    "(the most likely) must always be kept")
    if not ((got == 0) | (got - 1).abs().lt(1e-6)).all() or not _close(got.sum(-1), torch.ones(2), 1e-6):
        raise Wrong("with four equally likely levels and top_p = 0.1 keep the smallest set: exactly one level, "
                    "with probability 1 (not every level that ties with it)")


@register("check_nucleus", "Nucleus (top-p) probabilities", "07", example=_example)
def check_nucleus(nucleus_probs):
    for probs, settings in CASES:
        logits = probs.log() * 1.5 + torch.randn(len(probs), 1)  # a shift per row changes nothing after the softmax
        shape = tuple(logits.shape)
        for t, top_p in settings:
            call = f"nucleus_probs(logits, {t}, {top_p}) for logits of shape {shape}"
            got = _tensor(nucleus_probs(logits, t, top_p), call)
            _shape(got, shape, call)
            got = got.detach()
            if not _close(got, _nucleus(torch.softmax(logits / t, dim=-1), top_p), 1e-4):
                _explain(got, logits, t, top_p, call)
        for t in (1.0, 0.5):
            got = _tensor(nucleus_probs(logits, t, 1.0), f"nucleus_probs(logits, {t}, 1.0)")
            if not _close(got.detach(), torch.softmax(logits / t, dim=-1), 1e-4):
                raise Wrong(f"with top_p = 1 every level is kept: the result must equal softmax(logits / T) "
                            f"(logits of shape {shape})")
    _check_dtypes(nucleus_probs)
    _check_ties(nucleus_probs)
