"""Checks of notebook 08: looking inside the model."""

from __future__ import annotations

from typing import NamedTuple

import torch

from .core import Wrong, register, _close, _tensor
from ..models import PixelCNNConfig, model_from_config


# --------------------------------------------------------------------------- 08 effective receptive field


class FieldCase(NamedTuple):
    """One call of the check: a tiny model, a batch of random images, one sub-pixel."""

    channels: int
    height: int
    width: int
    levels: int
    hidden: int
    batch: int
    pixel: tuple[int, int, int]  # (c, i, j)


# Grey and colour, square and not, every colour channel, and the very first sub-pixel, whose field is empty.
# With seed 8 no case is degenerate: every field is non-zero at every pixel its output can see, so a field that
# ignores c, or any other mistake, never passes or gets a reason by chance (tests/test_effective_field.py).
CASES = (
    FieldCase(1, 6, 6, 4, 6, 3, (0, 4, 2)),
    FieldCase(3, 5, 7, 8, 12, 3, (1, 3, 3)),
    FieldCase(3, 5, 7, 8, 12, 2, (2, 2, 5)),
    FieldCase(3, 5, 7, 8, 12, 2, (0, 3, 1)),
    FieldCase(1, 6, 6, 4, 6, 2, (0, 0, 0)),
)
SEED = 8


def tiny_model(case: FieldCase):
    """A small untrained PixelCNN with fixed weights; leaves the global random state alone."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        config = PixelCNNConfig(channels=case.channels, height=case.height, width=case.width, levels=case.levels,
                                hidden=case.hidden, layers=1, kernel_size=3, input_kernel=3)
        return model_from_config(config).eval()


def images(model, n: int, seed: int) -> torch.Tensor:
    cfg = model.config
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, cfg.levels, (n, cfg.channels, cfg.height, cfg.width), generator=gen)  # (n, C, H, W)


def gradient(model, x, c, i, j, objective: str = "true") -> torch.Tensor:
    """d objective / d normalised input, (B, C, H, W), for the objectives a learner may differentiate."""
    inputs = model.normalise(x).requires_grad_(True)  # (B, C, H, W)
    logits = model.forward_normalised(inputs)  # (B, levels, C, H, W)
    here = logits[:, :, c, i, j]  # (B, levels)
    true = x[:, c, i, j, None]  # (B, 1)
    if objective == "true":
        value = here.log_softmax(1).gather(1, true)
    elif objective == "logits_sum":
        value = here
    elif objective == "raw_logit":
        value = here.gather(1, true)
    elif objective == "probability":
        value = here.softmax(1).gather(1, true)
    else:  # "most_likely"
        value = here.log_softmax(1).max(1).values
    (grad,) = torch.autograd.grad(value.sum(), inputs)
    return grad


def field(grad: torch.Tensor) -> torch.Tensor:
    return grad.abs().sum(dim=1).mean(dim=0)  # (H, W)


def _effective_field_example(fn):
    model = tiny_model(CASES[0])
    return fn(model, images(model, 1, 0), 2, 2)


def _check_shape(got: torch.Tensor, x: torch.Tensor, call: str) -> None:
    batch, chans, height, width = x.shape
    if not got.is_floating_point():
        raise Wrong(f"{call} returned a {got.dtype} tensor: return the float magnitudes themselves")
    if tuple(got.shape) != (height, width):
        hint = ""
        if tuple(got.shape) in ((batch, height, width), (batch, chans, height, width)):
            hint = ": average over the batch (dim 0)"
        elif tuple(got.shape) == (chans, height, width):
            hint = ": sum over the input channels (dim 1)"
        elif tuple(got.shape) == (width, height):
            hint = ": rows first, (H, W)"
        raise Wrong(f"{call} for x of shape {tuple(x.shape)} must have shape ({height}, {width}), "
                    f"got {tuple(got.shape)}{hint}")


def _explain(got, model, x, pixel, want, grad) -> None:
    """Raise Wrong with the likeliest mistake behind ``got``, which differs from ``want``."""
    c, i, j = pixel
    batch, chans, height, width = x.shape
    scale = 2.0 / (model.config.levels - 1)
    known = [
        (want * batch, "that is the sum over the batch: average over the images (dim 0)"),
        (want / want.max(), "do not normalise to a maximum of 1: return the plain batch average of |gradient|"),
        (grad.abs().mean(dim=1).mean(dim=0), "sum |gradient| over the input channels (dim 1), do not average them"),
        (grad.sum(dim=1).mean(dim=0).abs(), "take |gradient| of every image and channel first, then sum and "
                                            "average: signed gradients of different images cancel"),
        (grad.mean(dim=0).abs().sum(dim=0), "take |gradient| of every image and channel first, then sum and "
                                            "average: signed gradients of different images cancel"),
        (want * scale, "that is the gradient with respect to the levels: differentiate with respect to the "
                       "normalised input model.normalise(x) (with requires_grad)"),
        (field(gradient(model, x, c, i, j, "logits_sum")), "that is the gradient of the sum of the logits: "
         "differentiate the log-probability of the true level x[b, c, i, j] (log_softmax over the levels, then gather)"),
        (field(gradient(model, x, c, i, j, "raw_logit")), "that is the gradient of the raw logit of the true level: "
         "apply log_softmax over the levels (dim 1) first"),
        (field(gradient(model, x, c, i, j, "probability")), "that is the gradient of the probability: "
         "differentiate its log (log_softmax, not softmax)"),
        (field(gradient(model, x, c, i, j, "most_likely")), "that is the log-probability of the most likely "
         "level: gather the true level x[b, c, i, j] of every image"),
    ]
    for k in range(chans):
        if k != c:
            known.append((field(gradient(model, x, k, i, j)), f"that is the field of channel {k}, not of channel "
                          f"c = {c}: take the logits and the true level at sub-pixel (c, i, j)"))
    for other, reason in known:
        if _close(got, other, 1e-4):
            raise Wrong(reason)
    if not got.any():
        raise Wrong(f"your field is zero everywhere, but the output at ({c}, {i}, {j}) depends on earlier pixels: "
                    "differentiate its log-probability with respect to the input the network was run on")
    if _close(got, (want > 0).float(), 1e-6):
        raise Wrong("that is the binary receptive field (1 where the gradient is non-zero): return the "
                    "gradient's magnitude itself, which weighs every input pixel")
    order = torch.arange(height * width).reshape(height, width)
    if j < height and i < width and order[j, i] < order[i, j] and _close(got, field(gradient(model, x, c, j, i)), 1e-4):
        raise Wrong("that is the field of pixel (j, i): i is the row, j the column")
    raise Wrong(f"expected the batch mean of |d log p(x[b, {c}, {i}, {j}]) / d model.normalise(x)| summed over "
                "channels; compare your steps with the docstring")


@register("check_effective_field", "Effective receptive field", "08", example=_effective_field_example)
def check_effective_field(effective_field):
    for case in CASES:
        model = tiny_model(case)
        x = images(model, case.batch, seed=case.channels)
        c, i, j = case.pixel
        call = f"effective_field(model, x, {i}, {j}" + (f", c={c})" if c else ")")
        got = _tensor(effective_field(model, x, i, j, c=c) if c else effective_field(model, x, i, j), call)
        got = got.detach().cpu()
        _check_shape(got, x, call)
        got = got.float()
        grad = gradient(model, x, c, i, j)  # (B, C, H, W)
        want = field(grad)
        if not (i or j or c):
            if not _close(got, want, 1e-6):
                raise Wrong(f"{call}: the very first sub-pixel sees no input at all, so its field must be zero "
                            "everywhere" + (" (dividing by the largest value gives 0 / 0 there)" if got.isnan().any()
                                            else ""))
            continue
        order = torch.arange(case.height * case.width).reshape(case.height, case.width)
        after = order > order[i, j] if c else order >= order[i, j]  # inputs the output at (c, i, j) cannot see
        if got[after].abs().max() > 1e-6:
            raise Wrong(f"the field is non-zero at pixels {'after' if c else 'at or after'} ({i}, {j}) in raster order, "
                        "which a causal model cannot see: the gradient was taken of the wrong output; differentiate "
                        f"only the log-probability at (c, {i}, {j}), with i the row and j the column")
        if got.min() < -1e-6:
            raise Wrong("the field has negative values: take the magnitude |gradient| (.abs()), not the signed gradient")
        if not _close(got, want, 1e-4):
            _explain(got, model, x, case.pixel, want, grad)
