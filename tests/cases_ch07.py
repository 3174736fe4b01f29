"""Answers for the checks of notebook 07: a right one and wrong ones with the words their reason must contain."""

from __future__ import annotations


import torch


def nucleus(logits, t, top_p, *, temper_after_cut=False, crossing=True, renormalise=True, level_order=True,
            keep_first=True, keep_least_likely=True, by_value=False):
    """The nucleus probabilities, with switches for the usual mistakes."""
    probs = torch.softmax(logits / t, dim=-1)  # (B, levels)
    cut_from = torch.softmax(logits, dim=-1) if temper_after_cut else probs
    ranked, order = cut_from.sort(dim=-1, descending=True)
    total = ranked.cumsum(dim=-1)
    keep_ranked = (total - ranked < top_p) if crossing else (total < top_p)
    if keep_first:
        keep_ranked[:, 0] = True
    if not keep_least_likely:
        keep_ranked[:, -1] = False
    keep = torch.zeros_like(keep_ranked).scatter(-1, order, keep_ranked)
    if by_value:  # every level at least as likely as the least likely kept one: keeps all of a tie
        threshold = torch.where(keep, probs, torch.ones_like(probs)).min(dim=-1, keepdim=True).values
        keep = probs >= threshold
    kept = probs * keep
    if renormalise:
        kept = kept / kept.sum(dim=-1, keepdim=True)
    if not level_order:
        kept = kept.sort(dim=-1, descending=True).values
    return kept


def over_the_batch(logits, t, top_p):  # the softmax over dim 0
    probs = torch.softmax(logits / t, dim=0).T  # (levels, B): each column of the batch as a row
    ranked, order = probs.sort(dim=-1, descending=True)
    keep = torch.zeros_like(ranked, dtype=torch.bool).scatter(-1, order, ranked.cumsum(dim=-1) - ranked < top_p)
    kept = probs * keep
    return (kept / kept.sum(dim=-1, keepdim=True)).T


def right(logits, t, top_p):
    probs = torch.softmax(logits / t, dim=-1)
    ranked, order = probs.sort(dim=-1, descending=True)
    keep_ranked = ranked.cumsum(dim=-1) - ranked < top_p
    keep = torch.zeros_like(keep_ranked).scatter(-1, order, keep_ranked)
    kept = probs * keep
    return kept / kept.sum(dim=-1, keepdim=True)


# check name -> (right answer, [(wrong answer, words the reason must contain), ...])
CASES = {
    "check_nucleus": (
        right,
        [
            (lambda logits, t, top_p: nucleus(logits, 1.0, top_p), "temperature was not applied"),
            (lambda logits, t, top_p: nucleus(logits, t, top_p, temper_after_cut=True), "after the cut"),
            (lambda logits, t, top_p: nucleus(logits, t, top_p, crossing=False), "off by one"),
            (lambda logits, t, top_p: nucleus(logits, t, top_p, crossing=False, keep_first=False), "no level kept"),
            (lambda logits, t, top_p: nucleus(logits, t, top_p, renormalise=False), "renormalise"),
            (lambda logits, t, top_p: nucleus(logits, t, top_p, level_order=False), "level order"),
            (lambda logits, t, top_p: nucleus(logits, t, top_p, keep_least_likely=False), "top_p = 1"),
            (lambda logits, t, top_p: nucleus(logits, t, top_p, by_value=True), "smallest set"),
            (lambda logits, t, top_p: torch.softmax(logits / t, dim=-1), "kept every level"),
            (lambda logits, t, top_p: nucleus(logits, t, top_p)[:, :-1], "shape"),
            (over_the_batch, "over the batch"),
            (lambda logits, t, top_p: nucleus(logits.double(), t, top_p), "keep the dtype"),
            (lambda logits, t, top_p: nucleus(logits, t, top_p).float(), "keep the dtype"),
            (lambda logits, t, top_p: nucleus(logits[:, :6], t, top_p) if logits.shape[1] > 6 else
             nucleus(logits, t, top_p), "shape"),
            (lambda logits, t, top_p: nucleus(logits, t, top_p) if len(logits) < 4 else
             torch.softmax(logits / t, dim=-1), "kept every level"),
        ],
    ),
}
