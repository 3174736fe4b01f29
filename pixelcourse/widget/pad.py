"""The drawing pad's plain functions (notebook 09): what the model sees, without a browser.

``rasterise`` turns recorded strokes into a 28x28 image, ``rows_to_keep`` says
how many top rows are kept (by default every row down to the last one with
ink), ``known_mask`` and ``prepare`` build the input of ``pixelcourse.complete``,
and ``completions_image`` is the picture of the completions the pad shows.
Only numpy and torch: nothing here needs ipycanvas or ipywidgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..quantisation import quantise

GRID = 28  # cells per side of the pad, the size of an MNIST image
CELL = 10  # canvas pixels per cell: 28 cells are shown at 280 px
SCALE = 6  # canvas pixels per pixel in the completions: 168 px per 28x28 image
GAP = 8  # canvas pixels between two completions
PENDING = (52, 74, 120, 255)  # RGBA of a pixel not sampled yet (never a grey, so it cannot pass for one)
BACKGROUND = (255, 255, 255, 255)  # RGBA between the completions


# --------------------------------------------------------------------------- strokes -> image


@dataclass
class Stroke:
    """One stroke of the brush: the points the pointer passed through, in canvas pixels."""

    points: list[tuple[float, float]] = field(default_factory=list)  # (x right, y down)
    width: float = 2.0  # brush width in cells
    erase: bool = False  # True: the eraser (removes ink) instead of the pen


def check_width(width) -> float:
    """A brush width in cells as a float; one clear error for anything else."""
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= GRID:
        raise ValueError(f"brush width must be a number of cells in (0, {GRID}], got {width!r}.")
    return float(width)


def stamp_segment(ink: np.ndarray, p0, p1, width: float = 2.0, erase: bool = False, cell: int = CELL):
    """Paint the segment p0 -> p1 (canvas pixels) onto ``ink`` in place.

    ink: float (H, W) in [0, 1], 1 = full ink. The brush covers a cell by
    ``clip(width / 2 + 0.5 - d, 0, 1)`` where d is the distance in cells from the
    cell centre to the segment: full ink along the line, a soft edge one cell
    wide, like the anti-aliased strokes of MNIST. The pen keeps the darker of old
    and new ink (max), the eraser removes it (min with 1 - coverage), so painting
    a stroke segment by segment gives the same image as painting it at once.
    Returns (rows, cols) slices of the cells that may have changed, or None.
    """
    width = check_width(width)
    h, w = ink.shape
    (x0, y0), (x1, y1) = (np.asarray(p, dtype=np.float64) / cell for p in (p0, p1))
    reach = width / 2 + 0.5
    r0 = max(int(np.floor(min(y0, y1) - reach)), 0)
    r1 = min(int(np.ceil(max(y0, y1) + reach)) + 1, h)
    c0 = max(int(np.floor(min(x0, x1) - reach)), 0)
    c1 = min(int(np.ceil(max(x0, x1) + reach)) + 1, w)
    if r0 >= r1 or c0 >= c1:
        return None  # entirely outside the grid
    cy, cx = np.mgrid[r0:r1, c0:c1] + 0.5  # cell centres, (rows, cols)
    dx, dy = x1 - x0, y1 - y0
    length2 = dx * dx + dy * dy
    t = 0.0 if length2 == 0 else np.clip(((cx - x0) * dx + (cy - y0) * dy) / length2, 0.0, 1.0)
    d = np.hypot(cx - (x0 + t * dx), cy - (y0 + t * dy))  # distance to the segment, in cells
    cover = np.clip(reach - d, 0.0, 1.0)
    region = ink[r0:r1, c0:c1]
    np.minimum(region, 1.0 - cover, out=region) if erase else np.maximum(region, cover, out=region)
    return slice(r0, r1), slice(c0, c1)


def stamp_stroke(ink: np.ndarray, stroke: Stroke, cell: int = CELL) -> None:
    """Paint a whole stroke onto ``ink`` (float (H, W)) in place; a single point paints a dot."""
    points = stroke.points
    if not points:
        return
    if len(points) == 1:
        stamp_segment(ink, points[0], points[0], stroke.width, stroke.erase, cell)
    for p0, p1 in zip(points[:-1], points[1:]):
        stamp_segment(ink, p0, p1, stroke.width, stroke.erase, cell)


def to_uint8(ink: np.ndarray) -> np.ndarray:
    """Ink in [0, 1] -> uint8 values 0..255 (255 = full ink, as in MNIST)."""
    return np.rint(np.clip(ink, 0.0, 1.0) * 255).astype(np.uint8)


def rasterise(strokes, height: int = GRID, width: int = GRID, cell: int = CELL) -> np.ndarray:
    """Strokes in canvas pixels -> uint8 image (height, width), painted in order.

    strokes: a list of ``Stroke`` (or of point lists, drawn with the default pen).
    The canvas is ``width * cell`` by ``height * cell`` pixels; a point (x, y)
    lies in cell (row y // cell, column x // cell).
    """
    ink = np.zeros((height, width))
    for stroke in strokes:
        stamp_stroke(ink, stroke if isinstance(stroke, Stroke) else Stroke(list(stroke)), cell)
    return to_uint8(ink)


# --------------------------------------------------------------------------- what is kept


def _check_image(image) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2 or image.dtype != np.uint8:
        raise ValueError(f"image must be a uint8 array (H, W) of 8-bit values, got {image.dtype} {image.shape}.")
    return image


def last_ink_row(image) -> int:
    """Index of the lowest row that holds any ink (a value > 0); -1 for an empty image."""
    rows = np.flatnonzero(_check_image(image).any(axis=1))
    return int(rows[-1]) if rows.size else -1


def rows_to_keep(image, keep: int | None = None) -> int:
    """How many top rows of ``image`` the model is given: rows 0 .. k-1 are kept, the rest sampled.

    keep: None (default) keeps every row down to the last row with ink, so
    nothing drawn is lost; an empty image keeps 0 rows (unconditional samples).
    An int in [0, H] is used as given: ink below it is replaced by samples.
    """
    image = _check_image(image)
    if keep is None:
        return last_ink_row(image) + 1
    if isinstance(keep, bool) or not isinstance(keep, (int, np.integer)) or not 0 <= keep <= image.shape[0]:
        raise ValueError(f"keep must be None (up to the last row with ink) or a row count in [0, {image.shape[0]}], got {keep!r}.")
    return int(keep)


def known_mask(keep_rows: int, height: int = GRID, width: int = GRID, channels: int = 1) -> torch.Tensor:
    """bool (1, C, H, W): True on the first ``keep_rows`` rows, the part the model must keep."""
    if not 0 <= keep_rows <= height:
        raise ValueError(f"keep_rows must lie in [0, {height}], got {keep_rows}.")
    known = torch.zeros(1, channels, height, width, dtype=torch.bool)
    known[:, :, :keep_rows] = True
    return known


def prepare(image, levels: int, keep_rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The input of ``pixelcourse.complete`` for a drawing.

    image: uint8 (H, W) from ``rasterise``; levels: the model's levels (2 binarises
    at 128). Returns images long (1, 1, H, W) in [0, levels), zero outside the kept
    rows, and known bool (1, 1, H, W).
    """
    image = _check_image(image)
    known = known_mask(keep_rows, *image.shape)
    images = quantise(torch.from_numpy(image.copy()), levels)[None, None]  # (1, 1, H, W)
    images[~known] = 0
    return images, known


def display_values(levels_tensor, levels: int) -> np.ndarray:
    """Levels -> uint8 greys for display: 0 is black, levels - 1 is white."""
    x = torch.as_tensor(levels_tensor).detach().cpu().double()
    return np.rint(x.numpy() * (255.0 / (levels - 1))).astype(np.uint8)


def completions_image(grey: np.ndarray, done_rows: int, scale: int = SCALE, gap: int = GAP) -> np.ndarray:
    """RGBA picture of N completions side by side, as drawn in the widget.

    grey: uint8 (N, H, W); rows from ``done_rows`` on are shown as not sampled yet.
    Returns uint8 (H * scale, N * W * scale + (N - 1) * gap, 4).
    """
    n, h, w = grey.shape
    rgba = np.empty((n, h, w, 4), dtype=np.uint8)
    rgba[..., :3] = grey[..., None]
    rgba[..., 3] = 255
    rgba[:, done_rows:] = PENDING
    big = rgba.repeat(scale, axis=1).repeat(scale, axis=2)  # (N, H*s, W*s, 4)
    out = np.empty((h * scale, n * w * scale + (n - 1) * gap, 4), dtype=np.uint8)
    out[:] = BACKGROUND
    for k in range(n):
        left = k * (w * scale + gap)
        out[:, left : left + w * scale] = big[k]
    return out
