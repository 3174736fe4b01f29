"""The drawing pad's widgets: two canvases, the controls beside them, and their layout.

``PadControls`` builds the widgets and lays them out, nothing more; ``DrawPad``
(drawpad.py) gives them their behaviour. ipywidgets and ipycanvas are imported
only when a pad is built, so ``import pixelcourse.widget`` works without them.
"""

from __future__ import annotations

import html

from ..sampling import check_temperature
from .pad import CELL, GAP, SCALE, check_width

HELP = (
    '<div style="line-height: 1.4; font-size: 90%">Draw the top of a digit, then press '
    "<b>Complete</b>. The rows above the red line are kept; the model samples everything "
    "below it (blue), row by row, left to right.</div>"
)
LABEL = {"description_width": "90px"}  # the sliders' and the dropdown's labels line up


class PadControls:
    """The widgets of a pad for ``height`` x ``width`` images, laid out in ``self.widget``.

    pad: a MultiCanvas of CELL pixels per cell; layer 0 holds the ink, layer 1 the
        grid and the kept-rows marker (and receives the pointer events).
    completions: a Canvas for ``n_completions`` images side by side, SCALE pixels per pixel.
    tool, brush, clear_button: pen or eraser, brush width in cells, Clear.
    model_choice, temperature, auto_keep, keep, complete_button: what Complete samples.
    status: one line of HTML; result: the latest result as JSON, hidden.
    The CSS classes ``pixelcourse-*`` let a browser test find the parts.
    """

    def __init__(self, model_names, *, height: int, width: int, n_completions: int,
                 temperature: float, brush_width: float):
        self._build_canvases(height, width, n_completions)
        self._build_inputs(list(model_names), height, temperature, brush_width)
        self.widget = self._layout(n_completions)

    def _build_canvases(self, height: int, width: int, n_completions: int) -> None:
        import ipycanvas
        import ipywidgets as widgets

        side_x, side_y = width * CELL, height * CELL
        self.pad = ipycanvas.MultiCanvas(2, width=side_x, height=side_y,
                                         layout=widgets.Layout(width=f"{side_x}px", height=f"{side_y}px"))
        self.pad.add_class("pixelcourse-pad")
        wide, high = n_completions * width * SCALE + (n_completions - 1) * GAP, height * SCALE
        self.completions = ipycanvas.Canvas(width=wide, height=high,
                                            layout=widgets.Layout(width=f"{wide}px", height=f"{high}px"))
        self.completions.add_class("pixelcourse-completions")

    def _build_inputs(self, model_names: list[str], height: int, temperature: float, brush_width: float) -> None:
        import ipywidgets as widgets

        self.tool = widgets.ToggleButtons(options=[("Pen", "pen"), ("Eraser", "eraser")], value="pen",
                                          style={"button_width": "70px"})
        self.brush = widgets.FloatSlider(value=check_width(brush_width), min=1, max=4, step=0.5, description="Brush",
                                         readout_format=".1f", style=LABEL)
        self.clear_button = widgets.Button(description="Clear", icon="trash")
        self.clear_button.add_class("pixelcourse-clear")
        self.model_choice = widgets.Dropdown(options=model_names, description="Model", style=LABEL)
        self.temperature = widgets.FloatSlider(value=check_temperature(temperature), min=0.1, max=2.0, step=0.05,
                                               description="Temperature", style=LABEL)
        self.auto_keep = widgets.Checkbox(value=True, description="keep down to the last row with ink", indent=False)
        self.keep = widgets.IntSlider(value=0, min=0, max=height, description="Rows kept", disabled=True, style=LABEL)
        self.complete_button = widgets.Button(description="Complete", button_style="primary", icon="magic")
        self.complete_button.add_class("pixelcourse-complete")
        self.status = widgets.HTML()
        self.status.add_class("pixelcourse-status")
        self.result = widgets.HTML(layout=widgets.Layout(display="none"))
        self.result.add_class("pixelcourse-result")

    def _layout(self, n_completions: int):
        import ipywidgets as widgets

        left = widgets.VBox([self.pad, widgets.HBox([self.tool, self.clear_button]), self.brush])
        right = widgets.VBox([
            self.model_choice, self.temperature, self.auto_keep, self.keep, self.complete_button,
            widgets.HTML(HELP, layout=widgets.Layout(width="330px")),
        ])
        box = widgets.VBox([
            widgets.HBox([left, right]),
            widgets.HTML(f"<b>{n_completions} completions</b> (blue: not sampled yet)"),
            self.completions, self.status, self.result,
        ])
        box.add_class("pixelcourse-drawpad")
        return box

    def on_pointer(self, down, move, up) -> None:
        """Route mouse and touch on the pad to ``down(x, y)``, ``move(x, y)`` and ``up()`` (canvas pixels)."""
        self.pad.on_mouse_down(down)
        self.pad.on_mouse_move(move)
        self.pad.on_mouse_up(lambda x, y: up())
        self.pad.on_mouse_out(lambda x, y: up())  # leaving the pad lifts the pen
        self.pad.on_touch_start(lambda touches: touches and down(*touches[0]))
        self.pad.on_touch_move(lambda touches: touches and move(*touches[0]))
        self.pad.on_touch_end(lambda touches: up())
        self.pad.on_touch_cancel(lambda touches: up())

    def set_status(self, text: str) -> None:
        """Show ``text`` (plain text, escaped here) in the status line."""
        self.status.value = f"<span>{html.escape(text)}</span>"

    def all_widgets(self) -> list:
        """Every widget of the pad, the canvas layers included (to close them)."""
        stack, seen = [self.widget], []
        while stack:
            w = stack.pop()
            seen.append(w)
            stack.extend(getattr(w, "children", ()))
        return seen + list(self.pad._canvases)
