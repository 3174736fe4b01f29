"""``DrawPad``: the widget of notebook 09, wiring the pad's functions, widgets, drawing and runs together.

The pen and the eraser paint into ``ink`` with ``stamp_segment`` (pad.py), the
canvases are painted by render.py, and Complete starts ``run_job`` (run.py) in a
background thread, so the kernel keeps handling the pad's events while it samples.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import torch

from .. import sampling
from .controls import PadControls
from .pad import Stroke, rows_to_keep, stamp_segment, to_uint8
from .render import draw_completions, draw_ink, draw_overlay
from .run import Job, result_json, run_job


class DrawPad(PadControls):
    """Draw the top of a digit on a 28x28 grid; the model fills in the rest, several times.

    models: a model, or a dict {name: model} shown as a choice (e.g. the
        256-level and the binarised MNIST models). Unconditional, 1 channel.
    n_completions: completions shown side by side (4).
    temperature: the initial temperature of the slider.
    brush_width: the initial brush width in cells.
    method: the sampling method passed to ``complete`` (None: its default).
    seed: None for new samples on every click; an int makes run k use seed + k.
    complete: the completion function, ``pixelcourse.sampling.complete`` or one with
        its signature (a test passes one that waits, to click while it samples).

    Display it as the last expression of a cell. ``last_result`` holds the
    latest completion (drawing, rows kept, completions, timings).
    """

    def __init__(self, models, *, n_completions: int = 4, temperature: float = 1.0, brush_width: float = 2.5,
                 method: str | None = None, seed: int | None = None,
                 complete: Callable[..., torch.Tensor] = sampling.complete):
        self.models = check_models(models)
        if isinstance(n_completions, bool) or not isinstance(n_completions, int) or not 1 <= n_completions <= 16:
            raise ValueError(f"n_completions must be an int from 1 to 16, got {n_completions!r}.")
        config = next(iter(self.models.values())).config
        super().__init__(list(self.models), height=config.height, width=config.width, n_completions=n_completions,
                         temperature=temperature, brush_width=brush_width)
        self.n_completions, self.method, self.seed = n_completions, method, seed
        self.height, self.width = config.height, config.width
        self.ink = np.zeros((self.height, self.width))  # float in [0, 1], what the pad shows
        self.strokes: list[Stroke] = []
        self.runs = 0
        self.last_result: dict | None = None
        self._complete_images = complete
        self._pen: Stroke | None = None
        self._state_lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._cancel = threading.Event()
        self._grey = np.zeros((n_completions, self.height, self.width), dtype=np.uint8)  # the completions shown
        self._done_rows = 0  # rows of _grey that are final; the rest shows as not sampled yet
        if method != "naive":
            for model in self.models.values():
                sampling.warm_up(model)  # the first Complete should not wait for the compiled steps to load
        self._connect()
        self.redraw()
        self.set_status("Ready: draw the top of a digit, then press Complete.")

    def _connect(self) -> None:
        self.on_pointer(self._on_mouse_down, self._on_mouse_move, self._on_pen_up)
        # A canvas in a new browser view (a reload, Voila) starts blank: each repaints itself when it says it is ready.
        self.pad[0].on_client_ready(self._draw_ink)
        self.pad[1].on_client_ready(self._draw_overlay)
        self.completions.on_client_ready(self._draw_completions)
        self.clear_button.on_click(lambda _: self.clear())
        self.complete_button.on_click(lambda _: self.complete())
        self.auto_keep.observe(self._on_auto_keep, names="value")
        self.keep.observe(lambda _: self._draw_overlay(), names="value")

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
        self.set_status("Cleared: draw the top of a digit, then press Complete.")

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

    def _on_pen_up(self):
        if self._pen is None:
            return
        self._pen = None
        keep = self.keep_rows()
        self.set_status(f"Rows 0-{keep - 1} will be kept; press Complete." if keep
                        else "Nothing drawn: Complete samples digits from scratch.")

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

    def redraw(self) -> None:
        """Repaint every canvas from the pad's state: the ink, the grid and kept rows, the completions so far."""
        self._draw_ink()
        self._draw_overlay()
        self._draw_completions()

    def _draw_ink(self, rows: slice = slice(None), cols: slice = slice(None)):
        draw_ink(self.pad[0], self.ink, rows, cols)

    def _draw_overlay(self):
        draw_overlay(self.pad[1], self.keep.value, self.height, self.width)

    def _draw_completions(self, first_row: int = 0, last_row: int | None = None):
        draw_completions(self.completions, self._grey, self._done_rows, first_row, last_row)

    def _show_rows(self, grey: np.ndarray, done_rows: int, first_row: int, last_row: int):
        self._grey, self._done_rows = grey, done_rows
        self._draw_completions(first_row, last_row)

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
            job = Job(run=self.runs, name=name, model=self.models[name], image=self.image(), keep=self.keep_rows(),
                      temperature=sampling.check_temperature(self.temperature.value),
                      n_completions=self.n_completions, seed=None if self.seed is None else self.seed + self.runs,
                      method=self.method)
            self._cancel.clear()
            self.complete_button.disabled = True
            self._worker = threading.Thread(target=self._run, args=(job,), name="pixelcourse-drawpad", daemon=True)
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
        for w in self.all_widgets():
            w.close()

    def _run(self, job: Job):
        try:
            run_job(job, complete=self._complete_images, cancelled=self._cancel.is_set, show=self._show_rows,
                    say=self.set_status, publish=self._publish)
        finally:
            self.complete_button.disabled = False

    def _publish(self, result: dict):
        self.last_result = result
        self.result.value = result_json(result)


def check_models(models) -> dict:
    """``models`` as a dict {name: model}; one clear error unless they are grey, unconditional and of one size."""
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
