"""Row buffers (notebook 06): the cached input rows of one masked convolution, and its weights as matrices.

The caches of ``caches.py`` are built from these pieces.
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


def conv_rows(rows: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, width: int) -> torch.Tensor:
    """The top kernel rows of ``weight`` (out, in, kh, kw) applied to ``rows`` (N, in, r, pad + W + pad): (N, out, W).

    ``rows`` holds the r input rows that those kernel rows see, so the result
    is one output row. With no rows (a 1 x k kernel) only the bias is left.
    """
    r = rows.shape[2]
    if r == 0:
        out = weight.new_zeros(rows.shape[0], weight.shape[0], width)
        return out if bias is None else out + bias[:, None]
    return F.conv2d(rows, weight[:, :, :r], bias)[:, :, 0]


def with_ones(batch: int, channels: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
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
