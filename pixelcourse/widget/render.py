"""Drawing on the pad's canvases: the ink, the grid with the kept-rows marker, the completions.

Each function paints from plain arrays onto an ipycanvas canvas and remembers
nothing, so the same call repaints a canvas that a new page shows blank.
ipycanvas is imported only when something is drawn.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import numpy as np

from .pad import CELL, SCALE, completions_image, to_uint8

# ipycanvas sends every drawing command through one shared manager whose
# "current canvas" and batching state are global: only one thread may draw at a time.
CANVAS_LOCK = threading.RLock()

GRID_LINES = "rgba(128, 128, 128, 0.45)"
SAMPLED_AREA = "rgba(80, 140, 255, 0.22)"  # the part the model will sample
KEEP_LINE = "#ff3b30"


@contextlib.contextmanager
def drawing() -> Iterator[None]:
    """``with drawing():`` holds the canvas lock and sends the commands inside as one batch."""
    from ipycanvas import hold_canvas

    with CANVAS_LOCK, hold_canvas():
        yield


def draw_ink(layer, ink: np.ndarray, rows: slice = slice(None), cols: slice = slice(None)) -> None:
    """Paint the cells ``ink[rows, cols]`` (float (H, W) in [0, 1]) onto ``layer``, CELL pixels per cell."""
    cells = to_uint8(ink[rows, cols])  # (h, w)
    pixels = cells.repeat(CELL, axis=0).repeat(CELL, axis=1)  # (h * CELL, w * CELL), a grey PNG: exact values
    y, x = (rows.start or 0) * CELL, (cols.start or 0) * CELL
    with drawing():
        layer.put_image_data(pixels, x, y)


def draw_overlay(layer, keep: int, height: int, width: int) -> None:
    """Repaint ``layer`` with the grid, the rows the model samples (blue) and the line under the kept rows."""
    w, h = width * CELL, height * CELL
    with drawing():
        layer.clear()
        layer.fill_style = SAMPLED_AREA
        layer.fill_rect(0, keep * CELL, w, h - keep * CELL)
        layer.stroke_style = GRID_LINES
        layer.line_width = 1
        layer.begin_path()
        for k in range(1, max(height, width)):
            # +0.5: a 1-pixel line on a pixel centre stays sharp instead of blurring over two
            if k < height:
                layer.move_to(0, k * CELL + 0.5)
                layer.line_to(w, k * CELL + 0.5)
            if k < width:
                layer.move_to(k * CELL + 0.5, 0)
                layer.line_to(k * CELL + 0.5, h)
        layer.stroke()
        if 0 < keep < height:
            layer.stroke_style = KEEP_LINE
            layer.line_width = 2
            layer.stroke_line(0, keep * CELL, w, keep * CELL)


def draw_completions(canvas, grey: np.ndarray, done_rows: int, first_row: int = 0, last_row: int | None = None) -> None:
    """Paint rows first_row .. last_row - 1 (all by default) of the completions onto ``canvas``.

    grey: uint8 (N, H, W); rows from ``done_rows`` on are shown as not sampled yet.
    """
    last_row = grey.shape[1] if last_row is None else last_row
    if last_row <= first_row:
        return
    strip = completions_image(grey, done_rows)[first_row * SCALE : last_row * SCALE]  # (rows * SCALE, wide, 4)
    with drawing():
        canvas.put_image_data(strip, 0, first_row * SCALE)
