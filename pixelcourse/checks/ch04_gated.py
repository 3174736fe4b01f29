"""Checks of notebook 04: the gated block."""

from __future__ import annotations


import torch
from torch import nn

from .core import Wrong, register, _close, _shape, _tensor
from ..layers import GatedBlock, VerticalConv2d
from ..layers import vertical_conv2d as vertical_reference
from .ch01_masks import _dependencies
from ..masks import MaskedConv2d


# --------------------------------------------------------------------------- 04 the gated block

LAYERS = ("v_conv", "h_conv", "v_to_h", "h_out")
SIZE = 9  # the test image is SIZE x SIZE; the output pixel sits in its middle
ROW = COL = SIZE // 2


def _gated_example(cls):
    return cls(4)


def _layer_shapes(hidden: int, k: int) -> dict[str, tuple]:
    return {"v_conv": (2 * hidden, hidden, k, k), "h_conv": (2 * hidden, hidden, 1, k),
            "v_to_h": (2 * hidden, 2 * hidden, 1, 1), "h_out": (hidden, hidden, 1, 1)}


def _check_layers(block, hidden: int, k: int) -> None:
    if not isinstance(block, nn.Module):
        raise Wrong(f"the block must be an nn.Module, got {type(block).__name__}")
    missing = [n for n in LAYERS if not isinstance(getattr(block, n, None), nn.Conv2d)]
    if missing:
        raise Wrong(f"the block needs the convolutions {', '.join(LAYERS)} as attributes; "
                    f"missing (or not a convolution): {', '.join(missing)}")
    for name, shape in _layer_shapes(hidden, k).items():
        got = tuple(getattr(block, name).weight.shape)
        if got != shape:
            raise Wrong(f"{name} must have a weight of shape (out, in, kh, kw) = {shape} for hidden={hidden}, "
                        f"kernel_size={k}; got {got}")
    if isinstance(block.h_conv, MaskedConv2d) and block.h_conv.mask_type != "B":
        raise Wrong('h_conv must use mask type "B": its input already holds the past only, so it may read the centre '
                    "(mask A is for the first layer, h_in)")


def _reference_outputs(block, hidden: int, k: int, v, h) -> dict[str, tuple]:
    """The reference block with the learner's weights, and its outputs with the usual mistakes."""
    reference = GatedBlock(hidden, k)
    with torch.no_grad():
        for name in LAYERS:
            mine, ref = getattr(block, name), getattr(reference, name)
            ref.weight.copy_(mine.weight)
            ref.bias.copy_(mine.bias) if mine.bias is not None else ref.bias.zero_()
        v_feat = reference.v_conv(v)  # (B, 2h, H, W)
        h_feat = reference.h_conv(h) + reference.v_to_h(v_feat)  # (B, 2h, H, W)

        def gate(x, kind):
            a, b = x.chunk(2, dim=1) if kind != "alternate" else (x[:, 0::2], x[:, 1::2])
            return torch.sigmoid(a) * torch.tanh(b) if kind == "swapped" else torch.tanh(a) * torch.sigmoid(b)

        outputs = {}
        for kind in ("right", "swapped", "alternate"):
            outputs[kind] = (gate(v_feat, kind), h + reference.h_out(gate(h_feat, kind)))
        outputs["no residual"] = (outputs["right"][0], reference.h_out(gate(h_feat, "right")))
    return outputs


def _fields(block_class, hidden: int, k: int, blocks: int, stacks=("v", "h")) -> dict[str, torch.Tensor]:
    """Which image pixels the outputs of ``stacks`` ("v", "h") at (ROW, COL) depend on, bool (SIZE, SIZE) each.

    A tiny two-stack model: the first layers of notebook 04 (vertical k x k without its own row,
    horizontal 1 x k with mask A) on a one-channel image, then ``blocks`` of the learner's blocks.
    """
    v_in = VerticalConv2d(1, hidden, k, first=True)
    h_in = MaskedConv2d(1, hidden, (1, k), "A")
    layers = [block_class(hidden, k) for _ in range(blocks)]
    fields = {}
    for stack in stacks:
        image = torch.randn(1, 1, SIZE, SIZE, requires_grad=True)
        v, h = v_in(image), h_in(image)  # (1, hidden, SIZE, SIZE) each
        for block in layers:
            out = block(v, h)
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                raise Wrong(f"forward(v, h) must return the pair (v_out, h_out), got {type(out).__name__}")
            v = _tensor(out[0], "v_out")
            h = _tensor(out[1], "h_out")
            _shape(v, (1, hidden, SIZE, SIZE), f"v_out for v, h of shape (1, {hidden}, {SIZE}, {SIZE})")
            _shape(h, (1, hidden, SIZE, SIZE), f"h_out for v, h of shape (1, {hidden}, {SIZE}, {SIZE})")
        (v if stack == "v" else h)[0, :, ROW, COL].pow(2).sum().backward()
        fields[stack] = image.grad[0, 0] != 0
    return fields


def _own_pixel() -> torch.Tensor:
    own = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    own[ROW, COL] = True
    return own


def _where(i: int, j: int) -> str:
    di, dj = i - ROW, j - COL
    return f"(i{di:+d}, j{dj:+d})" if dj else f"(i{di:+d}, j)"


@register("check_gated_block", "The gated block", "04", example=_gated_example)
def check_gated_block(block_class):
    hidden, k = 4, 3
    block = block_class(hidden, k)
    _check_layers(block, hidden, k)

    # Causality, by gradient, for one block: the vertical output at row i sees rows < i only,
    # the horizontal output at (i, j) sees nothing at or after (i, j).
    fields = _fields(block_class, hidden, k, blocks=1)
    v_field, h_field = fields["v"], fields["h"]
    if v_field[ROW:].any():
        raise Wrong("the vertical stack sees its own row (or rows below): v_conv must be "
                    "pixelcourse.layers.VerticalConv2d(hidden, 2 * hidden, k), which hides the rows below its centre, "
                    "and nothing of the horizontal stack may flow into v")
    if h_field[ROW + 1:].any() or h_field[ROW, COL:].any():
        raise Wrong('the horizontal stack sees the future (the pixel itself or pixels right of it): h_conv must be '
                    'pixelcourse.MaskedConv2d(hidden, 2 * hidden, (1, k), "B") and h_out a 1x1 MaskedConv2d')
    if not h_field[:ROW].any():
        raise Wrong("no link from the vertical to the horizontal stack: the horizontal output sees no row above; "
                    "add v_to_h(v_feat) to h_conv(h) before the gate")

    # The numbers, with the learner's weights copied into pixelcourse.GatedBlock.
    v = torch.randn(2, hidden, 5, 6)
    h = torch.randn(2, hidden, 5, 6)
    with torch.no_grad():
        out = block(v, h)
    v_out, h_out = _tensor(out[0], "v_out"), _tensor(out[1], "h_out")
    want = _reference_outputs(block, hidden, k, v, h)
    if _close(v_out, want["right"][0], 1e-4) and _close(h_out, want["right"][1], 1e-4):
        return
    if _close(v_out, want["swapped"][0], 1e-4) or _close(h_out, want["swapped"][1], 1e-4):
        raise Wrong("the halves are swapped: tanh goes on the first half of the channels (the content), "
                    "sigmoid on the second half (the gate)")
    if _close(v_out, want["alternate"][0], 1e-4) or _close(h_out, want["alternate"][1], 1e-4):
        raise Wrong("the gate's halves are the first and the last h channels (x.chunk(2, dim=1)), not alternate channels")
    if _close(v_out, want["right"][0], 1e-4) and _close(h_out, want["no residual"][1], 1e-4):
        raise Wrong("missing residual: the horizontal output is h + h_out(gate(h_feat)), the input h plus the update")

    # Two blocks stacked must see every earlier pixel within their reach: no blind spot.
    h_field = _fields(block_class, hidden, k, blocks=2, stacks=("h",))["h"]
    rows, cols = (h_field | _own_pixel()).nonzero(as_tuple=True)
    earlier = torch.arange(SIZE * SIZE).view(SIZE, SIZE) < ROW * SIZE + COL
    box = torch.zeros_like(h_field)
    box[rows.min() : ROW + 1, cols.min() : cols.max() + 1] = True
    blind = (box & earlier & ~h_field).nonzero().tolist()
    if blind:
        i, j = max(blind, key=lambda p: (p[0], -abs(p[1] - COL)))
        raise Wrong(f"a blind spot: after two blocks the horizontal output at (i, j) misses the earlier pixel {_where(i, j)} "
                    "although it sees pixels further out; v_conv must be VerticalConv2d(hidden, 2 * hidden, k) "
                    "(first=False: later layers include their own row) and the link must read v_feat = v_conv(v)")
    raise Wrong("the outputs differ from pixelcourse.GatedBlock with your weights: v_out = gate(v_feat), "
                "h_out = h + h_out(gate(h_conv(h) + v_to_h(v_feat))) with v_feat = v_conv(v)")


# --------------------------------------------------------------------------- 04 the vertical stack's convolution


def _vertical_example(fn):
    return fn(torch.zeros(1, 1, 5, 5), torch.zeros(1, 1, 3, 3), None, True)


def _test_vertical(vertical_conv2d, k: int, first: bool, bias: bool) -> None:
    where = f"with a {k}×{k} kernel and first={first}"
    x, weight = torch.randn(2, 2, 6, 7), torch.randn(3, 2, k, k)  # (B, in, H, W), (out, in, k, k)
    b = torch.randn(3) if bias else None
    kept = weight.clone()
    out = _tensor(vertical_conv2d(x, weight, b, first), "vertical_conv2d(x, weight, bias, first)")
    if not torch.equal(weight, kept):
        raise Wrong("you changed the weight in place: multiply it by the mask into a new tensor")
    if not out.is_floating_point():
        raise Wrong(f"the result must be a float tensor, got {out.dtype}")
    _shape(out, (2, 3, 6, 7), f"{where}, the output for x of shape (2, 2, 6, 7) (pad by k // 2 to keep H and W)")
    depends = _dependencies(vertical_conv2d, weight, b, first, 6, 7)  # (H, W, H, W)
    rows = torch.arange(6)
    out_row, in_row = rows[:, None, None, None], rows[None, None, :, None]
    if (depends & (in_row > out_row)).any():
        raise Wrong(f"{where}: the output at row i depends on rows below it: zero every row of the kernel below the centre")
    own = depends & (in_row == out_row)
    if first and own.any():
        raise Wrong(f"{where}: the output at row i depends on row i itself: the first layer must hide the whole "
                    "centre row, so that the vertical stack knows only rows above")
    want = vertical_reference(x, weight, b, first)
    if not first and not torch.equal(own, _dependencies(vertical_reference, weight, b, first, 6, 7) & (in_row == out_row)):
        raise Wrong(f"{where}: the output does not see its own row in full: a later vertical layer reads the whole "
                    "centre row of its input (those features hold only rows above), not only its left part")
    if not _close(out, want, 1e-4):
        if b is not None and _close(out + b[None, :, None, None], want, 1e-4):
            raise Wrong("the bias is missing: pass it on to the convolution")
        raise Wrong(f"{where}: the output differs from a convolution with the rows above the centre kept "
                    f"({'without' if first else 'with'} the centre row), padded by k // 2")


@register("check_vertical_conv", "The vertical stack's convolution", "04", example=_vertical_example)
def check_vertical_conv(vertical_conv2d):
    for k in (3, 5, 7):
        for first in (True, False):
            _test_vertical(vertical_conv2d, k, first, bias=True)
    _test_vertical(vertical_conv2d, 3, False, bias=False)
