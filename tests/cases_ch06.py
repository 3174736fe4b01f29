"""Answers for the checks of notebook 06: a right one and wrong ones with the words their reason must contain."""

from __future__ import annotations


import torch


def sample_level(logits, generator):
    return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)[:, 0]


# check name -> (right answer, [(wrong answer, words the reason must contain), ...])
CASES = {
    "check_sample_step": (
        sample_level,
        [
            (lambda logits, generator: logits.argmax(-1), "most likely"),
            (lambda logits, generator: torch.randint(0, logits.shape[-1], logits.shape[:1], generator=generator), "equally"),
            (lambda logits, generator: torch.multinomial(torch.softmax(logits, -1), 1)[:, 0], "generator"),
            (lambda logits, generator: sample_level(logits, generator).float(), "torch.long"),
        ],
    ),
}
