"""Answers for the checks of notebook 05: a right one and wrong ones with the words their reason must contain."""

from __future__ import annotations


import torch

import pixelcourse

# check name -> (right answer, [(wrong answer, words the reason must contain), ...])
CASES = {
    "check_color_mask": (
        lambda i, o, k, t: pixelcourse.make_mask(i, o, k, t, color_channels=3),
        [
            (lambda i, o, k, t: pixelcourse.make_mask(i, o, k, t, color_channels=1), "at the centre"),
            (lambda i, o, k, t: pixelcourse.make_mask(i, o, k, "B" if t == "A" else "A", color_channels=3), "at the centre"),
            (lambda i, o, k, t: torch.ones(o, i, k, k), "away from the centre"),
        ],
    ),
}
