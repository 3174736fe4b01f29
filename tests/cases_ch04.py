"""Answers for the checks of notebook 04: a right one and wrong ones with the words their reason must contain."""

from __future__ import annotations


import torch


# check name -> (right answer, [(wrong answer, words the reason must contain), ...])
CASES = {
    "check_gated_activation": (
        lambda x: torch.tanh(x.chunk(2, 1)[0]) * torch.sigmoid(x.chunk(2, 1)[1]),
        [
            (lambda x: torch.sigmoid(x.chunk(2, 1)[0]) * torch.tanh(x.chunk(2, 1)[1]), "swapped"),
            (lambda x: torch.tanh(x[:, 0::2]) * torch.sigmoid(x[:, 1::2]), "alternate"),
            (lambda x: torch.tanh(x.chunk(2, -1)[0]) * torch.sigmoid(x.chunk(2, -1)[1]), "shape"),
        ],
    ),
}
