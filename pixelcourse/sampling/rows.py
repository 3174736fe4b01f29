"""Row buffers (notebook 06): the cached input rows of one masked convolution, and its weights as matrices.

The caches of ``caches.py`` are built from these pieces. Every weight is masked, sliced and
laid out once per sampling call, never per step.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def masked_weight(conv) -> torch.Tensor:
    """A (masked) convolution's effective weight (out, in, kh, kw)."""
    mask = getattr(conv, "mask", None)
    return conv.weight if mask is None else conv.weight * mask


def row_taps(weight: torch.Tensor) -> torch.Tensor:
    """The centre-row taps left of and at the centre as a matrix ((kw//2 + 1) * in, out).

    Rows are ordered (tap, in channel), like a window ``cur[:, j : j + kw//2 + 1]``
    of a channel-last row buffer flattened per image.
    """
    kh, kw = weight.shape[2:]
    taps = weight[:, :, kh // 2, : kw // 2 + 1]  # (out, in, taps)
    return taps.permute(2, 1, 0).reshape(-1, weight.shape[0]).contiguous()


def as_matrix(conv1x1, with_bias: bool = False) -> torch.Tensor:
    """A 1x1 (masked) convolution as a matrix (in, out), optionally with the bias as an extra last row.

    With the bias row, ``[features, 1] @ matrix`` is the convolution, which
    saves one addition per step where the matmul's own input slot is taken.
    """
    matrix = masked_weight(conv1x1)[:, :, 0, 0].t()  # (in, out)
    if with_bias:
        matrix = torch.cat([matrix, conv1x1.bias[None]])  # (in + 1, out)
    return matrix.contiguous()


def top_rows(weight: torch.Tensor, rows: int) -> torch.Tensor:
    """The top ``rows`` kernel rows of ``weight`` (out, in, kh, kw), contiguous: (out, in, rows, kw)."""
    return weight[:, :, :rows].contiguous()


def conv_rows(rows: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, width: int,
              dilation: int = 1) -> torch.Tensor:
    """Kernel rows ``weight`` (out, in, r, kw) (see ``top_rows``) applied to ``rows`` (N, in, rows, pad + W + pad): (N, out, W).

    ``rows`` holds the input rows that those kernel rows see (d (r - 1) + 1 of them for dilation d),
    so the result is one output row. With no rows (a 1 x k kernel) only the bias is left.
    """
    if rows.shape[2] == 0:
        out = weight.new_zeros(rows.shape[0], weight.shape[0], width)
        return out if bias is None else out + bias[:, None]
    return F.conv2d(rows, weight, bias, dilation=dilation)[:, :, 0]


def with_ones(batch: int, channels: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A buffer (N, channels + 1) whose last column is 1, and a view of its first ``channels`` columns."""
    buffer = like.new_ones(batch, channels + 1)
    return buffer, buffer[:, :channels]


def with_bias(matrix: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """(in, out) and bias (out,) -> (in + 1, out): ``[x, 1] @ result`` is ``x @ matrix + bias``."""
    return torch.cat([matrix, bias[None]]).contiguous()


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
        """The rows-above part (plus bias) of a kernel at every position: out (N, W, out).

        weight: the kernel's top rows (out, in, rows_above, kw), from ``top_rows``.
        """
        out.copy_(conv_rows(self.above, weight, bias, self.width).transpose(1, 2))

    def next_row(self) -> None:
        """The current row becomes the last row above; the oldest row is dropped."""
        rows = self.above.shape[2]
        for r in range(rows - 1):
            self.above[:, :, r].copy_(self.above[:, :, r + 1])
        if rows:
            self.above[:, :, rows - 1].copy_(self.cur.transpose(1, 2))

    def tensors(self) -> list[torch.Tensor]:
        return [self.above, self.cur]


class LeftRow:
    """The current row of a layer whose 1 x k kernel reads only taps left of and at the centre, at dilation d.

    The taps of position j are j - d * pad, ..., j - d, j. Positions are stored by their remainder
    modulo d: position j lives at ``buf[:, j % d, pad + j // d]``, so the taps of every position lie
    side by side and ``window[j]`` (N, (pad + 1) * channels) is a view, as in ``RowBuffer``; ``at[j]``
    (N, channels) views position j. With d = 1 this is a row with zeros on the left only.
    """

    def __init__(self, batch: int, channels: int, width: int, pad: int, dilation: int, like: torch.Tensor):
        d = dilation
        self.pad, self.width, self.d = pad, width, d
        self.buf = like.new_zeros(batch, d, pad + -(-width // d), channels)  # (N, d, pad + ceil(W / d), channels)
        self.window = [self.buf[:, j % d, j // d : j // d + pad + 1].reshape(batch, -1) for j in range(width)]  # views
        self.at = [self.buf[:, j % d, pad + j // d] for j in range(width)]

    def set_row(self, row: torch.Tensor) -> None:
        """row: (N, W, channels), every position at once."""
        for r in range(self.d):
            self.buf[:, r, self.pad : self.pad + len(range(r, self.width, self.d))].copy_(row[:, r :: self.d])

    def windows(self) -> torch.Tensor:
        """The windows of every position at once: (N, W, (pad + 1) * channels)."""
        n, channels = self.buf.shape[0], self.buf.shape[3]
        out = self.buf.new_empty(n, self.width, (self.pad + 1) * channels)
        for r in range(self.d):
            count = len(range(r, self.width, self.d))
            taps = self.buf[:, r].unfold(1, self.pad + 1, 1)[:, :count]  # (N, count, channels, pad + 1)
            out[:, r :: self.d] = taps.transpose(2, 3).reshape(n, count, -1)
        return out

    def tensors(self) -> list[torch.Tensor]:
        return [self.buf]


class StackedRows:
    """The k x k convolutions' input rows of all L residual blocks, in one tensor per kind.

    The rows above are final when a row starts, so one batched matmul gives every
    block's rows-above part at every position of the row (``start_row``), instead of
    one convolution per block. Channel last: ``cur`` (L, N, pad + W + pad, channels)
    is the current row, ``above`` (L, N, pad, pad + W + pad, channels) the rows above,
    ``rows`` (L, N, W, out) the rows-above part plus bias. Per block l and position j:
    ``at[l][j]`` (N, channels), ``window[l][j]`` (N, (pad + 1) * channels) and
    ``above_at[l][j]`` (N, out) are views.
    """

    def __init__(self, convs, batch: int, width: int, like: torch.Tensor):
        k = convs[0].kernel_size[0]
        p, channels, out = k // 2, convs[0].in_channels, convs[0].out_channels
        self.pad, self.width, self.kernel = p, width, k
        n, blocks = batch, len(convs)
        self.cur = like.new_zeros(blocks, n, width + 2 * p, channels)
        self.above = like.new_zeros(blocks, n, p, width + 2 * p, channels)
        self.rows = like.new_zeros(blocks, n, width, out)
        weights = [masked_weight(conv) for conv in convs]
        # (L, p * k * in, out), rows ordered (kernel row, tap, in channel) like the unfolded rows above
        self.w_rows = torch.stack([w[:, :, :p].permute(2, 3, 1, 0).reshape(-1, out) for w in weights])
        self.b_rows = torch.stack([conv.bias for conv in convs])[:, None]  # (L, 1, out)
        self.taps = [row_taps(w) for w in weights]  # ((p + 1) * in, out) per block
        self.at = [[self.cur[l, :, p + j] for j in range(width)] for l in range(blocks)]
        self.window = [[self.cur[l, :, j : j + p + 1].reshape(n, -1) for j in range(width)] for l in range(blocks)]
        self.above_at = [list(self.rows[l].unbind(1)) for l in range(blocks)]

    def start_row(self) -> None:
        """Every block's rows-above part (plus bias) at every position of the current row: ``rows``."""
        blocks, n, p, width = self.above.shape[0], self.above.shape[1], self.pad, self.width
        taps = self.above.unfold(3, self.kernel, 1)  # (L, N, p, W, channels, k)
        cols = taps.permute(0, 1, 3, 2, 5, 4).reshape(blocks, n * width, -1)  # (L, N * W, p * k * channels)
        torch.baddbmm(self.b_rows, cols, self.w_rows, out=self.rows.view(blocks, n * width, -1))

    def windows(self, l: int) -> torch.Tensor:
        """Block l's windows at every position at once: (N, W, (pad + 1) * channels)."""
        cur = self.cur[l]
        taps = cur.unfold(1, self.pad + 1, 1)[:, : self.width]  # (N, W, channels, pad + 1)
        return taps.transpose(2, 3).reshape(cur.shape[0], self.width, -1)

    def row(self, l: int) -> torch.Tensor:
        """Block l's current row without padding: a (N, W, channels) view."""
        return self.cur[l, :, self.pad : self.pad + self.width]

    def next_row(self) -> None:
        """Every block's current row becomes its last row above; the oldest is dropped."""
        for r in range(self.pad - 1):
            self.above[:, :, r].copy_(self.above[:, :, r + 1])
        if self.pad:
            self.above[:, :, self.pad - 1].copy_(self.cur)

    def tensors(self) -> list[torch.Tensor]:
        return [self.cur, self.above, self.rows]
