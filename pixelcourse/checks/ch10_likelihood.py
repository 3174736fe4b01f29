"""Checks of notebook 10: likelihood in practice (the class marginal of a conditional model)."""

from __future__ import annotations

import math

import torch

from ..compression import image_bits, marginal_bits
from ..models import build_model
from ..likelihood import LN2
from .core import Wrong, register, _close, _shape, _tensor


def _conditional_model(height: int, width: int, classes: int = 10, channels: int = 1):
    """A tiny class-conditional Gated PixelCNN whose classes disagree by many bits."""
    preset = "fashion_mnist" if channels == 1 else "cifar10"
    model = build_model(preset, hidden=6, layers=1, height=height, width=width, num_classes=classes).eval()
    with torch.no_grad():
        for block in model.blocks:
            block.v_class.weight.mul_(4.0)  # louder class terms: each class gives other bits
            block.h_class.weight.mul_(4.0)
    return model


# (classes, channels, height, width, images): ten classes as in Fashion-MNIST, three, and four on a single colour image
_SMALL = ((10, 1, 4, 5, 3), (3, 1, 3, 4, 4), (4, 3, 2, 3, 1))


def _example(fn):
    model = _conditional_model(3, 3)
    return fn(model, torch.zeros(2, 1, 3, 3, dtype=torch.long))


@register("check_marginal_bits", "The class marginal -log2 p(x)", "10", example=_example)
def check_marginal_bits(answer):
    for classes, channels, height, width, n in _SMALL:
        model = _conditional_model(height, width, classes, channels)
        x = torch.randint(0, 256, (n, channels, height, width))
        call = f"marginal_bits(model, x) for a model of {classes} classes and x of shape {tuple(x.shape)}"
        try:
            got = _tensor(answer(model, x), call)
        except (IndexError, ValueError) as err:
            if classes == 10:
                raise
            raise Wrong(f"{call} raised {type(err).__name__} ({err}): the model has K = model.config.num_classes = "
                        f"{classes} classes, labels 0 to K - 1") from None
        if got.dim() == 2 and tuple(got.shape) == (classes, n):
            raise Wrong(f"got one value per class and image {tuple(got.shape)}: combine the {classes} classes into "
                        "one number per image")
        _shape(got, (n,), call)
        if got.dtype != torch.float64:
            raise Wrong(f"{call} returned {got.dtype}: return float64, the dtype of image_bits (a float32 result "
                        "rounds the bits of a whole image)")
        want = marginal_bits(model, x)  # (n,)
        if not _close(got, want, 1e-6):
            per_class = torch.stack([image_bits(model, x, torch.full((n,), k)) for k in range(classes)])  # (K, n)
            _explain(got.detach(), want, per_class, x[0].numel())
    _check_whole_image(answer)


def _explain(got: torch.Tensor, want: torch.Tensor, per_class: torch.Tensor, dims: int) -> None:
    """Raise Wrong with the likeliest mistake behind ``got`` (float64 (N,)), given the right ``want``."""
    k = per_class.shape[0]
    if torch.isnan(got).any() or torch.isinf(got).any():
        raise Wrong("the result holds inf or NaN: add up the probabilities in logs (torch.logsumexp of ln p(x | k))")
    if _close(got, want - math.log2(k), 1e-6):
        raise Wrong(f"the answer is log2 {k} = {math.log2(k):.2f} bits too low: the prior p(k) = 1/{k} is missing "
                    f"(p(x) is the mean of p(x | k) over the classes, not their sum)")
    if k != 10 and _close(got, want + math.log2(10 / k), 1e-6):
        raise Wrong(f"the prior is 1/10 for a model of {k} classes: p(k) = 1/K with K = model.config.num_classes")
    if _close(got, per_class.mean(0), 1e-6):
        raise Wrong("you averaged the bits of the classes, that is the log-probabilities: average the probabilities "
                    "p(x | k) themselves (a log-sum-exp), which weighs the likeliest class most")
    if _close(got, per_class.min(0).values, 1e-6):
        raise Wrong("that is the bits under the single best class: p(x) sums p(k) p(x | k) over every class")
    if _close(got, want * LN2, 1e-6):
        raise Wrong("the answer is in nats: divide by ln 2 to get bits")
    if _close(got, want / dims, 1e-6):
        raise Wrong("the answer is in bits per dimension: return the bits of the whole image")
    if _close(got, -want, 1e-6):
        raise Wrong("the sign is flipped: return -log2 p(x), a positive number of bits")
    raise Wrong("the values differ from -log2 of the mean over the classes k of p(x | k); compare with the docstring")


def _check_whole_image(answer) -> None:
    """Real images cost thousands of bits: 2^-bits underflows to 0, so the sum must be taken in logs."""
    model = _conditional_model(28, 28)
    x = torch.randint(0, 256, (2, 1, 28, 28))
    want = marginal_bits(model, x)  # about 6000 bits per image
    got = _tensor(answer(model, x), "marginal_bits(model, x) for 28x28 images")
    _shape(got, (2,), "marginal_bits(model, x) for x of shape (2, 1, 28, 28)")
    if torch.isinf(got).any() or torch.isnan(got).any():
        raise Wrong("on 28x28 images the result is inf or NaN: p(x | k) = 2^-6000 underflows to 0 even in float64; "
                    "add up the probabilities in logs with torch.logsumexp")
    if not _close(got, want, 1e-6):
        raise Wrong(f"on 28x28 images the bits differ (got {float(got[0]):.1f}, want {float(want[0]):.1f}); "
                    "compute in float64 and in logs")
