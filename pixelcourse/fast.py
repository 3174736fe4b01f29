"""Fast sampling with per-layer row caches (notebook 06), after Ramachandran et al. 2017.

The naive sampler runs the whole network on the whole image for every
sub-pixel, although only one position is new. Here every masked layer keeps
a small cache of its input rows (kernel height rows x image width x channels
per image) and each step computes the new position only:

* the rows above the current one are final once a row starts, so their part
  of every k x k convolution is computed once per row, for the whole row,
  with one ``conv2d`` per layer (``start_row``);
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
forward pass up to float rounding. All caches are allocated once per call and
never grow: layers x kernel rows x (width + padding) x channels per image.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import torch
import torch.nn.functional as F

from .layers import gated_activation
from .models import AutoregressiveModel, GatedPixelCNN, PixelCNN
from .sampling import check_temperature, check_top_p, sample_step


def _masked(conv) -> torch.Tensor:
    """A (masked) convolution's effective weight (out, in, kh, kw)."""
    mask = getattr(conv, "mask", None)
    return conv.weight if mask is None else conv.weight * mask


def _row_taps(weight: torch.Tensor) -> torch.Tensor:
    """The centre-row taps left of and at the centre as a matrix ((kw//2 + 1) * in, out).

    Rows are ordered (tap, in channel), like a window ``cur[:, j : j + kw//2 + 1]``
    of a channel-last row buffer flattened per image.
    """
    kh, kw = weight.shape[2:]
    taps = weight[:, :, kh // 2, : kw // 2 + 1]  # (out, in, taps)
    return taps.permute(2, 1, 0).reshape(-1, weight.shape[0]).contiguous()


def _matrix(conv1x1, with_bias: bool = False) -> torch.Tensor:
    """A 1x1 (masked) convolution as a matrix (in, out), optionally with the bias as an extra last row.

    With the bias row, ``[features, 1] @ matrix`` is the convolution, which
    saves one addition per step where the matmul's own input slot is taken.
    """
    matrix = _masked(conv1x1)[:, :, 0, 0].t()  # (in, out)
    if with_bias:
        matrix = torch.cat([matrix, conv1x1.bias[None]])  # (in + 1, out)
    return matrix.contiguous()


def _conv_rows(rows: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, width: int) -> torch.Tensor:
    """The top kernel rows of ``weight`` (out, in, kh, kw) applied to ``rows`` (N, in, r, pad + W + pad): (N, out, W).

    ``rows`` holds the r input rows that those kernel rows see, so the result
    is one output row. With no rows (a 1 x k kernel) only the bias is left.
    """
    r = rows.shape[2]
    if r == 0:
        out = weight.new_zeros(rows.shape[0], weight.shape[0], width)
        return out if bias is None else out + bias[:, None]
    return F.conv2d(rows, weight[:, :, :r], bias)[:, :, 0]


def _with_ones(batch: int, channels: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A buffer (N, channels + 1) whose last column is 1, and a view of its first ``channels`` columns."""
    buffer = like.new_ones(batch, channels + 1)
    return buffer, buffer[:, :channels]


class RowBuffer:
    """The cached input rows of one layer with a k x k (or 1 x k) kernel.

    ``above`` (N, channels, rows_above, pad + W + pad), channel first: the
    final rows above the current one, read by one ``conv2d`` per row.
    ``cur`` (N, pad + W + pad, channels), channel last: the current row,
    written position by position. ``window[j]`` (N, (pad + 1) * channels) views
    the taps j - pad ... j and ``at[j]`` (N, channels) the position j. The
    zeros around the image stand for the convolution's zero padding.
    """

    def __init__(self, batch: int, channels: int, width: int, pad: int, rows_above: int, like: torch.Tensor):
        self.pad, self.width = pad, width
        self.above = like.new_zeros(batch, channels, rows_above, width + 2 * pad)
        self.cur = like.new_zeros(batch, width + 2 * pad, channels)
        self.window = [self.cur[:, j : j + pad + 1].reshape(batch, -1) for j in range(width)]  # views
        self.at = [self.cur[:, pad + j] for j in range(width)]

    def windows(self) -> torch.Tensor:
        """The windows of every position at once: (N, W, (pad + 1) * channels)."""
        n = self.cur.shape[0]
        taps = self.cur.unfold(1, self.pad + 1, 1)[:, : self.width]  # (N, W, channels, pad + 1)
        return taps.transpose(2, 3).reshape(n, self.width, -1)

    def row(self) -> torch.Tensor:
        """The positions of the current row (without padding): a (N, W, channels) view."""
        return self.cur[:, self.pad : self.pad + self.width]

    def set_row(self, row: torch.Tensor) -> None:
        """row: (N, channels, W), the whole current row at once."""
        self.row().copy_(row.transpose(1, 2))

    def row_conv(self, weight: torch.Tensor, bias: torch.Tensor | None, out: torch.Tensor) -> None:
        """The rows-above part (plus bias) of a full kernel (out, in, kh, kw) at every position: out (N, W, out)."""
        out.copy_(_conv_rows(self.above, weight, bias, self.width).transpose(1, 2))

    def next_row(self) -> None:
        """The current row becomes the last row above; the oldest row is dropped."""
        rows = self.above.shape[2]
        for r in range(rows - 1):
            self.above[:, :, r].copy_(self.above[:, :, r + 1])
        if rows:
            self.above[:, :, rows - 1].copy_(self.cur.transpose(1, 2))

    def tensors(self) -> list[torch.Tensor]:
        return [self.above, self.cur]


class PixelCNNCache:
    """Row caches of a ``PixelCNN``: the input convolution's and every residual block's k x k convolution.

    ``start_row(xrow)`` computes the rows-above part of each of these layers;
    ``pixel(j)`` returns the last features (N, hidden) at position j of the
    current row and caches what later positions need. The 1x1 convolutions
    need no cache.
    """

    def __init__(self, model: PixelCNN, batch: int, y: torch.Tensor | None):
        c = model.config
        like, n, width = model.input_conv.weight, batch, c.width
        pin, p = c.input_kernel // 2, c.kernel_size // 2
        self.x = RowBuffer(n, c.channels, width, pin, pin, like)  # the input image rows
        self.w_in, self.b_in = _masked(model.input_conv), model.input_conv.bias
        self.in_rows = like.new_zeros(n, width, c.hidden)  # (N, W, hidden): rows-above part + bias
        self.in_above = list(self.in_rows.unbind(1))
        self.in_taps = _row_taps(self.w_in)

        self.convs, self.blocks = [], []
        for block in model.blocks:
            half = block.reduce.out_channels
            buf = RowBuffer(n, half, width, p, p, like)  # input rows of the k x k convolution
            rows = like.new_zeros(n, width, half)  # (N, W, half): rows-above part + bias
            reduce_bias = block.reduce.bias.expand(n, half)
            if block.class_bias is not None:
                reduce_bias = reduce_bias + block.class_bias(y)  # (N, half)
            u_ones, u = _with_ones(n, half, like)
            self.convs.append((buf, _masked(block.conv), block.conv.bias, rows))
            self.blocks.append(
                (
                    _matrix(block.reduce), reduce_bias.contiguous(), buf.at,
                    list(rows.unbind(1)), buf.window, _row_taps(_masked(block.conv)), u, u_ones,
                    _matrix(block.expand, with_bias=True),
                )
            )  # fmt: skip

    def start_row(self, xrow: torch.Tensor) -> None:
        """xrow: normalised input row (N, C, W) with the known values (the others at level 0)."""
        self.x.set_row(xrow)
        self.x.row_conv(self.w_in, self.b_in, self.in_rows)
        for buf, weight, bias, rows in self.convs:
            buf.row_conv(weight, bias, rows)

    def pixel(self, j: int) -> torch.Tensor:
        h = torch.addmm(self.in_above[j], self.x.window[j], self.in_taps)  # (N, hidden)
        for w_red, b_red, at, above, window, taps, u, u_ones, w_exp in self.blocks:
            torch.addmm(b_red, torch.relu(h), w_red, out=at[j]).relu_()  # (N, half), cached for later taps
            torch.addmm(above[j], window[j], taps, out=u).relu_()  # (N, half): the k x k convolution
            h = torch.addmm(h, u_ones, w_exp)  # (N, hidden): residual + expand (bias in the ones column)
        return h

    def full_row(self) -> None:
        """Every position of a row that every image knows, layer by layer like a convolution."""
        h = torch.matmul(self.x.windows(), self.in_taps).add_(self.in_rows)  # (N, W, hidden)
        for (buf, _, _, rows), (w_red, b_red, _, _, _, taps, _, _, w_exp) in zip(self.convs, self.blocks):
            u = buf.row()  # (N, W, half): the k x k convolution's input, cached
            u.copy_(torch.matmul(torch.relu(h), w_red).add_(b_red[:, None])).relu_()
            u = torch.matmul(buf.windows(), taps).add_(rows).relu_()  # (N, W, half)
            h = torch.matmul(u, w_exp[:-1]).add_(w_exp[-1]).add_(h)  # (N, W, hidden)

    def next_row(self) -> None:
        self.x.next_row()
        for buf, *_ in self.convs:
            buf.next_row()

    def tensors(self) -> list[torch.Tensor]:
        out = self.x.tensors() + [self.in_rows]
        for buf, _, _, rows in self.convs:
            out += buf.tensors() + [rows]
        return out + [b[7] for b in self.blocks]


class GatedCache:
    """Row caches of a ``GatedPixelCNN``.

    The vertical stack depends on rows above only, so ``start_row`` runs it
    once for the whole row and turns its link into the horizontal stack
    (with the biases and class terms) into a per-position bias. ``pixel(j)``
    then runs only the horizontal stack, whose 1 x k convolutions cache the
    current row of their input.
    """

    def __init__(self, model: GatedPixelCNN, batch: int, y: torch.Tensor | None):
        c = model.config
        like, n, width, hid = model.h_in.weight, batch, c.width, c.hidden
        pin, p = c.input_kernel // 2, c.kernel_size // 2
        self.p = p
        # Input rows: the rows above feed v_in (first=True hides the current row), the current row h_in.
        self.x = RowBuffer(n, c.channels, width, pin, pin, like)
        self.w_v_in, self.b_v_in = _masked(model.v_in), model.v_in.bias
        self.in_taps = _row_taps(_masked(model.h_in))
        self.in_bias = model.h_in.bias.expand(n, hid).contiguous()
        # Vertical stack: rows i - k//2 ... i of the input of every block's v_conv, channel first.
        self.v = [like.new_zeros(n, hid, p + 1, width + 2 * p) for _ in model.blocks]
        # Horizontal stack: the current row of the input layer's and every block's output.
        self.h = [RowBuffer(n, hid, width, p, 0, like) for _ in range(len(model.blocks) + 1)]
        self.h_rows = [like.new_zeros(n, width, 2 * hid) for _ in model.blocks]  # (N, W, 2h) per-position bias

        self.vertical, self.blocks, self.scratch = [], [], []
        for l, block in enumerate(model.blocks):
            v_class = block.v_class(y)[:, :, None] if block.v_class is not None else None  # (N, 2h, 1)
            h_bias = (block.h_conv.bias + block.v_to_h.bias).expand(n, 2 * hid)  # (N, 2h)
            if block.h_class is not None:
                h_bias = h_bias + block.h_class(y)
            h_bias = h_bias[:, None].expand(n, width, 2 * hid).reshape(n * width, 2 * hid)  # (N * W, 2h)
            self.vertical.append(
                (_masked(block.v_conv), block.v_conv.bias, v_class, _matrix(block.v_to_h), h_bias,
                 self.h_rows[l].view(n * width, 2 * hid))
            )  # fmt: skip
            feat = like.new_zeros(n, 2 * hid)  # the gate's input at this position
            g_ones, g = _with_ones(n, hid, like)  # the gate's output, with a ones column for the bias
            self.scratch += [feat, g_ones]
            self.blocks.append(
                (
                    list(self.h_rows[l].unbind(1)), self.h[l].window, _row_taps(_masked(block.h_conv)),
                    feat, feat[:, :hid], feat[:, hid:], g, g_ones, self.h[l].at,
                    _matrix(block.h_out, with_bias=True), self.h[l + 1].at,
                )
            )  # fmt: skip

    def start_row(self, xrow: torch.Tensor) -> None:
        """xrow: normalised input row (N, C, W); runs the vertical stack for this row."""
        x, p, width = self.x, self.p, self.x.width
        x.set_row(xrow)
        if not self.v:
            return
        self.v[0][:, :, p, p : p + width] = _conv_rows(x.above, self.w_v_in, self.b_v_in, width)  # rows above only
        for l, (weight, bias, v_class, w_link, h_bias, h_rows) in enumerate(self.vertical):
            v_feat = _conv_rows(self.v[l], weight, bias, width)  # (N, 2h, W): rows i - k//2 ... i
            link = v_feat.transpose(1, 2).reshape(-1, v_feat.shape[1])  # (N * W, 2h)
            torch.addmm(h_bias, link, w_link, out=h_rows)  # v_to_h(v_feat) + biases + class term
            if l + 1 < len(self.v):
                if v_class is not None:
                    v_feat = v_feat + v_class
                a, b = v_feat.chunk(2, dim=1)
                self.v[l + 1][:, :, p, p : p + width] = torch.tanh(a) * torch.sigmoid(b)

    def pixel(self, j: int) -> torch.Tensor:
        h = torch.addmm(self.in_bias, self.x.window[j], self.in_taps, out=self.h[0].at[j])  # (N, hidden)
        for rows, window, taps, feat, a, b, g, g_ones, h_at, w_out, out_at in self.blocks:
            torch.addmm(rows[j], window[j], taps, out=feat)  # (N, 2h): h_conv + link + biases
            torch.tanh(a, out=g).mul_(b.sigmoid_())  # (N, h): gated activation
            h = torch.addmm(h_at[j], g_ones, w_out, out=out_at[j])  # (N, h): residual + h_out (bias in ones column)
        return h

    def full_row(self) -> None:
        """Every position of a row that every image knows, layer by layer like a convolution."""
        h = torch.matmul(self.x.windows(), self.in_taps).add_(self.in_bias[:, None])  # (N, W, hidden)
        self.h[0].row().copy_(h)
        for l, (rows, _, taps, *_, w_out, _) in enumerate(self.blocks):
            feat = torch.matmul(self.h[l].windows(), taps).add_(self.h_rows[l])  # (N, W, 2h)
            g = gated_activation(feat.transpose(1, 2)).transpose(1, 2)  # (N, W, h)
            h = torch.matmul(g, w_out[:-1]).add_(w_out[-1]).add_(h)  # (N, W, h)
            self.h[l + 1].row().copy_(h)

    def next_row(self) -> None:
        self.x.next_row()
        for v in self.v:
            for r in range(v.shape[2] - 1):
                v[:, :, r].copy_(v[:, :, r + 1])

    def tensors(self) -> list[torch.Tensor]:
        out = self.x.tensors() + self.v + self.h_rows + self.scratch
        for buf in self.h:
            out += buf.tensors()
        return out


class Head:
    """The output head at one position, for one colour at a time.

    Output channel p * C + c of the last 1x1 convolution is output p of
    colour c (level p, or mixture parameter p), so colour c needs only the
    columns c, C + c, 2C + c, ...
    """

    def __init__(self, model: AutoregressiveModel):
        C = model.config.channels
        first, last = model.head[1], model.head[3]
        self.w1, self.b1 = _matrix(first), first.bias
        w2 = _matrix(last)  # (hidden, P * C)
        self.w2 = [w2[:, c::C].contiguous() for c in range(C)]  # (hidden, P) per colour
        self.b2 = [last.bias[c::C].contiguous() for c in range(C)]
        self.to_logits = model.logits_from_raw

    def __call__(self, features: torch.Tensor, c: int) -> torch.Tensor:
        """features (N, hidden) -> logits (N, levels) of colour c."""
        a = torch.addmm(self.b1, torch.relu(features), self.w1).relu_()  # (N, hidden)
        return self.to_logits(torch.addmm(self.b2[c], a, self.w2[c]))  # (N, levels)


def make_cache(model: AutoregressiveModel, batch: int, y: torch.Tensor | None = None):
    """The row caches of ``model`` for ``batch`` images (labels y (batch,) for conditional models)."""
    if set(model.config.dilations) != {1}:
        raise ValueError(
            f"The fast sampler keeps rows for undilated kernels only; this model has dilations "
            f"{model.config.dilations}. Sample it with method=\"naive\"."
        )
    if isinstance(model, GatedPixelCNN):
        return GatedCache(model, batch, y)
    if isinstance(model, PixelCNN):
        return PixelCNNCache(model, batch, y)
    raise TypeError(f"Fast sampling supports PixelCNN and GatedPixelCNN models, got {type(model).__name__}.")


def cache_bytes(cache) -> int:
    """Memory held by a cache's tensors, in bytes."""
    return sum(t.numel() * t.element_size() for t in cache.tensors())


def complete_fast(
    model: AutoregressiveModel,
    x: torch.Tensor,
    known: torch.Tensor,
    y: torch.Tensor | None,
    temperature: float,
    generator: torch.Generator | None = None,
    callback: Callable[[int, torch.Tensor], None] | None = None,
    top_p: float = 1.0,
) -> None:
    """Fill the unknown sub-pixels of ``x`` in place with cached one-position steps.

    x: long (N, C, H, W), unknown entries zero; known: bool (N, C, H, W);
    y: long (N,) labels or None; temperature > 0; 0 < top_p <= 1. Visits (i, j, c) in raster
    then colour order like the naive loop, skips a sub-pixel that every image
    knows, and otherwise calls ``sample_step`` once, so that a seeded
    generator gives the naive sampler's samples. callback(row, x) runs after
    every finished row.
    """
    temperature = check_temperature(temperature)
    top_p = check_top_p(top_p)
    threads = torch.get_num_threads()
    # Every step is a chain of tiny matmuls: waking a second thread costs more than it saves,
    # and on a shared machine a waiting thread can stall each operation for milliseconds.
    torch.set_num_threads(1)
    try:
        with torch.inference_mode():
            _fill(model, x, known, y, temperature, generator, callback, top_p)
    finally:
        torch.set_num_threads(threads)


def _fill(model, x, known, y, temperature, generator, callback, top_p):
    c = model.config
    n, C, width = x.shape[0], c.channels, c.width
    # sample_step is looked up at call time, so that a test can watch the logits
    step = sample_step if top_p == 1 else partial(sample_step, top_p=top_p)
    cache = make_cache(model, n, y)
    head = Head(model)
    table = model.normalise(torch.arange(c.levels, device=x.device))  # (levels,): level -> network input
    # The current row of x and of "unknown", with a view per sub-pixel, so that a step indexes nothing.
    row = x.new_zeros(n, C, width)  # (N, C, W) long
    todo = known.new_zeros(n, C, width)  # (N, C, W) bool
    row_at = [[row[:, ch, j] for ch in range(C)] for j in range(width)]
    todo_at = [[todo[:, ch, j] for ch in range(C)] for j in range(width)]
    input_at = [[cache.x.at[j][:, ch] for ch in range(C)] for j in range(width)]
    last = C - 1
    for i in range(c.height):
        row.copy_(x[:, :, i])
        torch.logical_not(known[:, :, i], out=todo)
        need, every = todo.any(0).tolist(), todo.all(0).tolist()  # [C][W]: some / all images sample it
        cache.start_row(table[row])  # (N, C, W) network input of the row
        if not any(map(any, need)):
            cache.full_row()  # every image knows this row: all positions at once
        else:
            for j in range(width):
                for ch in range(C):
                    if not need[ch][j]:
                        continue
                    logits = head(cache.pixel(j), ch)  # (N, levels)
                    new = step(logits, temperature, generator)  # (N,)
                    if every[ch][j]:
                        row_at[j][ch].copy_(new)
                    else:
                        torch.where(todo_at[j][ch], new, row_at[j][ch], out=row_at[j][ch])
                    torch.index_select(table, 0, row_at[j][ch], out=input_at[j][ch])
                if not need[last][j]:
                    cache.pixel(j)  # later positions still need this position's features
            x[:, :, i] = row
        cache.next_row()
        if callback is not None:
            callback(i, x)
