"""Fast sampling with per-layer row caches (notebook 06), after Ramachandran et al. 2017.

The naive sampler runs the whole network on the whole image for every
sub-pixel, although only one position is new. Here every masked layer keeps
a small cache of its input rows (kernel height rows x image width x channels
per image) and each step computes the new position only:

* the rows above the current one are final once a row starts, so their part
  of every k x k convolution is computed once per row, for the whole row
  (``start_row``): one batched matmul for all residual blocks of a PixelCNN,
  whose rows above do not depend on each other, one ``conv2d`` per layer for
  the Gated PixelCNN's vertical stack, whose layers feed each other;
* the current row is filled left to right: at pixel j each layer adds the
  taps j - k//2 ... j of its cached current row with one small matmul
  (``pixel``);
* the Gated PixelCNN's vertical stack only sees rows above, so it runs once
  per row, and its link into the horizontal stack becomes a per-position
  bias; the horizontal stack and the output head run once per pixel;
* with colour, the part that comes from other pixels (rows above, class and
  link terms) is shared by the three sub-pixels of a pixel; each colour step
  only reruns the path through the centre pixel, whose masks let colour g see
  the sub-pixels before g.

Every weight is used as ``weight * mask``, so the logits equal those of a full
forward pass up to float rounding. Weights are masked, cut and laid out as
matrices once per call; a step only multiplies, into buffers that are allocated
once per call and never grow: layers x kernel rows x (width + padding) x
channels per image.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import torch

import torch.nn.functional as F

from ..models import AutoregressiveModel, GatedPixelCNN, PixelCNN
from .rows import LeftRow, RowBuffer, StackedRows, as_matrix, conv_rows, masked_weight, row_taps, top_rows, with_bias, with_ones


class ResidualRows(NamedTuple):
    """The per-step state of one residual block of a ``PixelCNN`` (its k x k rows live in ``StackedRows``).

    reduce (1x1) -> k x k masked conv -> expand (1x1) + residual. The 1x1 convolutions
    take their bias from an extra input column: a column of ones, or the one-hot class
    when the block has a class bias (its rows then hold bias + class term).
    """

    h_in: torch.Tensor  # (N, hidden + e): relu of the block's input, then the bias columns
    h_relu: torch.Tensor  # (N, hidden) view of h_in, written at every step
    w_reduce: torch.Tensor  # (hidden + e, half): reduce with its bias (and class terms) as the last rows
    u_ones: torch.Tensor  # (N, half + 1): the k x k convolution's output u, then a ones column
    u: torch.Tensor  # (N, half) view of u_ones
    w_expand: torch.Tensor  # (half + 1, hidden): expand with its bias as the last row

    @classmethod
    def of(cls, block, n: int, y: torch.Tensor | None, like: torch.Tensor) -> "ResidualRows":
        hidden, half = block.reduce.in_channels, block.reduce.out_channels
        w_reduce = as_matrix(block.reduce)  # (hidden, half)
        if block.class_bias is None:
            h_in, h_relu = with_ones(n, hidden, like)
            w_reduce = with_bias(w_reduce, block.reduce.bias)
        else:  # the one-hot class picks the row bias + class term
            h_in = torch.cat([like.new_zeros(n, hidden), F.one_hot(y, block.class_bias.num_embeddings).to(like)], 1)
            h_relu = h_in[:, :hidden]
            w_reduce = torch.cat([w_reduce, block.reduce.bias + block.class_bias.weight]).contiguous()
        u_ones, u = with_ones(n, half, like)
        return cls(h_in, h_relu, w_reduce, u_ones, u, as_matrix(block.expand, with_bias=True))


class PixelCNNCache:
    """Row caches of a ``PixelCNN``: the input convolution's and every residual block's k x k convolution.

    ``start_row(xrow)`` computes the rows-above part of each of these layers;
    ``pixel(j)`` returns the last features (N, hidden) at position j of the
    current row (a buffer that the next call overwrites) and caches what later
    positions need. The 1x1 convolutions need no cache.
    """

    def __init__(self, model: PixelCNN, batch: int, y: torch.Tensor | None, compiled: bool = False):
        c = model.config
        like, n, width = model.input_conv.weight, batch, c.width
        pin = c.input_kernel // 2
        self.x = RowBuffer(n, c.channels, width, pin, pin, like)  # the input image rows
        w_in = masked_weight(model.input_conv)
        self.w_in, self.b_in = top_rows(w_in, pin), model.input_conv.bias
        self.in_rows = like.new_zeros(n, width, c.hidden)  # (N, W, hidden): rows-above part + bias
        self.in_above = list(self.in_rows.unbind(1))
        self.in_taps = row_taps(w_in)
        self.h = like.new_zeros(n, c.hidden)  # (N, hidden): the residual stream at the current position
        self.conv = StackedRows([block.conv for block in model.blocks], n, width, like)
        self.blocks = [ResidualRows.of(block, n, y, like) for block in model.blocks]
        self.compiled = compiled
        if compiled:  # the same step as one compiled call on the same buffers (kernels.pixelcnn_step)
            from .kernels import pixelcnn_step

            self.step = pixelcnn_step
            b, half = self.blocks, self.conv.rows.shape[3]
            self.arrays = (c.channels,) + _arrays(
                self.x.cur.view(n, -1), self.in_rows, self.in_taps, self.conv.cur.flatten(2), self.conv.rows,
                b[0].h_in[:, c.hidden :].contiguous(), torch.stack([r.w_reduce for r in b]),
                torch.stack(self.conv.taps), torch.stack([r.w_expand for r in b]),
                like.new_empty(c.hidden), like.new_empty(half), self.h,
            )  # fmt: skip

    def start_row(self, xrow: torch.Tensor) -> None:
        """xrow: normalised input row (N, C, W) with the known values (the others at level 0)."""
        self.x.set_row(xrow)
        self.x.row_conv(self.w_in, self.b_in, self.in_rows)
        self.conv.start_row()

    def pixel(self, j: int) -> torch.Tensor:
        if self.compiled:
            self.step(j, *self.arrays)
            return self.h
        h, conv = self.h, self.conv
        torch.addmm(self.in_above[j], self.x.window[j], self.in_taps, out=h)  # (N, hidden)
        for l, b in enumerate(self.blocks):
            torch.clamp_min(h, 0, out=b.h_relu)
            torch.mm(b.h_in, b.w_reduce, out=conv.at[l][j]).relu_()  # (N, half): the k x k conv's input, cached
            torch.addmm(conv.above_at[l][j], conv.window[l][j], conv.taps[l], out=b.u).relu_()  # (N, half)
            h.addmm_(b.u_ones, b.w_expand)  # (N, hidden): residual + expand (bias in the ones column)
        return h

    def full_row(self) -> None:
        """Every position of a row that every image knows, layer by layer like a convolution."""
        h = torch.matmul(self.x.windows(), self.in_taps).add_(self.in_rows)  # (N, W, hidden)
        hidden = h.shape[2]
        for l, b in enumerate(self.blocks):
            reduce = torch.matmul(torch.relu(h), b.w_reduce[:hidden])  # (N, W, half)
            bias = b.h_in[:, hidden:] @ b.w_reduce[hidden:]  # (N, half): bias (and class term) per image
            self.conv.row(l).copy_(reduce.add_(bias[:, None])).relu_()  # the k x k convolution's input, cached
            u = torch.matmul(self.conv.windows(l), self.conv.taps[l]).add_(self.conv.rows[l]).relu_()  # (N, W, half)
            h = torch.matmul(u, b.w_expand[:-1]).add_(b.w_expand[-1]).add_(h)  # (N, W, hidden)

    def next_row(self) -> None:
        self.x.next_row()
        self.conv.next_row()

    def tensors(self) -> list[torch.Tensor]:
        out = self.x.tensors() + [self.in_rows, self.h] + self.conv.tensors()
        for b in self.blocks:
            out += [b.h_in, b.u_ones]
        return out


def gate_scale(two_h: int, like: torch.Tensor) -> torch.Tensor:
    """(2h,): 2 on the tanh half, 1 on the sigmoid half, see ``HorizontalRows``."""
    scale = like.new_ones(two_h)
    scale[: two_h // 2] = 2.0
    return scale


class VerticalRows(NamedTuple):
    """One gated block's vertical stack, run once per row, and its link into the horizontal stack."""

    w_conv: torch.Tensor  # (2h, h, k//2 + 1, k) masked top rows of v_conv
    b_conv: torch.Tensor  # (2h,)
    dilation: int  # of v_conv and h_conv: the taps are d apart
    v_class: torch.Tensor | None  # (N, 2h, 1): the class term of the vertical stack
    w_link: torch.Tensor  # (2h, 2h): v_to_h as a matrix, tanh half doubled
    h_bias: torch.Tensor  # (N * W, 2h): h_conv's and v_to_h's biases plus the class term, per position, tanh half doubled
    h_rows: torch.Tensor  # (N * W, 2h) view of the per-position bias the horizontal stack reads


class HorizontalRows(NamedTuple):
    """One gated block's horizontal stack at one position: 1 x k conv + link, gate, 1x1 out + residual.

    The gate tanh(a) * sigmoid(b) is computed as 2 sigmoid(2a) sigmoid(b) - sigmoid(b)
    (tanh(a) = 2 sigmoid(2a) - 1): the weights of the tanh half are doubled once, one
    sigmoid covers both halves, and h_out's matrix [2 W; -W; bias] takes the rest,
    so a step needs one sigmoid and one product instead of tanh, sigmoid and product.
    """

    rows: list  # per position j: (N, 2h) link + biases from the vertical stack
    window: list  # per position j: (N, (k//2 + 1) * h) taps of the block's input row
    taps: torch.Tensor  # ((k//2 + 1) * h, 2h): h_conv's centre-row taps as a matrix, tanh half doubled
    z: torch.Tensor  # (N, 2h + 1): [sigmoid(2a) sigmoid(b), sigmoid(b), 1], the input of h_out
    feat: torch.Tensor  # z[:, :2h]: (2a, b), the gate's input at this position, then its sigmoid
    sa: torch.Tensor  # z[:, :h]
    sb: torch.Tensor  # z[:, h : 2h]
    h_at: list  # per position j: (N, h) the block's input (the residual)
    w_out: torch.Tensor  # (2h + 1, h): [2 W; -W; bias] of h_out
    out_at: list  # per position j: (N, h) the block's output, cached for later taps


class GatedCache:
    """Row caches of a ``GatedPixelCNN``.

    The vertical stack depends on rows above only, so ``start_row`` runs it
    once for the whole row and turns its link into the horizontal stack
    (with the biases and class terms) into a per-position bias. ``pixel(j)``
    then runs only the horizontal stack, whose 1 x k convolutions cache the
    current row of their input. A block of dilation d keeps d (k//2) + 1 rows of
    vertical input, and its horizontal input row by remainder modulo d (``LeftRow``).
    """

    def __init__(self, model: GatedPixelCNN, batch: int, y: torch.Tensor | None, compiled: bool = False):
        c = model.config
        like, n, width, hid = model.h_in.weight, batch, c.width, c.hidden
        pin, p = c.input_kernel // 2, c.kernel_size // 2
        dils = [block.v_conv.dilation[0] for block in model.blocks]
        # Input rows: the rows above feed v_in (first=True hides the current row), the current row h_in.
        self.x = RowBuffer(n, c.channels, width, pin, pin, like)
        self.w_v_in, self.b_v_in = top_rows(masked_weight(model.v_in), pin), model.v_in.bias
        self.in_taps = row_taps(masked_weight(model.h_in))
        self.in_bias = model.h_in.bias.expand(n, hid).contiguous()
        # Vertical stack: rows i - d k//2 ... i of the input of every block's v_conv, channel first.
        self.v = [like.new_zeros(n, hid, d * p + 1, width + 2 * d * p) for d in dils]
        # Horizontal stack: the current row of the input layer's and every block's output, laid out for
        # the dilation of the block that reads it (the last one is read by the head only).
        self.h = [LeftRow(n, hid, width, p, d, like) for d in dils + [1]]
        self.link = like.new_zeros(len(dils), n, width, 2 * hid)  # (L, N, W, 2h): per-position bias of every block
        self.h_rows = list(self.link.unbind(0))  # (N, W, 2h) per block
        self.vertical = [self._vertical(block, rows, y, n, width) for block, rows in zip(model.blocks, self.h_rows)]
        self.blocks = [
            self._horizontal(block, self.h_rows[l], self.h[l], self.h[l + 1], n, like)
            for l, block in enumerate(model.blocks)
        ]
        self.compiled = compiled
        if compiled:  # the same step as one compiled call on the same buffers (kernels.gated_step)
            from .kernels import gated_step

            self.step = gated_step
            self.out = like.new_zeros(n, hid)  # (N, hidden): the features the step returns
            rows = _arrays(*(row.buf.flatten(2) for row in self.h))  # the input layer's and every block's output row
            bits = torch.empty(2 * hid, dtype=torch.int32)  # scratch of the sigmoid: 2^m as bits, read as float32
            self.arrays = (c.channels,) + _arrays(self.x.cur.view(n, -1), self.in_taps, self.in_bias) + (rows,) + _arrays(
                torch.tensor(dils + [1]), self.link, torch.stack([b.taps for b in self.blocks]),
                torch.stack([b.w_out for b in self.blocks]), like.new_empty(2 * hid), bits, bits.view(torch.float32),
                self.out,
            )  # fmt: skip

    @staticmethod
    def _vertical(block, h_rows, y, n: int, width: int) -> VerticalRows:
        two_h = h_rows.shape[2]
        scale = gate_scale(two_h, h_rows)
        v_class = block.v_class(y)[:, :, None] if block.v_class is not None else None  # (N, 2h, 1)
        h_bias = (block.h_conv.bias + block.v_to_h.bias).expand(n, two_h)  # (N, 2h)
        if block.h_class is not None:
            h_bias = h_bias + block.h_class(y)
        h_bias = (h_bias * scale)[:, None].expand(n, width, two_h).reshape(n * width, two_h)  # (N * W, 2h)
        w_conv = top_rows(masked_weight(block.v_conv), block.v_conv.kernel_size[0] // 2 + 1)
        return VerticalRows(
            w_conv, block.v_conv.bias, block.v_conv.dilation[0], v_class, as_matrix(block.v_to_h) * scale, h_bias, h_rows.view(n * width, two_h),
        )  # fmt: skip

    @staticmethod
    def _horizontal(block, h_rows, inp: LeftRow, out: LeftRow, n: int, like) -> HorizontalRows:
        hid = h_rows.shape[2] // 2
        z = like.new_ones(n, 2 * hid + 1)
        w = as_matrix(block.h_out)  # (h, h)
        w_out = torch.cat([2 * w, -w, block.h_out.bias[None]]).contiguous()  # (2h + 1, h)
        taps = row_taps(masked_weight(block.h_conv)) * gate_scale(2 * hid, like)
        return HorizontalRows(
            list(h_rows.unbind(1)), inp.window, taps, z, z[:, : 2 * hid], z[:, :hid], z[:, hid : 2 * hid],
            inp.at, w_out, out.at,
        )  # fmt: skip

    def start_row(self, xrow: torch.Tensor) -> None:
        """xrow: normalised input row (N, C, W); runs the vertical stack for this row."""
        x, width = self.x, self.x.width
        x.set_row(xrow)
        if not self.v:
            return
        self._last_row(0)[:] = conv_rows(x.above, self.w_v_in, self.b_v_in, width)  # rows above only
        for l, vert in enumerate(self.vertical):
            v_feat = conv_rows(self.v[l], vert.w_conv, vert.b_conv, width, vert.dilation)  # (N, 2h, W): rows i - d k//2 ... i
            link = v_feat.transpose(1, 2).reshape(-1, v_feat.shape[1])  # (N * W, 2h)
            torch.addmm(vert.h_bias, link, vert.w_link, out=vert.h_rows)  # v_to_h(v_feat) + biases + class
            if l + 1 < len(self.v):
                if vert.v_class is not None:
                    v_feat = v_feat + vert.v_class
                a, b = v_feat.chunk(2, dim=1)
                self._last_row(l + 1)[:] = torch.tanh(a) * torch.sigmoid(b)

    def _last_row(self, l: int) -> torch.Tensor:
        """Block l's newest row of vertical input, without its padding: a (N, h, W) view."""
        v, width = self.v[l], self.x.width
        pad = (v.shape[3] - width) // 2
        return v[:, :, -1, pad : pad + width]

    def pixel(self, j: int) -> torch.Tensor:
        if self.compiled:
            self.step(j, *self.arrays)
            return self.out
        h = torch.addmm(self.in_bias, self.x.window[j], self.in_taps, out=self.h[0].at[j])  # (N, hidden)
        for b in self.blocks:
            torch.addmm(b.rows[j], b.window[j], b.taps, out=b.feat).sigmoid_()  # (N, 2h): h_conv + link + biases
            b.sa.mul_(b.sb)
            h = torch.addmm(b.h_at[j], b.z, b.w_out, out=b.out_at[j])  # (N, h): residual + h_out of the gate
        return h

    def full_row(self) -> None:
        """Every position of a row that every image knows, layer by layer like a convolution."""
        h = torch.matmul(self.x.windows(), self.in_taps).add_(self.in_bias[:, None])  # (N, W, hidden)
        self.h[0].set_row(h)
        for l, b in enumerate(self.blocks):
            s = torch.matmul(self.h[l].windows(), b.taps).add_(self.h_rows[l]).sigmoid_()  # (N, W, 2h)
            hid = s.shape[2] // 2
            s[..., :hid].mul_(s[..., hid:])
            h = torch.matmul(s, b.w_out[:-1]).add_(b.w_out[-1]).add_(h)  # (N, W, h)
            self.h[l + 1].set_row(h)

    def next_row(self) -> None:
        self.x.next_row()
        for v in self.v:
            for r in range(v.shape[2] - 1):
                v[:, :, r].copy_(v[:, :, r + 1])

    def tensors(self) -> list[torch.Tensor]:
        out = self.x.tensors() + self.v + self.h_rows
        for b in self.blocks:
            out.append(b.z)
        for buf in self.h:
            out += buf.tensors()
        return out


def _arrays(*tensors: torch.Tensor) -> tuple:
    """numpy arrays that share memory with ``tensors`` (the compiled step writes into the cache's buffers)."""
    arrays = tuple(t.detach().numpy() for t in tensors)
    assert all(a.flags.c_contiguous for a in arrays), "the compiled step needs contiguous buffers"
    return arrays


def compiled_by_default() -> bool:
    """True unless PIXELCOURSE_COMPILED is 0 or numba cannot be imported (which takes it ~0.4 s, once)."""
    setting = os.environ.get("PIXELCOURSE_COMPILED", "1").strip()
    if setting not in ("0", "1"):
        raise ValueError(
            f"PIXELCOURSE_COMPILED must be 0 (sample with torch's operations) or 1 (compiled steps), got {setting!r}."
        )
    if setting == "0":
        return False
    from . import kernels  # imports numba

    return kernels.numba is not None


def compilable(model: AutoregressiveModel, compiled: bool | None = None) -> bool:
    """Whether ``make_cache`` gives ``model`` the compiled step: asked for (by default when numba is
    installed and PIXELCOURSE_COMPILED is not 0), float32 weights on the CPU, and at least one block."""
    if compiled is None:
        compiled = compiled_by_default()
    weight = next(model.parameters())
    return bool(compiled) and weight.device.type == "cpu" and weight.dtype == torch.float32 and model.config.layers > 0


def make_cache(model: AutoregressiveModel, batch: int, y: torch.Tensor | None = None, compiled: bool | None = None):
    """The row caches of ``model`` for ``batch`` images (labels y (batch,) for conditional models).

    compiled: run each step as one compiled call (``kernels``) instead of torch operations; the
    default uses it where numba is installed. Both give the same numbers up to float rounding.
    """
    compiled = compilable(model, compiled)
    if isinstance(model, GatedPixelCNN):
        return GatedCache(model, batch, y, compiled)
    if set(model.config.dilations) != {1}:
        raise ValueError(
            f"The fast sampler keeps dilated rows for the Gated PixelCNN only; this PixelCNN has dilations "
            f"{model.config.dilations}. Sample it with method=\"naive\"."
        )
    if isinstance(model, PixelCNN):
        return PixelCNNCache(model, batch, y, compiled)
    raise TypeError(f"Fast sampling supports PixelCNN and GatedPixelCNN models, got {type(model).__name__}.")


def cache_bytes(cache) -> int:
    """Memory held by a cache's tensors, in bytes."""
    return sum(t.numel() * t.element_size() for t in cache.tensors())
