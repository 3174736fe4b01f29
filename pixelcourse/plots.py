"""Figures used across the course: image grids, masks and receptive fields (notebooks 01, 04, 08)."""

from __future__ import annotations

import math

import numpy as np
import torch

from .masks import channel_groups
from .util import eval_mode, model_device

# Each figure imports pyplot when it is drawn: the command lines, the app and the grader's kernels never
# draw, and pyplot's import took ``import pixelcourse`` from 1.9 s to 2.9 s on a 2-core Zen 4 EPYC.


def to_display(images: torch.Tensor, levels: int | None = None) -> np.ndarray:
    """Levels (N, C, H, W) -> floats in [0, 1] shaped (N, H, W, C) for imshow."""
    images = torch.as_tensor(images)
    if images.dim() == 3:
        images = images[None]
    if levels is None:
        levels = 2 if images.max() <= 1 else 256
    x = images.float() / max(levels - 1, 1)
    return x.permute(0, 2, 3, 1).clamp(0, 1).cpu().numpy()


def show_grid(
    images: torch.Tensor,
    nrow: int | None = None,
    *,
    levels: int | None = None,
    title: str | None = None,
    row_labels: list[str] | None = None,
    ax=None,
    scale: float = 1.0,
):
    """Show images (N, C, H, W) of pixel levels as a grid; returns the matplotlib Figure.

    nrow: images per row (default: near square). levels: the number of levels
    (default: 2 if the largest value is 1, else 256). row_labels: a label at
    the left of each row.
    """
    pics = to_display(images, levels)  # (N, H, W, C)
    n, h, w, c = pics.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    if row_labels is not None and len(row_labels) != rows:
        raise ValueError(
            f"show_grid: {len(row_labels)} row_labels for {rows} rows ({n} images, {nrow} per row); "
            "give one label per row, or change nrow."
        )
    pad = 2
    canvas = np.ones((rows * (h + pad) + pad, nrow * (w + pad) + pad, c))
    for k in range(n):
        r, col = divmod(k, nrow)
        canvas[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + col * (w + pad) : pad + col * (w + pad) + w] = pics[k]
    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(scale * max(2, nrow * 0.6), scale * max(2, rows * 0.6)))
    else:
        fig = ax.figure
    ax.imshow(canvas.squeeze(-1) if c == 1 else canvas, cmap="gray" if c == 1 else None, vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_xticks([])
    if row_labels:
        ax.set_yticks([pad + r * (h + pad) + h / 2 for r in range(len(row_labels))], row_labels)
        ax.tick_params(left=False)
    else:
        ax.set_yticks([])
    if title:
        ax.set_title(title)
    return fig


def plot_mask(mask: torch.Tensor, ax=None, title: str | None = None, color_channels: int = 1):
    """Show the spatial pattern of a mask: 1 = the weight is used, 0 = hidden.

    mask: (kh, kw) or a MaskedConv2d mask (out, in, kh, kw). For colour
    (``color_channels=3``) the centre pixel is drawn per pair of groups:
    the grid shows which input colour (columns) each output colour (rows) sees.
    """
    mask = torch.as_tensor(mask).float()
    if mask.dim() == 2:
        mask = mask[None, None]
    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(3, 3))
    else:
        fig = ax.figure
    if color_channels == 1:
        spatial = mask[0, 0]
        ax.imshow(spatial, cmap="Blues", vmin=0, vmax=1.3, interpolation="nearest")
        kh, kw = spatial.shape
        for i in range(kh):
            for j in range(kw):
                ax.text(j, i, int(spatial[i, j]), ha="center", va="center", fontsize=9)
        ax.set_xticks(range(kw))
        ax.set_yticks(range(kh))
        ax.set_xlabel("kernel column")
        ax.set_ylabel("kernel row")
    else:
        kh, kw = mask.shape[-2:]
        g_out = channel_groups(mask.shape[0], color_channels)
        g_in = channel_groups(mask.shape[1], color_channels)
        centre = torch.zeros(color_channels, color_channels)
        for go in range(color_channels):
            for gi in range(color_channels):
                centre[go, gi] = mask[g_out == go][:, g_in == gi][:, :, kh // 2, kw // 2].max()
        names = "RGB"
        ax.imshow(centre, cmap="Blues", vmin=0, vmax=1.3, interpolation="nearest")
        for go in range(color_channels):
            for gi in range(color_channels):
                ax.text(gi, go, int(centre[go, gi]), ha="center", va="center")
        ax.set_xticks(range(color_channels), [f"in {n}" for n in names])
        ax.set_yticks(range(color_channels), [f"out {n}" for n in names])
        ax.set_xlabel("input colour at the centre pixel")
    if title:
        ax.set_title(title)
    return fig


def _check_position(cfg, c: int, i: int, j: int, shown) -> None:
    """One clear error for a sub-pixel (c, i, j) outside the image; ``shown`` is the position as the caller gave it."""
    if not (0 <= c < cfg.channels and 0 <= i < cfg.height and 0 <= j < cfg.width):
        raise ValueError(f"position {shown} is outside the image ({cfg.channels}, {cfg.height}, {cfg.width}).")


def receptive_field(
    model,
    position: tuple[int, int] | tuple[int, int, int],
    x: torch.Tensor | None = None,
    y: torch.Tensor | None = None,
    seed: int = 0,
) -> torch.Tensor:
    """Input-gradient map of one output sub-pixel: which inputs its logits depend on.

    position: (i, j) (channel 0) or (c, i, j). x: an optional image (1, C, H, W)
    of levels; default a random one (fixed ``seed``). Returns a float tensor
    (C, H, W) of |d logits[c, i, j] / d input|: zero wherever the output cannot look.
    """
    cfg = model.config
    c, i, j = (0, *position) if len(position) == 2 else position
    _check_position(cfg, c, i, j, position)
    gen = torch.Generator().manual_seed(seed)
    if x is None:
        x = torch.randint(0, cfg.levels, (1, cfg.channels, cfg.height, cfg.width), generator=gen)
    if y is None and cfg.num_classes:
        y = torch.zeros(1, dtype=torch.long)
    model.check_input(x, y)
    device = model_device(model)
    xf = model.normalise(x.to(device)).requires_grad_(True)
    with eval_mode(model):
        logits = model.forward_normalised(xf, None if y is None else y.to(device))  # (1, levels, C, H, W)
        # Squares, so that gradients of different levels cannot cancel.
        logits[0, :, c, i, j].pow(2).sum().backward()
    return xf.grad[0].abs().detach().cpu()  # (C, H, W)


def effective_field(model, x: torch.Tensor, i: int, j: int, c: int = 0, y: torch.Tensor | None = None) -> torch.Tensor:
    """Effective (gradient-weighted) receptive field of sub-pixel (c, i, j), averaged over images x.

    x: long tensor (B, C, H, W) of levels. y: class labels (B,) for a class-conditional model.
    For every image, the log-probability of its own (true) level at (c, i, j) is differentiated
    with respect to the normalised input ``model.normalise(x)``. Returns a float tensor (H, W):
    |gradient| summed over the input channels and averaged over the batch, not normalised.
    It is zero wherever ``receptive_field`` is zero (and at every pixel after (i, j) in raster order);
    where it is not, its size says how much that input pixel moves the prediction.
    """
    _check_position(model.config, c, i, j, (c, i, j))
    model.check_input(x, y)
    device = model_device(model)
    x = x.to(device)
    inputs = model.normalise(x).requires_grad_(True)  # (B, C, H, W) floats in [-1, 1]
    with eval_mode(model):
        logits = model.forward_normalised(inputs, None if y is None else y.to(device))  # (B, levels, C, H, W)
        log_p = logits[:, :, c, i, j].log_softmax(dim=1)  # (B, levels)
        true = log_p.gather(1, x[:, c, i, j, None])  # (B, 1): log p of each image's own level
        (grad,) = torch.autograd.grad(true.sum(), inputs)  # (B, C, H, W)
    return grad.abs().sum(dim=1).mean(dim=0).detach().cpu()  # (H, W)


def blind_spot(height: int, width: int, i: int, j: int, input_kernel: int) -> torch.Tensor:
    """The pixels a stack of masked convolutions never reaches from (i, j), however deep: bool (H, W).

    A mask-A input layer of kernel k reaches k // 2 columns right in the rows above; every later masked
    layer (type B, any kernel or dilation) reaches at most as far right as it reaches up. So pixel
    (i - a, j + b) of an earlier row (a >= 1) is never seen when b > a + k // 2 - 1: the wedge up and to the
    right of notebook 01. Earlier pixels outside it are reachable with enough layers.
    """
    rows = torch.arange(height)[:, None].expand(height, width)
    cols = torch.arange(width)[None, :].expand(height, width)
    up, right = i - rows, cols - j
    return (up >= 1) & (right > up + input_kernel // 2 - 1)
