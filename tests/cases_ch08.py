"""Answers for the checks of notebook 08: a right one and wrong ones with the words their reason must contain."""

from __future__ import annotations

import torch


def _gradient(model, x, i, j, c=0, objective="true", levels_input=False):
    """The gradient (B, C, H, W) a learner may take, right or wrong."""
    if levels_input:  # differentiated with respect to the levels, then normalised inside the graph
        leaf = x.float().requires_grad_(True)
        inputs = leaf * (2.0 / (model.config.levels - 1)) - 1.0
    else:
        leaf = inputs = model.normalise(x).requires_grad_(True)  # (B, C, H, W)
    logits = model.forward_normalised(inputs)  # (B, levels, C, H, W)
    here = logits[:, :, c, i, j]  # (B, levels)
    true = x[:, c, i, j, None]  # (B, 1)
    value = {
        "true": lambda: here.log_softmax(1).gather(1, true),
        "logits_sum": lambda: here,
        "raw_logit": lambda: here.gather(1, true),
        "probability": lambda: here.softmax(1).gather(1, true),
        "most_likely": lambda: here.log_softmax(1).max(1).values,
        "image": lambda: logits.log_softmax(1).gather(1, x[:, None]),  # every position's log-likelihood
        "swapped": lambda: logits[:, :, c, j, i].log_softmax(1).gather(1, x[:, c, j, i, None]),
    }[objective]()
    (grad,) = torch.autograd.grad(value.sum(), leaf)
    return grad


def right(model, x, i, j, c=0):
    return _gradient(model, x, i, j, c).abs().sum(dim=1).mean(dim=0)  # (H, W)


def _with(objective="true", reduce=lambda g: g.abs().sum(dim=1).mean(dim=0), **options):
    return lambda model, x, i, j, c=0: reduce(_gradient(model, x, i, j, c, objective, **options))


# check name -> (right answer, [(wrong answer, words the reason must contain), ...])
CASES = {
    "check_effective_field": (
        right,
        [
            (_with("logits_sum"), "sum of the logits"),
            (_with("raw_logit"), "log_softmax"),
            (_with("probability"), "not softmax"),
            (_with("most_likely"), "true level"),
            (_with(reduce=lambda g: g.sum(dim=1).mean(dim=0)), "signed"),
            (_with(reduce=lambda g: g.sum(dim=1).mean(dim=0).abs()), "cancel"),
            (_with(reduce=lambda g: (g.abs().sum(dim=1).mean(dim=0) > 0).float()), "binary"),
            (_with(reduce=lambda g: g.abs().sum(dim=1)), "average over the batch"),
            (_with(reduce=lambda g: g.abs().mean(dim=0)), "sum over the input channels"),
            (_with(reduce=lambda g: g.abs().sum(dim=(0, 1))), "sum over the batch"),
            (_with(reduce=lambda g: g.abs().mean(dim=(0, 1))), "do not average them"),
            (_with(reduce=lambda g: (f := g.abs().sum(dim=1).mean(dim=0)) / f.max()), "normalise"),
            (_with(levels_input=True), "normalised input"),
            (_with("image"), "wrong output"),
            (_with("swapped"), "i is the row"),
            (lambda model, x, i, j, c=0: right(model, x, i, j, 0), "field of channel 0"),
            (lambda model, x, i, j, c=0: torch.zeros(x.shape[2:]), "zero everywhere"),
            (lambda model, x, i, j, c=0: (f := right(model, x, i, j, c)) / f.sum() * f.sum(), "0 / 0"),
            (lambda model, x, i, j, c=0: (right(model, x, i, j, c) * 1e4).long(), "float magnitudes"),
            (lambda model, x, i, j, c=0: right(model, x, i, j, c).T, "field"),
        ],
    ),
}
