"""Checks of notebook 06: sampling."""

from __future__ import annotations


import torch

from .core import Wrong, register, _shape, _tensor


# --------------------------------------------------------------------------- 06 one sampling step


def _sample_example(fn):
    return fn(torch.zeros(2, 4), torch.Generator().manual_seed(0))


@register("check_sample_step", "One sampling step", "06", example=_sample_example)
def check_sample_step(sample_level):
    logits = torch.randn(5, 10)
    out = _tensor(sample_level(logits, torch.Generator().manual_seed(1)), "sample_level(logits, generator)")
    _shape(out, (5,), "the levels drawn for logits of shape (5, 10)")
    if out.dtype != torch.long:
        raise Wrong(f"return the levels as torch.long, got {out.dtype}")
    if int(out.min()) < 0 or int(out.max()) >= 10:
        raise Wrong("the levels must lie in [0, levels)")
    again = sample_level(logits, torch.Generator().manual_seed(1))
    if not torch.equal(out, again):
        raise Wrong("two generators with the same seed gave different levels: draw your random numbers with the generator")

    probs = torch.tensor([0.1, 0.6, 0.3])
    n = 20_000
    many = sample_level(probs.log().expand(n, 3).clone(), torch.Generator().manual_seed(3))  # (n,)
    freq = torch.bincount(many.long().flatten(), minlength=3)[:3].double() / n
    if (freq - probs.double()).abs().max() >= 0.02:
        if freq[1] > 0.99:
            raise Wrong("it always picks the most likely level: draw a level at random with probabilities softmax(logits)")
        if (freq - 1 / 3).abs().max() < 0.02:
            raise Wrong("every level came up equally often: use the probabilities softmax(logits)")
        shown = ", ".join(f"{v:.2f}" for v in freq.tolist())
        raise Wrong(f"for probabilities (0.10, 0.60, 0.30) the levels came up with frequencies ({shown})")

    peaked = torch.full((4, 6), -50.0)
    peaked[:, 4] = 50.0
    if not (sample_level(peaked, torch.Generator().manual_seed(2)) == 4).all():
        raise Wrong("with all probability on level 4 the sample must be 4")
