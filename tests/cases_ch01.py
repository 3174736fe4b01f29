"""Answers for the checks of notebook 01: a right one and wrong ones with the words their reason must contain."""

from __future__ import annotations


import torch

import pixelcourse

# check name -> (right answer, [(wrong answer, words the reason must contain), ...])
CASES = {
    "check_causal_mask": (
        lambda k, t: pixelcourse.make_mask(1, 1, k, t)[0, 0],
        [
            (lambda k, t: pixelcourse.make_mask(1, 1, k, "B")[0, 0], "mask A must be 0 at the centre"),
            (lambda k, t: pixelcourse.make_mask(1, 1, k, "A")[0, 0], "mask B must be 1 at the centre"),
            (lambda k, t: pixelcourse.make_mask(1, 1, k, t)[0, 0].flip(0), "row"),
            (lambda k, t: pixelcourse.make_mask(1, 1, k, t)[0, 0].long(), "float"),
            (lambda k, t: torch.ones(k + 1, k), "shape"),
        ],
    ),
}
