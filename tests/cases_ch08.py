"""Answers for the checks of notebook 08: a right one and wrong ones with the words their reason must contain."""

from __future__ import annotations

import math

import torch.nn.functional as F


# check name -> (right answer, [(wrong answer, words the reason must contain), ...])
CASES = {
    "check_nll_map": (
        lambda logits, x: F.cross_entropy(logits, x, reduction="none") / math.log(2),
        [
            (lambda logits, x: F.cross_entropy(logits, x, reduction="none"), "nats"),
            (lambda logits, x: -F.cross_entropy(logits, x, reduction="none") / math.log(2), "sign"),
            (lambda logits, x: F.cross_entropy(logits, x, reduction="none")[:, 0], "shape"),
        ],
    ),
}
