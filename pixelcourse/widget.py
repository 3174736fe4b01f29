"""The drawing pad of notebook 09: draw the top of a digit and watch the model finish it.

Everything that decides what the model sees is a plain function that needs no
browser: ``rasterise`` turns recorded strokes into a 28x28 image, ``rows_to_keep``
says how many top rows are kept (by default every row down to the last one with
ink), ``known_mask`` and ``prepare`` build the input of ``pixelcourse.complete``.
``DrawPad`` wires them to an ipycanvas ``MultiCanvas`` and ipywidgets controls.
Those two packages are imported only when a ``DrawPad`` is built, so
``import pixelcourse`` works without them::

    from pixelcourse.widget import DrawPad
    DrawPad({"MNIST, 256 levels": mnist, "MNIST, binarised": mnist_binary})
"""

from __future__ import annotations

import html
import json
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from .data import quantise
from .sampling import check_temperature, complete

GRID = 28  # cells per side of the pad, the size of an MNIST image
CELL = 10  # canvas pixels per cell: 28 cells are shown at 280 px
SCALE = 6  # canvas pixels per pixel in the completions: 168 px per 28x28 image
GAP = 8  # canvas pixels between two completions
PENDING = (52, 74, 120, 255)  # RGBA of a pixel not sampled yet (never a grey, so it cannot pass for one)
BACKGROUND = (255, 255, 255, 255)  # RGBA between the completions

# ipycanvas sends every drawing command through one shared manager whose
# "current canvas" and batching state are global: only one thread may draw at a time.
_CANVAS_LOCK = threading.RLock()


# --------------------------------------------------------------------------- strokes -> image


@dataclass
class Stroke:
    """One stroke of the brush: the points the pointer passed through, in canvas pixels."""

    points: list[tuple[float, float]] = field(default_factory=list)  # (x right, y down)
    width: float = 2.0  # brush width in cells
    erase: bool = False  # True: the eraser (removes ink) instead of the pen


def _check_width(width) -> float:
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
    width = _check_width(width)
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


# --------------------------------------------------------------------------- the widget


def _check_models(models) -> dict:
    if isinstance(models, torch.nn.Module):
        models = {getattr(models.config, "dataset", "") or "model": models}
    if not isinstance(models, dict) or not models:
        raise TypeError("models must be a model or a non-empty dict {name: model}, e.g. {'MNIST, 256 levels': model}.")
    shapes = set()
    for name, model in models.items():
        config = getattr(model, "config", None)
        if config is None:
            raise TypeError(f"models[{name!r}] is not a pixelcourse model (no .config); build or load one with pixelcourse.")
        if config.channels != 1 or config.num_classes:
            raise ValueError(
                f"models[{name!r}] must be an unconditional grey model (channels=1, num_classes=0), "
                f"got channels={config.channels}, num_classes={config.num_classes}: use the 'mnist' or 'mnist_binary' presets."
            )
        shapes.add((config.height, config.width))
    if len(shapes) > 1:
        raise ValueError(f"All models of one pad must share the image size, got {sorted(shapes)}.")
    return dict(models)


class _Cancelled(Exception):
    pass


class DrawPad:
    """Draw the top of a digit on a 28x28 grid; the model fills in the rest, several times.

    models: a model, or a dict {name: model} shown as a choice (e.g. the
        256-level and the binarised MNIST models). Unconditional, 1 channel.
    n_completions: completions shown side by side (4).
    temperature: the initial temperature of the slider.
    brush_width: the initial brush width in cells.
    method: the sampling method passed to ``pixelcourse.complete`` (None: its default).
    seed: None for new samples on every click; an int makes run k use seed + k.

    Display it as the last expression of a cell. ``last_result`` holds the
    latest completion (drawing, rows kept, completions, timings).
    """

    def __init__(self, models, *, n_completions: int = 4, temperature: float = 1.0, brush_width: float = 2.5,
                 method: str | None = None, seed: int | None = None):
        import ipycanvas
        import ipywidgets as widgets

        self.models = _check_models(models)
        if isinstance(n_completions, bool) or not isinstance(n_completions, int) or not 1 <= n_completions <= 16:
            raise ValueError(f"n_completions must be an int from 1 to 16, got {n_completions!r}.")
        self.n_completions = n_completions
        self.method = method
        self.seed = seed
        config = next(iter(self.models.values())).config
        self.height, self.width = config.height, config.width
        self.ink = np.zeros((self.height, self.width))  # float in [0, 1], what the pad shows
        self.strokes: list[Stroke] = []
        self.runs = 0
        self.last_result: dict | None = None
        self._pen: Stroke | None = None
        self._state_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._cancel = threading.Event()
        self._hold_canvas = ipycanvas.hold_canvas
        self._grey = np.zeros((n_completions, self.height, self.width), dtype=np.uint8)
        self._done_rows = 0

        # The pad: layer 0 holds the ink, layer 1 the grid and the kept-rows marker (and receives the events).
        side = (self.width * CELL, self.height * CELL)
        self.pad = ipycanvas.MultiCanvas(2, width=side[0], height=side[1],
                                         layout=widgets.Layout(width=f"{side[0]}px", height=f"{side[1]}px"))
        self.pad.add_class("pixelcourse-pad")
        wide, high = n_completions * self.width * SCALE + (n_completions - 1) * GAP, self.height * SCALE
        self.completions = ipycanvas.Canvas(width=wide, height=high, layout=widgets.Layout(width=f"{wide}px", height=f"{high}px"))
        self.completions.add_class("pixelcourse-completions")

        self.tool = widgets.ToggleButtons(options=[("Pen", "pen"), ("Eraser", "eraser")], value="pen",
                                          style={"button_width": "70px"})
        label = {"description_width": "90px"}
        self.brush = widgets.FloatSlider(value=_check_width(brush_width), min=1, max=4, step=0.5, description="Brush",
                                         readout_format=".1f", style=label)
        self.clear_button = widgets.Button(description="Clear", icon="trash")
        self.clear_button.add_class("pixelcourse-clear")
        self.model_choice = widgets.Dropdown(options=list(self.models), description="Model", style=label)
        self.temperature = widgets.FloatSlider(value=check_temperature(temperature), min=0.1, max=2.0, step=0.05,
                                               description="Temperature", style=label)
        self.auto_keep = widgets.Checkbox(value=True, description="keep down to the last row with ink", indent=False)
        self.keep = widgets.IntSlider(value=0, min=0, max=self.height, description="Rows kept", disabled=True,
                                      style=label)
        self.complete_button = widgets.Button(description="Complete", button_style="primary", icon="magic")
        self.complete_button.add_class("pixelcourse-complete")
        self.status = widgets.HTML()
        self.status.add_class("pixelcourse-status")
        # The latest result as JSON, hidden: the browser test reads it from the page.
        self.result = widgets.HTML(layout=widgets.Layout(display="none"))
        self.result.add_class("pixelcourse-result")

        self.pad.on_mouse_down(self._on_mouse_down)
        self.pad.on_mouse_move(self._on_mouse_move)
        self.pad.on_mouse_up(self._on_pen_up)
        self.pad.on_mouse_out(self._on_pen_up)
        self.pad.on_touch_start(lambda touches: touches and self._on_mouse_down(*touches[0]))
        self.pad.on_touch_move(lambda touches: touches and self._on_mouse_move(*touches[0]))
        self.pad.on_touch_end(lambda touches: self._on_pen_up())
        self.pad.on_touch_cancel(lambda touches: self._on_pen_up())
        # A canvas in a new browser view starts blank: draw it again when it says it is ready.
        self.pad[0].on_client_ready(self._draw_ink)
        self.pad[1].on_client_ready(self._draw_overlay)
        self.completions.on_client_ready(self._draw_completions)
        self.clear_button.on_click(lambda _: self.clear())
        self.complete_button.on_click(lambda _: self.complete())
        self.auto_keep.observe(self._on_auto_keep, names="value")
        self.keep.observe(lambda _: self._draw_overlay(), names="value")

        left = widgets.VBox([self.pad, widgets.HBox([self.tool, self.clear_button]), self.brush])
        right = widgets.VBox([
            self.model_choice, self.temperature, self.auto_keep, self.keep, self.complete_button,
            widgets.HTML('<div style="line-height: 1.4; font-size: 90%">Draw the top of a digit, then press '
                         "<b>Complete</b>. The rows above the red line are kept; the model samples everything "
                         "below it (blue), row by row, left to right.</div>", layout=widgets.Layout(width="330px")),
        ])
        self.widget = widgets.VBox([
            widgets.HBox([left, right]),
            widgets.HTML(f"<b>{n_completions} completions</b> (blue: not sampled yet)"),
            self.completions, self.status, self.result,
        ])
        self.widget.add_class("pixelcourse-drawpad")
        self._draw_ink()
        self._draw_overlay()
        self._draw_completions()
        self._set_status("Ready: draw the top of a digit, then press Complete.")

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # ----------------------------------------------------------------- drawing

    def image(self) -> np.ndarray:
        """The drawing as uint8 (H, W), 255 = full ink."""
        return to_uint8(self.ink)

    def keep_rows(self) -> int:
        """Rows the next completion keeps: the last row with ink (auto) or the slider."""
        return rows_to_keep(self.image(), None if self.auto_keep.value else self.keep.value)

    def draw(self, points, *, width: float | None = None, erase: bool | None = None) -> None:
        """Add a stroke through ``points`` (canvas pixels, 10 per cell) as if drawn with the mouse.

        width: brush width in cells (default: the slider); erase: True for the eraser (default: the tool chosen).
        """
        self._on_mouse_down(*points[0], width=width, erase=erase)
        for p in points[1:]:
            self._on_mouse_move(*p)
        self._on_pen_up()

    def clear(self) -> None:
        """Remove all ink (completions stay until the next run)."""
        self._pen = None
        self.strokes = []
        self.ink[:] = 0
        self._draw_ink()
        self._after_ink_change()
        self._set_status("Cleared: draw the top of a digit, then press Complete.")

    def _on_mouse_down(self, x, y, *, width=None, erase=None):
        erase = self.tool.value == "eraser" if erase is None else erase
        self._pen = Stroke([(float(x), float(y))], width=self.brush.value if width is None else width, erase=erase)
        self.strokes.append(self._pen)
        self._paint(self._pen.points[0], self._pen.points[0])

    def _on_mouse_move(self, x, y):
        if self._pen is None:
            return
        p0 = self._pen.points[-1]
        self._pen.points.append((float(x), float(y)))
        self._paint(p0, (float(x), float(y)))

    def _on_pen_up(self, *_):
        if self._pen is None:
            return
        self._pen = None
        keep = self.keep_rows()
        if keep == 0:
            self._set_status("Nothing drawn: Complete samples digits from scratch.")
        else:
            self._set_status(f"Rows 0-{keep - 1} will be kept; press Complete.")

    def _paint(self, p0, p1):
        changed = stamp_segment(self.ink, p0, p1, self._pen.width, self._pen.erase)
        if changed is not None:
            self._draw_ink(*changed)
            self._after_ink_change()

    def _after_ink_change(self):
        if self.auto_keep.value:
            keep = self.keep_rows()
            if keep != self.keep.value:
                self.keep.value = keep  # redraws the marker through the observer

    def _on_auto_keep(self, change):
        self.keep.disabled = change["new"]
        if change["new"]:
            self._after_ink_change()
        self._draw_overlay()

    # ----------------------------------------------------------------- canvases

    def _draw_ink(self, rows: slice = slice(None), cols: slice = slice(None)):
        cells = to_uint8(self.ink[rows, cols])
        pixels = cells.repeat(CELL, axis=0).repeat(CELL, axis=1)  # grey PNG: exact values
        y, x = (rows.start or 0) * CELL, (cols.start or 0) * CELL
        with _CANVAS_LOCK, self._hold_canvas():
            self.pad[0].put_image_data(pixels, x, y)

    def _draw_overlay(self):
        keep = self.keep.value
        w, h = self.width * CELL, self.height * CELL
        layer = self.pad[1]
        with _CANVAS_LOCK, self._hold_canvas():
            layer.clear()
            layer.fill_style = "rgba(80, 140, 255, 0.22)"  # the part the model will sample
            layer.fill_rect(0, keep * CELL, w, h - keep * CELL)
            layer.stroke_style = "rgba(128, 128, 128, 0.45)"
            layer.line_width = 1
            layer.begin_path()
            for k in range(1, max(self.height, self.width)):
                if k < self.height:
                    layer.move_to(0, k * CELL + 0.5)
                    layer.line_to(w, k * CELL + 0.5)
                if k < self.width:
                    layer.move_to(k * CELL + 0.5, 0)
                    layer.line_to(k * CELL + 0.5, h)
            layer.stroke()
            if 0 < keep < self.height:
                layer.stroke_style = "#ff3b30"
                layer.line_width = 2
                layer.stroke_line(0, keep * CELL, w, keep * CELL)

    def _draw_completions(self, first_row: int = 0, last_row: int | None = None):
        """Draw rows first_row .. last_row - 1 of the completions (all rows by default)."""
        last_row = self.height if last_row is None else last_row
        if last_row <= first_row:
            return
        strip = completions_image(self._grey, self._done_rows)[first_row * SCALE : last_row * SCALE]
        with _CANVAS_LOCK, self._hold_canvas():
            self.completions.put_image_data(strip, 0, first_row * SCALE)

    def _set_status(self, text: str):
        self.status.value = f"<span>{html.escape(text)}</span>"

    # ----------------------------------------------------------------- completing

    def complete(self) -> threading.Thread | None:
        """Start completing the drawing in a background thread; returns it (None if a run is in progress).

        The kernel keeps handling the pad's events meanwhile, so drawing goes on
        and a second click while sampling is ignored.
        """
        with self._state_lock:
            if self._worker is not None and self._worker.is_alive():
                return None
            self.runs += 1
            name = self.model_choice.value
            job = dict(run=self.runs, name=name, image=self.image(), keep=self.keep_rows(),
                       temperature=check_temperature(self.temperature.value))
            self._cancel.clear()
            self.complete_button.disabled = True
            self._worker = threading.Thread(target=self._run, kwargs=job, name="pixelcourse-drawpad", daemon=True)
            self._worker.start()
            return self._worker

    def wait(self, timeout: float | None = None) -> dict | None:
        """Wait for the running completion (if any) and return ``last_result``."""
        worker = self._worker
        if worker is not None:
            worker.join(timeout)
        return self.last_result

    def close(self) -> None:
        """Stop a running completion and close the widgets."""
        self._cancel.set()
        self.wait(5)
        for w in self._all_widgets():
            w.close()

    def _all_widgets(self):
        stack, seen = [self.widget], []
        while stack:
            w = stack.pop()
            seen.append(w)
            stack.extend(getattr(w, "children", ()))
        return seen + list(self.pad._canvases)

    def _run(self, run, name, image, keep, temperature):
        start = time.perf_counter()
        first_row_s = None
        shown = keep  # rows already drawn in the completions
        try:
            model = self.models[name]
            levels = model.config.levels
            images, known = prepare(image, levels, keep)
            self._grey = np.repeat(display_values(images[:, 0], levels), self.n_completions, axis=0)  # (N, H, W)
            self._done_rows = keep
            self._draw_completions()
            what = f"keeping rows 0-{keep - 1}" if keep else "nothing drawn: sampling from scratch"
            self._set_status(f"Sampling with {name} ({what}) ...")

            def on_row(row, x):  # x: (N, 1, H, W), rows up to `row` final
                nonlocal first_row_s, shown
                if self._cancel.is_set():
                    raise _Cancelled
                if row < shown:
                    return
                if first_row_s is None:
                    first_row_s = time.perf_counter() - start
                self._grey[:, shown : row + 1] = display_values(x[:, 0, shown : row + 1], levels)
                self._done_rows = row + 1
                self._draw_completions(shown, row + 1)
                shown = row + 1

            generator = None if self.seed is None else torch.Generator().manual_seed(self.seed + run)
            extra = {} if self.method is None else {"method": self.method}
            out = complete(model, images.to(_device(model)), known.to(_device(model)), n_per_image=self.n_completions,
                           temperature=temperature, generator=generator, callback=on_row, **extra)  # (N, 1, H, W)
            out = out.cpu()
            self._grey = display_values(out[:, 0], levels)
            self._done_rows = self.height
            self._draw_completions(shown)
            seconds = time.perf_counter() - start
            self.last_result = {
                "run": run, "model": name, "levels": levels, "temperature": temperature, "keep_rows": keep,
                "drawing": images[0, 0].tolist(), "completions": out[:, 0].tolist(),
                "seconds": round(seconds, 4),
                "first_row_seconds": None if first_row_s is None else round(first_row_s, 4),
            }
            self.result.value = html.escape(json.dumps(self.last_result, separators=(",", ":")))
            first = "" if first_row_s is None else f", first row after {first_row_s:.2f} s"
            self._set_status(f"Done in {seconds:.2f} s (run {run}, {self.n_completions} completions, {what}{first}).")
        except _Cancelled:
            self._set_status("Stopped.")
        except Exception as err:  # shown in the pad: a thread has no cell to print into
            self._set_status(f"Completion failed: {type(err).__name__}: {err}")
        finally:
            self.complete_button.disabled = False


def _device(model) -> torch.device:
    return next(model.parameters()).device
