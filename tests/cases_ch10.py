"""Answers for the checks of notebook 10: a right one and wrong ones with the words their reason must contain."""

from __future__ import annotations

import math

import torch

from pixelcourse.compression import image_bits

LN2 = math.log(2.0)


def per_class(model, x):
    """ln p(x | k) of every class and image: (K, N) float64."""
    k = model.config.num_classes
    return torch.stack([-image_bits(model, x, torch.full((len(x),), label)) * LN2 for label in range(k)])


def right(model, x):
    log_p = per_class(model, x)  # (K, N)
    return -(torch.logsumexp(log_p, dim=0) - math.log(len(log_p))) / LN2


def right_in_bits(model, x):
    """The same in base 2: log2 of a mean of powers of two, shifted by the largest term."""
    bits = -per_class(model, x) / LN2  # (K, N)
    best = bits.min(0).values
    return best - torch.log2((2.0 ** (best - bits)).mean(0))


def right_float32(model, x):
    return right(model, x).float()


def ten_classes(model, x):
    """The prior and the labels hard-coded for Fashion-MNIST's 10 classes."""
    log_p = torch.stack([-image_bits(model, x, torch.full((len(x),), label)) * LN2 for label in range(10)])
    return -(torch.logsumexp(log_p, dim=0) - math.log(10)) / LN2


def prior_of_ten(model, x):
    return -(torch.logsumexp(per_class(model, x), dim=0) - math.log(10)) / LN2


def direct(model, x):
    """-log2 of the mean probability without logs: underflows for whole 28x28 images."""
    return -torch.log2(torch.exp(per_class(model, x)).mean(0))


# check name -> (right answer, [(wrong answer, words the reason must contain), ...])
CASES = {
    "check_marginal_bits": (
        right,
        [
            (lambda model, x: right(model, x) - math.log2(10), "prior"),
            (lambda model, x: -per_class(model, x).mean(0) / LN2, "averaged the bits"),
            (lambda model, x: -per_class(model, x).max(0).values / LN2, "single best class"),
            (lambda model, x: right(model, x) * LN2, "nats"),
            (lambda model, x: right(model, x) / x[0].numel(), "bits per dimension"),
            (lambda model, x: -right(model, x), "sign"),
            (lambda model, x: -per_class(model, x) / LN2, "one value per class"),
            (lambda model, x: right(model, x)[:2], "shape"),
            (direct, "underflows"),
            (right_float32, "return float64"),
            (ten_classes, "model.config.num_classes"),
            (prior_of_ten, "the prior is 1/10"),
            (lambda model, x: right(model, x).squeeze(), "shape"),
            (lambda model, x: right(model, x) + 1.0, "differ"),
        ],
    ),
}

STUBS = {}
ALSO_RIGHT = {"check_marginal_bits": [right_in_bits]}
