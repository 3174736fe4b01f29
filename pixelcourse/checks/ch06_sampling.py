"""Checks of notebook 06: sampling."""

from __future__ import annotations


import torch
from torch import nn

from ..models import PixelCNNConfig, model_from_config
from ..sampling import complete
from .core import COLOURS, Wrong, register, _shape, _tensor


# --------------------------------------------------------------------------- 06 one sampling step


def _sample_example(fn):
    return fn(torch.zeros(2, 4), torch.Generator().manual_seed(0))


@register("check_sample_step", "One sampling step", "06", example=_sample_example)
def check_sample_step(sample_level):
    logits = torch.randn(5, 10)
    out = _tensor(sample_level(logits, torch.Generator().manual_seed(1)), "sample_level(logits, generator)")
    _shape(out, (5,), "the levels drawn for logits of shape (5, 10)")
    if out.dtype != torch.long:
        raise Wrong(f"return the levels as torch.long, got {out.dtype}")
    if int(out.min()) < 0 or int(out.max()) >= 10:
        raise Wrong("the levels must lie in [0, levels)")
    again = sample_level(logits, torch.Generator().manual_seed(1))
    if not torch.equal(out, again):
        raise Wrong("two generators with the same seed gave different levels: draw your random numbers with the generator")

    probs = torch.tensor([0.1, 0.6, 0.3])
    n = 20_000
    many = sample_level(probs.log().expand(n, 3).clone(), torch.Generator().manual_seed(3))  # (n,)
    freq = torch.bincount(many.long().flatten(), minlength=3)[:3].double() / n
    if (freq - probs.double()).abs().max() >= 0.02:
        if freq[1] > 0.99:
            raise Wrong("it always picks the most likely level: draw a level at random with probabilities softmax(logits)")
        if (freq - 1 / 3).abs().max() < 0.02:
            raise Wrong("every level came up equally often: use the probabilities softmax(logits)")
        shown = ", ".join(f"{v:.2f}" for v in freq.tolist())
        raise Wrong(f"for probabilities (0.10, 0.60, 0.30) the levels came up with frequencies ({shown})")

    peaked = torch.full((4, 6), -50.0)
    peaked[:, 4] = 50.0
    if not (sample_level(peaked, torch.Generator().manual_seed(2)) == 4).all():
        raise Wrong("with all probability on level 4 the sample must be 4")


# --------------------------------------------------------------------------- 06 the sampling and completion loop


class _ChainModel(nn.Module):
    """A stand-in for a PixelCNN whose logits put all the probability on one level.

    The level of sub-pixel k (generation order: raster order, then R -> G -> B) is
    ``1 + (sum of the sub-pixels before k + 3 * label + k) mod (levels - 1)``: never 0,
    and another one as soon as a sub-pixel before k differs. So only the right order,
    with the logits recomputed after every drawn sub-pixel, gives the expected image,
    whatever the random numbers. Every call is recorded.
    """

    def __init__(self, channels: int, height: int, width: int, levels: int, num_classes: int = 0):
        super().__init__()
        self.config = PixelCNNConfig(channels=channels, height=height, width=width, levels=levels,
                                     hidden=6, num_classes=num_classes)
        self.anchor = nn.Parameter(torch.zeros(()))  # so that model.parameters() is not empty
        self.inputs: list[torch.Tensor] = []  # a copy of every x the model was called with
        self.labels: list = []  # the y of every call

    def levels_of(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        """The level each sub-pixel of x (N, C, H, W) gets from the sub-pixels before it; long (N, C, H, W)."""
        c = self.config
        n = x.shape[0]
        flat = x.permute(0, 2, 3, 1).reshape(n, -1)  # (N, H*W*C) in generation order
        before = flat.cumsum(1) - flat  # sum of the sub-pixels strictly before
        k = torch.arange(flat.shape[1])
        label = torch.zeros(n, dtype=torch.long) if y is None else torch.as_tensor(y).long()
        level = 1 + (before + 3 * label[:, None] + k) % (c.levels - 1)  # (N, H*W*C)
        return level.view(n, c.height, c.width, c.channels).permute(0, 3, 1, 2)  # (N, C, H, W)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        c = self.config
        if not isinstance(x, torch.Tensor) or x.dtype != torch.long:
            got = x.dtype if isinstance(x, torch.Tensor) else type(x).__name__
            raise Wrong(f"the model takes the images as torch.long levels, got {got}: keep x in the dtype of images")
        if x.dim() != 4 or tuple(x.shape[1:]) != (c.channels, c.height, c.width):
            raise Wrong(f"the model takes images of shape (N, {c.channels}, {c.height}, {c.width}), "
                        f"got {tuple(x.shape)}: run it on the whole image x")
        self.inputs.append(x.detach().clone())
        self.labels.append(y)
        level = self.levels_of(x, y)  # (N, C, H, W)
        logits = torch.full((x.shape[0], c.levels, c.channels, c.height, c.width), -1e4)
        return logits.scatter_(1, level[:, None], 0.0)  # (N, levels, C, H, W)


def _chain_fill(model: _ChainModel, images, known, y=None, order: str = "ijc", once: str = "") -> torch.Tensor:
    """What a loop makes of ``images`` with the chain model: ``order`` of the loops (outer to inner),
    ``once`` "" (logits after every step), "image" (once for all) or "pixel" (once per pixel, shared by its colours)."""
    c = model.config
    x = torch.where(known, images, torch.zeros_like(images))
    sizes = {"i": c.height, "j": c.width, "c": c.channels}
    levels = model.levels_of(x, y)
    for a in range(sizes[order[0]]):
        for b in range(sizes[order[1]]):
            if once == "pixel":
                levels = model.levels_of(x, y)
            for d in range(sizes[order[2]]):
                at = dict(zip(order, (a, b, d)))
                i, j, ch = at["i"], at["j"], at["c"]
                if not once:
                    levels = model.levels_of(x, y)
                x[:, ch, i, j] = torch.where(known[:, ch, i, j], x[:, ch, i, j], levels[:, ch, i, j])
    return x


def _chain_case(channels: int, num_classes: int):
    """A chain model and a batch of 2 images: known values anywhere, garbage where unknown."""
    gen = torch.Generator().manual_seed(6)
    model = _ChainModel(channels, 3, 4, 11, num_classes)
    shape = (2, channels, 3, 4)
    known = torch.rand(shape, generator=gen) < 0.3
    known[0, :, 0, 1] = True  # a pixel known in image 0 only
    known[:, 0, 2, 3] = True  # a sub-pixel known in both images
    images = torch.randint(1, 11, shape, generator=gen)  # garbage where unknown: it must be zeroed
    images[known] = torch.randint(0, 11, (int(known.sum()),), generator=gen)
    labels = torch.tensor([2, 1]) if num_classes else None
    return model, images, known, labels


def _complete_example(fn):
    model, images, known, _ = _chain_case(1, 0)
    return fn(model, images, known, torch.Generator().manual_seed(0))


def _where(x: torch.Tensor, want: torch.Tensor) -> str:
    b, ch, i, j = (int(v) for v in (x != want).nonzero()[0])
    return f"image {b}, row {i}, column {j}" + (f", colour {COLOURS[ch]}" if x.shape[1] == 3 else "")


def _check_chain(my_complete, channels: int, num_classes: int) -> None:
    model, images, known, labels = _chain_case(channels, num_classes)
    before_images, before_known = images.clone(), known.clone()
    call = "my_complete(model, images, known, generator" + (", labels=labels)" if num_classes else ")")
    out = my_complete(model, images, known, torch.Generator().manual_seed(0), labels=labels)
    out = _tensor(out, call)
    _shape(out, images.shape, f"{call} for images of shape {tuple(images.shape)}")
    if out.dtype != torch.long:
        raise Wrong(f"return the completed images as torch.long levels, got {out.dtype}")
    if not torch.equal(images, before_images) or not torch.equal(known, before_known):
        raise Wrong("your function changed `images` (or `known`) in place: work on a copy, "
                    "e.g. x = torch.where(known, images, 0) or images.clone()")
    if not model.inputs:
        raise Wrong("the model was never called: run model(x, labels) for every sub-pixel")
    if num_classes and any(y is None for y in model.labels):
        raise Wrong("this model is class-conditional and got no labels: call model(x, labels)")
    unknown = ~known
    first = model.inputs[0]
    if first.shape == images.shape and (first[unknown] != 0).any():
        raise Wrong("the model saw values of `images` where known is False: zero the unknown values before the loop")
    if not torch.equal(out[known], images[known]):
        raise Wrong(f"a known value was overwritten ({_where(torch.where(known, out, images), images)}): "
                    "write the drawn level only where known is False, e.g. with torch.where(known[:, c, i, j], ...)")
    to_draw = int(unknown.any(0).sum())  # sub-pixels that at least one image does not know
    if len(model.inputs) < to_draw:
        runs = "once" if len(model.inputs) == 1 else f"{len(model.inputs)} times"
        raise Wrong(f"the model ran {runs} for {to_draw} sub-pixels to draw: run it again after "
                    "every drawn sub-pixel, so that the next one sees it (logits computed once cannot)")
    want = _chain_fill(model, images, known, labels)
    if torch.equal(out, want):
        return
    if num_classes and torch.equal(out, _chain_fill(model, images, known, None)):
        raise Wrong("the labels did not reach the model: call model(x, labels) with the labels you are given")
    mistakes = [
        ("cij", "the colour loop runs outside the pixel loops: draw R, G, B of one pixel before moving on "
                "(for i: for j: for c)"),
        ("jic", "columns before rows: the order is row by row, and left to right inside a row (for i: for j: for c)"),
        ("cji", "columns before rows: the order is row by row, and left to right inside a row (for i: for j: for c)"),
    ]
    for order, reason in mistakes:
        if torch.equal(out, _chain_fill(model, images, known, labels, order=order)):
            raise Wrong(reason)
    if torch.equal(out, _chain_fill(model, images, known, labels, once="pixel")):
        raise Wrong("the colours of a pixel share one forward pass: run the model again after every drawn sub-pixel, "
                    "so that G sees R and B sees R and G")
    raise Wrong(f"the completed image differs at {_where(out, want)}: draw every sub-pixel in raster order, "
                "then R -> G -> B, from logits[:, :, c, i, j] of a forward pass made after the previous one")


def _tiny_model():
    torch.manual_seed(0)
    config = PixelCNNConfig(channels=3, height=3, width=3, levels=8, hidden=6, layers=1, kernel_size=3, input_kernel=3)
    return model_from_config(config).eval()


@register("check_complete_loop", "The sampling and completion loop", "06", example=_complete_example)
def check_complete_loop(my_complete):
    _check_chain(my_complete, 1, 0)
    _check_chain(my_complete, 3, 3)

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: one thread is fastest, and far faster on a busy machine
    try:
        _check_against_package(my_complete)
    finally:
        torch.set_num_threads(threads)


def _check_against_package(my_complete) -> None:
    model = _tiny_model()
    images = torch.zeros(3, 3, 3, 3, dtype=torch.long)
    nothing = torch.zeros_like(images, dtype=torch.bool)
    for t in (1.0, 0.5):
        with torch.no_grad():
            want = complete(model, images, nothing, temperature=t, method="naive", generator=torch.Generator().manual_seed(4))
        got = my_complete(model, images, nothing, torch.Generator().manual_seed(4), temperature=t)
        if torch.equal(got, want):
            continue
        again = my_complete(model, images, nothing, torch.Generator().manual_seed(4), temperature=t)
        if not torch.equal(got, again):
            raise Wrong("the same seed gave different images: draw every random number with the generator you are given")
        if t != 1.0:
            raise Wrong(f"at temperature {t} the pixels differ from pixelcourse.sample's for the same seed: "
                        "pass temperature on to pixelcourse.sample_step")
        raise Wrong("with nothing known and the same seed, your loop and pixelcourse.sample(..., method=\"naive\") "
                    "drew different pixels: call pixelcourse.sample_step(logits[:, :, c, i, j], temperature, generator) "
                    "once per sub-pixel, for the whole batch at once")
