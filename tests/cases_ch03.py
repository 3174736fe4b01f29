"""Answers for the checks of notebook 03: a right one and wrong ones with the words their reason must contain."""

from __future__ import annotations

import math

import torch.nn.functional as F


# check name -> (right answer, [(wrong answer, words the reason must contain), ...])
CASES = {
    "check_bits_per_dim": (
        lambda logits, x: F.cross_entropy(logits, x) / math.log(2),
        [
            (lambda logits, x: F.cross_entropy(logits, x), "ln 2"),
            (lambda logits, x: F.cross_entropy(logits, x, reduction="sum") / math.log(2), "average"),
            (lambda logits, x: F.cross_entropy(logits, x, reduction="none") / math.log(2), "one number"),
        ],
    ),
}
