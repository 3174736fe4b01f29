"""Answers for the checks of notebook 07: a right one and wrong ones with the words their reason must contain."""

from __future__ import annotations


import torch


# check name -> (right answer, [(wrong answer, words the reason must contain), ...])
CASES = {
    "check_temperature": (
        lambda logits, t: torch.softmax(logits / t, -1),
        [
            (lambda logits, t: torch.softmax(logits * t, -1), "multiplied"),
            (lambda logits, t: logits / t, "sum to 1"),
            (lambda logits, t: torch.softmax(logits, -1), "before the softmax"),
        ],
    ),
}
