"""Checks of notebook 07: temperature."""

from __future__ import annotations


import torch

from .core import Wrong, register, _close, _shape, _tensor


# --------------------------------------------------------------------------- 07 temperature


@register("check_temperature", "Temperature", "07", example=lambda fn: fn(torch.zeros(2, 4), 1.0))
def check_temperature(tempered_probs):
    logits = torch.randn(3, 8) * 2
    for t in (1.0, 0.5, 2.0, 0.1):
        probs = _tensor(tempered_probs(logits, t), f"tempered_probs(logits, {t})")
        _shape(probs, (3, 8), f"tempered_probs(logits, {t}) for logits of shape (3, 8)")
        want = torch.softmax(logits / t, dim=-1)
        if _close(probs, want, 1e-4):
            continue
        if not _close(probs.sum(-1), torch.ones(3), 1e-4):
            raise Wrong("each row must be probabilities that sum to 1: apply softmax over the levels (last dim)")
        if _close(probs, torch.softmax(logits * t, dim=-1), 1e-4):
            raise Wrong("divide the logits by T (you multiplied): small T must sharpen the distribution")
        if _close(probs, torch.softmax(logits, dim=-1) / t, 1e-4) or _close(probs, torch.softmax(logits, -1), 1e-4):
            raise Wrong("scale the logits before the softmax: softmax(logits / T)")
        raise Wrong(f"at T = {t} the probabilities differ from softmax(logits / T)")
