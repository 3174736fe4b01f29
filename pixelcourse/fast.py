"""Fast sampling with per-layer row caches (notebook 06), after Ramachandran et al. 2017.

The naive sampler runs the whole network on the whole image for every
sub-pixel, although only one position is new. Here every masked layer keeps
a small cache of its input rows (kernel height rows x image width x channels
per image) and each step computes the new position only:

* rows above the current one are final once the row starts, so their part of
  every kxk convolution is computed once per row, for the whole row, with one
  ``conv2d`` per layer (``start_row``);
* the current row is filled left to right: at pixel (i, j) each layer adds
  the taps j - k//2 ... j of its cached current row with one small matmul
  (``pixel``);
* the Gated PixelCNN's vertical stack only sees rows above, so it is computed
  once per row; its link into the horizontal stack becomes a per-row bias;
* with colour, the part from other pixels is shared by the three sub-pixels
  of a pixel; each colour step recomputes only the centre-pixel path, whose
  masks let group g see the sub-pixels before g.

Every weight is used as ``weight * mask``, so the logits equal a full forward
pass up to float rounding. The caches are allocated once per call and never
grow: their size is layers x kernel rows x width x channels per image.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from .models import AutoregressiveModel, GatedPixelCNN, PixelCNN
from .sampling import check_temperature, sample_step


def _masked(conv) -> torch.Tensor:
    """A (masked) convolution's effective weight (out, in, kh, kw)."""
    mask = getattr(conv, "mask", None)
    return conv.weight if mask is None else conv.weight * mask


def _row_taps(weight: torch.Tensor) -> torch.Tensor:
    """Centre-row taps left of and at the centre as a matrix ((kw//2 + 1) * in, out).

    Row order (tap, in channel) matches a window ``cur[:, j : j + kw//2 + 1]``
    of a channel-last row buffer flattened per image.
    """
    kh, kw = weight.shape[2:]
    taps = weight[:, :, kh // 2, : kw // 2 + 1]  # (out, in, kw//2 + 1)
    return taps.permute(2, 1, 0).reshape(-1, weight.shape[0]).contiguous()


def _matrix(conv1x1) -> torch.Tensor:
    """A 1x1 (masked) convolution as a matrix (in, out) for ``features @ matrix``."""
    return _masked(conv1x1)[:, :, 0, 0].t().contiguous()


class RowBuffer:
    """The cached input rows of one layer with a k x k (or 1 x k) kernel.

    ``above`` (N, channels, rows_above, pad + W + pad), channel first: the
    final rows above the current one, read by one ``conv2d`` per row.
    ``cur`` (N, pad + W + pad, channels), channel last: the current row,
    written pixel by pixel; ``window[j]`` (N, (pad + 1) * channels) views the
    taps j - pad ... j and ``at[j]`` (N, channels) the position j. Zero padding
    stands for the zero padding of the convolution.
    """

    def __init__(self, batch: int, channels: int, width: int, pad: int, rows_above: int, like: torch.Tensor):
        self.pad, self.width = pad, width
        self.above = like.new_zeros(batch, channels, rows_above, width + 2 * pad)
        self.cur = like.new_zeros(batch, width + 2 * pad, channels)
        self.window = [self.cur[:, j : j + pad + 1].reshape(batch, -1) for j in range(width)]
        self.at = [self.cur[:, pad + j] for j in range(width)]

    def next_row(self) -> None:
        """The current row becomes the last row above; the oldest row is dropped."""
        rows = self.above.shape[2]
        for r in range(rows - 1):
            self.above[:, :, r].copy_(self.above[:, :, r + 1])
        if rows:
            self.above[:, :, rows - 1].copy_(self.cur.transpose(1, 2))

    def tensors(self) -> list[torch.Tensor]:
        return [self.above, self.cur]


def _row_conv(buffer: RowBuffer, weight: torch.Tensor, bias: torch.Tensor | None, out: torch.Tensor) -> None:
    """Contribution of the rows above to every position of the current row, plus the bias.

    weight: the full (out, in, kh, kw) effective kernel; out: (N, W, out) channel last.
    """
    rows = buffer.above.shape[2]
    top = weight[:, :, :rows]  # kernel rows that see the rows above
    if rows:
        res = F.conv2d(buffer.above, top, bias)  # (N, out, 1, W)
        out.copy_(res[:, :, 0].transpose(1, 2))
    else:
        out.copy_(bias if bias is not None else 0)


class PixelCNNCache:
    """Row caches of a ``PixelCNN``: the input convolution and the kxk convolution of every residual block.

    ``start_row(xrow)`` computes the rows-above part of each layer;
    ``pixel(j)`` returns the last features (N, hidden) at position j of the
    current row and stores what later positions need.
    """

    def __init__(self, model: PixelCNN, batch: int, y: torch.Tensor | None):
        c = model.config
        w = model.input_conv.weight
        n, width = batch, c.width
        pin = c.input_kernel // 2
        self.x = RowBuffer(n, c.channels, width, pin, pin, w)
        self.w_in = _masked(model.input_conv)
        self.b_in = model.input_conv.bias
        self.in_rows = w.new_zeros(n, width, c.hidden)  # (N, W, hidden): rows above + bias
        self.in_taps = _row_taps(self.w_in)
        self.in_above = list(self.in_rows.unbind(1))

        self.blocks = []
        self.layers = []  # (buffer, weight, bias, rows-above output) per block, for start_row
        p = c.kernel_size // 2
        for block in model.blocks:
            half = block.reduce.out_channels
            buf = RowBuffer(n, half, width, p, p, w)
            rows = w.new_zeros(n, width, half)  # (N, W, half)
            reduce_bias = block.reduce.bias.expand(n, half)
            if block.class_bias is not None:
                reduce_bias = reduce_bias + block.class_bias(y)  # (N, half)
            w_conv = _masked(block.conv)
            self.layers.append((buf, w_conv, block.conv.bias, rows))
            self.blocks.append(
                (
                    _matrix(block.reduce),
                    reduce_bias.contiguous(),
                    buf.at,
                    list(rows.unbind(1)),
                    buf.window,
                    _row_taps(w_conv),
                    _matrix(block.expand),
                    block.expand.bias,
                )
            )

    def start_row(self, xrow: torch.Tensor) -> None:
        """xrow: normalised input row (N, C, W) with the known values (others as the zero level)."""
        self.x.cur[:, self.x.pad : self.x.pad + self.x.width].copy_(xrow.transpose(1, 2))
        _row_conv(self.x, self.w_in, self.b_in, self.in_rows)
        for buf, weight, bias, rows in self.layers:
            _row_conv(buf, weight, bias, rows)

    def pixel(self, j: int) -> torch.Tensor:
        h = torch.addmm(self.in_above[j], self.x.window[j], self.in_taps)  # (N, hidden)
        for w_red, b_red, at, above, window, taps, w_exp, b_exp in self.blocks:
            u = torch.addmm(b_red, torch.relu(h), w_red)  # (N, half)
            torch.clamp(u, min=0, out=at[j])  # this position's conv input, cached for later taps
            u = torch.addmm(above[j], window[j], taps).relu_()  # (N, half)
            h = torch.addmm(h, u, w_exp).add_(b_exp)  # (N, hidden): residual
        return h

    def next_row(self) -> None:
        self.x.next_row()
        for buf, *_ in self.layers:
            buf.next_row()

    def tensors(self) -> list[torch.Tensor]:
        out = self.x.tensors() + [self.in_rows]
        for buf, _, _, rows in self.layers:
            out += buf.tensors() + [rows]
        return out


class GatedCache:
    """Row caches of a ``GatedPixelCNN``.

    The vertical stack depends on rows above only, so ``start_row`` runs it
    once for the whole row and turns its link into the horizontal stack
    (plus biases and class terms) into a per-position bias. ``pixel(j)`` then
    runs only the horizontal stack at position j.
    """

    def __init__(self, model: GatedPixelCNN, batch: int, y: torch.Tensor | None):
        c = model.config
        w = model.h_in.weight
        n, width, hid = batch, c.width, c.hidden
        pin = c.input_kernel // 2
        p = c.kernel_size // 2
        # Input: rows above for v_in (first=True: the current row is hidden), current row for h_in.
        self.x = RowBuffer(n, c.channels, width, pin, pin, w)
        self.w_v_in = _masked(model.v_in)
        self.b_v_in = model.v_in.bias
        self.in_taps = _row_taps(_masked(model.h_in))
        self.in_bias = model.h_in.bias.expand(n, hid).contiguous()
        # Vertical stack: the rows i - k//2 ... i of each layer's output, channel first.
        self.p = p
        self.v = [w.new_zeros(n, hid, p + 1, width + 2 * p) for _ in range(len(model.blocks))]
        # Horizontal stack: the current row of each layer's output (layer 0 = input layer).
        self.h = [RowBuffer(n, hid, width, p, 0, w) for _ in range(len(model.blocks) + 1)]
        self.h_rows = [w.new_zeros(n, width, 2 * hid) for _ in model.blocks]  # (N, W, 2h) per-row bias
        self.h_flat = [rows.view(n * width, 2 * hid) for rows in self.h_rows]

        self.vertical = []
        self.blocks = []
        for l, block in enumerate(model.blocks):
            v_class = block.v_class(y)[:, :, None] if block.v_class is not None else None  # (N, 2h, 1)
            h_bias = (block.h_conv.bias + block.v_to_h.bias).expand(n, 2 * hid)  # (N, 2h)
            if block.h_class is not None:
                h_bias = h_bias + block.h_class(y)
            h_bias = h_bias[:, None].expand(n, width, 2 * hid).reshape(n * width, 2 * hid)  # (N * W, 2h)
            self.vertical.append((_masked(block.v_conv), block.v_conv.bias, v_class, _matrix(block.v_to_h), h_bias))
            h_in, h_out = self.h[l], self.h[l + 1]
            hf = w.new_zeros(n, 2 * hid)  # gate input, reused at every step
            self.blocks.append(
                (
                    list(self.h_rows[l].unbind(1)),
                    h_in.window,
                    _row_taps(_masked(block.h_conv)),
                    hf,
                    hf[:, :hid],
                    hf[:, hid:],
                    h_in.at,
                    _matrix(block.h_out),
                    block.h_out.bias,
                    h_out.at,
                )
            )

    def start_row(self, xrow: torch.Tensor) -> None:
        """xrow: normalised input row (N, C, W); runs the vertical stack for this row."""
        x, p, width = self.x, self.p, self.x.width
        x.cur[:, x.pad : x.pad + width].copy_(xrow.transpose(1, 2))
        if not self.v:
            return
        top = self.w_v_in[:, :, : x.above.shape[2]]  # first=True: rows above only
        self.v[0][:, :, -1, p : p + width] = F.conv2d(x.above, top, self.b_v_in)[:, :, 0]
        for l, (weight, bias, v_class, w_link, h_bias) in enumerate(self.vertical):
            v_feat = F.conv2d(self.v[l], weight[:, :, : p + 1], bias)[:, :, 0]  # (N, 2h, W)
            torch.addmm(h_bias, v_feat.transpose(1, 2).reshape(-1, v_feat.shape[1]), w_link, out=self.h_flat[l])
            if l + 1 < len(self.v):
                if v_class is not None:
                    v_feat = v_feat + v_class
                a, b = v_feat.chunk(2, dim=1)
                self.v[l + 1][:, :, -1, p : p + width] = torch.tanh(a) * torch.sigmoid(b)

    def pixel(self, j: int) -> torch.Tensor:
        h = torch.addmm(self.in_bias, self.x.window[j], self.in_taps, out=self.h[0].at[j])  # (N, hidden)
        for rows, window, taps, hf, a, b, h_at, w_out, b_out, out_at in self.blocks:
            torch.addmm(rows[j], window[j], taps, out=hf)  # (N, 2h)
            g = torch.tanh(a).mul_(torch.sigmoid(b))  # (N, h): gated activation
            h = torch.addmm(h_at[j], g, w_out, out=out_at[j]).add_(b_out)  # (N, h): residual
        return h

    def next_row(self) -> None:
        self.x.next_row()
        for v in self.v:
            for r in range(v.shape[2] - 1):
                v[:, :, r].copy_(v[:, :, r + 1])

    def tensors(self) -> list[torch.Tensor]:
        out = self.x.tensors() + self.v + self.h_rows
        for buf in self.h:
            out += buf.tensors()
        return out


class Head:
    """The output head at one position, for one colour channel at a time.

    Output channel l * C + c of the last 1x1 convolution is level l of colour
    c, so colour c only needs the columns c, C + c, 2C + c, ...
    """

    def __init__(self, model: AutoregressiveModel):
        C = model.config.channels
        first, last = model.head[1], model.head[3]
        self.w1, self.b1 = _matrix(first), first.bias
        w2 = _matrix(last)  # (hidden, levels * C)
        self.w2 = [w2[:, c::C].contiguous() for c in range(C)]  # (hidden, levels) per colour
        self.b2 = [last.bias[c::C].contiguous() for c in range(C)]

    def __call__(self, features: torch.Tensor, c: int) -> torch.Tensor:
        """features (N, hidden) -> logits (N, levels) of colour c."""
        a = torch.addmm(self.b1, torch.relu(features), self.w1).relu_()  # (N, hidden)
        return torch.addmm(self.b2[c], a, self.w2[c])  # (N, levels)


def make_cache(model: AutoregressiveModel, batch: int, y: torch.Tensor | None = None):
    """The row caches of ``model`` for ``batch`` images (labels y for conditional models)."""
    if isinstance(model, GatedPixelCNN):
        return GatedCache(model, batch, y)
    if isinstance(model, PixelCNN):
        return PixelCNNCache(model, batch, y)
    raise TypeError(f"Fast sampling supports PixelCNN and GatedPixelCNN models, got {type(model).__name__}.")


def complete_fast(
    model: AutoregressiveModel,
    x: torch.Tensor,
    known: torch.Tensor,
    y: torch.Tensor | None,
    temperature: float,
    generator: torch.Generator | None = None,
    callback: Callable[[int, torch.Tensor], None] | None = None,
) -> None:
    """Fill the unknown sub-pixels of ``x`` in place, like the naive loop but one position per step.

    x: long (N, C, H, W), unknown entries zero; known: bool (N, C, H, W);
    y: long (N,) labels or None. Visits (i, j, c) in raster then colour order,
    skips a sub-pixel that every image knows, and otherwise calls
    ``sample_step`` once, so a seeded generator gives the naive sampler's
    samples. callback(row, x) runs after every finished row.
    """
    temperature = check_temperature(temperature)
    c = model.config
    step = sample_step  # looked up per call so that tests can watch the logits
    with torch.inference_mode():
        cache = make_cache(model, x.shape[0], y)
        head = Head(model)
        table = model.normalise(torch.arange(c.levels, device=x.device))  # (levels,) level -> input value
        x_at = [[cache.x.at[j][:, ch] for ch in range(c.channels)] for j in range(c.width)]  # (N,) views
        last = c.channels - 1
        for i in range(c.height):
            cache.start_row(model.normalise(x[:, :, i, :]))  # (N, C, W)
            todo = ~known[:, :, i, :]  # (N, C, W)
            need, every = todo.any(0).tolist(), todo.all(0).tolist()  # [C][W] per sub-pixel
            for j in range(c.width):
                for ch in range(c.channels):
                    if not need[ch][j]:
                        continue
                    logits = head(cache.pixel(j), ch)  # (N, levels)
                    new = step(logits, temperature, generator)  # (N,)
                    if not every[ch][j]:
                        new = torch.where(todo[:, ch, j], new, x[:, ch, i, j])
                    x[:, ch, i, j] = new
                    x_at[j][ch].copy_(table[new])
                if not need[last][j]:
                    cache.pixel(j)  # features of this position are still needed by later ones
            cache.next_row()
            if callback is not None:
                callback(i, x)
