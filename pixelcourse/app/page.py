"""The app's page (Gradio): the pad, the controls, the completions, a status line and the result JSON.

The pad is a canvas of our own (``static/pad.js``) that records strokes; the
server rasterises them with the pad's functions, shows what the model will see,
and sends a click on Complete to the shared ``Batcher``. Per user the page keeps
only a seed and a run count (``gr.State``); the models are the server's.
Stable CSS classes let tests find the parts: ``pixelcourse-pad`` (the canvas),
``pixelcourse-complete``, ``pixelcourse-status`` ("Ready", "Done in ...") and
``pixelcourse-result`` (the latest result as JSON, hidden).
"""

from __future__ import annotations

import asyncio
import base64
import html
import io
import json
import secrets
import time
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import numpy as np
from PIL import Image

from ..widget import CELL, GRID, completions_image, display_values, prepare
from .api import MAX_BODY, make_result
from .batcher import Batcher, Busy
from .inputs import DEFAULT_COMPLETIONS, MAX_COMPLETIONS, MAX_SEED, TEMPERATURE, BadRequest, parse_request

STATIC = Path(__file__).resolve().parent / "static"
STREAM_EVERY_S = 0.15  # how often a running completion shows its new rows
INTRO = """## PixelCNN: draw and complete
Draw the top of a digit and press **Complete**: a PixelCNN trained on MNIST keeps every row down to the last one
with ink and samples the rest, pixel by pixel, several times. Everyone in the class shares this server."""
READY = "Ready: draw the top of a digit, then press Complete."
BUSY = "Busy: the server has too many drawings to complete. Try again in a moment."

PAD_HTML = f"""<div class="pixelcourse-padbox">
<canvas class="pixelcourse-pad" width="{GRID * CELL}" height="{GRID * CELL}"></canvas>
<div class="pixelcourse-tools">
<button type="button" class="pixelcourse-pen pixelcourse-active">Pen</button>
<button type="button" class="pixelcourse-eraser">Eraser</button>
<label>Brush <input type="range" class="pixelcourse-brush" min="1" max="4" step="0.5" value="2.5"></label>
<button type="button" class="pixelcourse-clear">Clear</button>
</div></div>"""

CSS = """
.pixelcourse-resultbox { display: none !important; }
canvas.pixelcourse-pad { display: block; width: 280px; height: 280px; cursor: crosshair; touch-action: none; }
.pixelcourse-tools { display: flex; gap: 8px; align-items: center; margin-top: 8px; }
.pixelcourse-tools button { padding: 2px 10px; border: 1px solid #bbb; border-radius: 4px; background: #f4f4f4; }
.pixelcourse-tools button.pixelcourse-active { background: #dbe6ff; border-color: #5a7bd8; }
img.pixelcourse-completions, img.pixelcourse-preview { image-rendering: pixelated; display: block; }
.pixelcourse-caption { font-size: 90%; margin-bottom: 4px; }
"""

# Before a Python event runs, these put the pad's strokes (kept in the browser) in place of its first input.
WITH_STROKES = "(strokes, ...rest) => [window.pixelcoursePad ? window.pixelcoursePad.strokes() : strokes, ...rest]"
# The load event waits until the pad's script has run, so "Ready" means the pad takes strokes.
WHEN_PAD_READY = """async (...args) => {
  for (let k = 0; k < 500 && !window.pixelcoursePad; k++) await new Promise((r) => setTimeout(r, 20));
  return args;
}"""


def png_html(rgba: np.ndarray, css_class: str) -> str:
    """An <img> of the uint8 RGBA picture ``rgba``, inline as a PNG data URL."""
    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    h, w = rgba.shape[:2]
    return f'<img class="{css_class}" width="{w}" height="{h}" alt="" src="data:image/png;base64,{data}">'


def pictures(image: np.ndarray, keep: int, levels: int, n: int, done: np.ndarray | None = None, rows: int = 0) -> str:
    """The completions as the page shows them: the kept rows, ``rows`` sampled rows of ``done``, blue below."""
    images, _ = prepare(image, levels, keep)  # (1, 1, H, W)
    grey = np.repeat(display_values(images[:, 0], levels), n, axis=0)  # (n, H, W)
    if done is not None:
        grey[:, :rows] = display_values(done[:, :rows], levels)
    return png_html(completions_image(grey, max(rows, keep)), "pixelcourse-completions")


def seen_html(image: np.ndarray, keep: int, levels: int) -> str:
    """What the model will see: the drawing at its levels down to the kept rows, blue below."""
    images, _ = prepare(image, levels, keep)  # (1, 1, H, W)
    picture = png_html(completions_image(display_values(images[:, 0], levels), keep), "pixelcourse-preview")
    return f'<div class="pixelcourse-caption">What the model sees</div>{picture}'


def status_html(text: str) -> str:
    """The status line: plain text in the element that tests look for."""
    return f'<div class="pixelcourse-status">{html.escape(text)}</div>'


def result_html(result: dict) -> str:
    """The latest result as JSON text, in a hidden element that tests read."""
    return f'<pre class="pixelcourse-result">{html.escape(json.dumps(result, separators=(",", ":")))}</pre>'


def describe(keep: int) -> str:
    """What a run keeps, in words for the status line."""
    return f"keeping rows 0-{keep - 1}" if keep else "nothing drawn: sampling from scratch"


def whole(value):
    """A slider's 4.0 as 4; anything else as it is, for ``parse_request`` to judge."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def fields_of(strokes: str, model: str, temperature, auto_keep: bool, keep, n) -> dict:
    """The page's inputs as the fields of a request (``inputs.parse_request``)."""
    if isinstance(strokes, str) and len(strokes) > MAX_BODY:
        raise BadRequest(f"the drawing is larger than {MAX_BODY} bytes; press Clear and draw again.")
    try:
        drawn = json.loads(strokes or "[]")
    except (TypeError, json.JSONDecodeError):
        raise BadRequest("the pad sent strokes that are not JSON; reload the page.") from None
    return {"strokes": drawn, "model": model, "temperature": temperature,
            "keep_rows": None if auto_keep else whole(keep), "n_completions": whole(n)}


class Page:
    """The page's event handlers, around one shared ``Batcher``; ``build()`` returns the Gradio Blocks."""

    def __init__(self, batcher: Batcher, default: str):
        self.batcher, self.default = batcher, default

    def preview(self, strokes: str, model: str, auto_keep: bool, keep):
        """What the model will see (the drawing, the kept rows, blue below) and the status line."""
        try:
            request = parse_request(fields_of(strokes, model, 1.0, auto_keep, keep, 1), self.batcher.models, self.default)
        except BadRequest as err:
            return "", status_html(f"Cannot read the drawing: {err}")
        levels = self.batcher.models[request.model].config.levels
        seen = seen_html(request.image, request.keep, levels)
        kept = f"Rows 0-{request.keep - 1} will be kept" if request.keep else "Nothing will be kept"
        return seen, status_html(f"{kept}; the model samples the rest. Press Complete.")

    async def complete(self, strokes, model, temperature, auto_keep, keep, n, seed, runs):
        """Complete the drawing: yields (completions, status, result JSON, seed, runs) as rows arrive."""
        seed = secrets.randbelow(MAX_SEED) if seed is None else seed
        runs += 1
        fields = {**fields_of(strokes, model, temperature, auto_keep, keep, n), "seed": (seed + runs) % MAX_SEED}
        start = time.monotonic()
        try:
            request = parse_request(fields, self.batcher.models, self.default)
            job = self.batcher.submit(request)
        except (BadRequest, ValueError) as err:
            yield gr.skip(), status_html(f"Cannot complete: {err}"), gr.skip(), seed, runs
            return
        except Busy:
            yield gr.skip(), status_html(BUSY), gr.skip(), seed, runs
            return
        levels = self.batcher.models[request.model].config.levels
        show = lambda *done: pictures(request.image, request.keep, levels, request.n_completions, *done)
        yield show(), status_html(f"Sampling with {request.model} ({describe(request.keep)}) ..."), gr.skip(), seed, runs
        waiting, shown = asyncio.wrap_future(job.future), request.keep
        while not waiting.done():
            await asyncio.wait([waiting], timeout=STREAM_EVERY_S)
            if not waiting.done() and job.rows_done > shown and job.partial is not None:
                shown = job.rows_done
                progress = status_html(f"Sampling: row {shown} of {GRID} ...")
                yield show(job.partial.numpy(), shown), progress, gr.skip(), seed, runs
        try:
            out = waiting.result()
        except Exception as err:  # the sampler failed: say so in the page, keep serving
            yield gr.skip(), status_html(f"Completion failed: {type(err).__name__}: {err}"), gr.skip(), seed, runs
            return
        result = make_result(job, out, levels, time.monotonic() - start)
        done = (f"Done in {result['seconds']:.2f} s (run {runs}, {request.n_completions} completions, "
                f"{describe(request.keep)}).")
        yield show(out.numpy(), GRID), status_html(done), result_html({**result, "run": runs}), seed, runs

    def build(self):
        """The Gradio Blocks of the page; its events use the server's queue with no limit of their own."""
        with gr.Blocks(title="PixelCNN drawing pad", analytics_enabled=False) as blocks:
            ui = self._layout()
            blocks.load(lambda: (secrets.randbelow(MAX_SEED), status_html(READY)), None, [ui.seed, ui.status],
                        js=WHEN_PAD_READY, queue=False, api_name="start")
            look = dict(fn=self.preview, inputs=[ui.strokes, ui.model, ui.auto_keep, ui.keep],
                        outputs=[ui.preview, ui.status], js=WITH_STROKES, queue=False)
            ui.trigger.click(**look, api_name="preview")
            ui.model.change(**look, api_visibility="undocumented")
            ui.auto_keep.change(**look, api_visibility="undocumented")
            ui.keep.release(**look, api_visibility="undocumented")
            ui.button.click(self.complete, [ui.strokes, ui.model, ui.temperature, ui.auto_keep, ui.keep, ui.n, ui.seed,
                                            ui.runs], [ui.shown, ui.status, ui.result, ui.seed, ui.runs],
                            js=WITH_STROKES, concurrency_limit=None, api_name="complete",
                            trigger_mode="always_last")  # a click while the last run is closing is kept, not dropped
        return blocks

    def _layout(self) -> SimpleNamespace:
        """The page's components, laid out; the pad (left), the controls (right), the completions below."""
        ui = SimpleNamespace()
        with gr.Column(elem_classes="pixelcourse-drawpad"):
            gr.Markdown(INTRO)
            with gr.Row():
                with gr.Column(min_width=300):
                    gr.HTML(PAD_HTML, js_on_load=(STATIC / "pad.js").read_text(), elem_classes="pixelcourse-padarea")
                with gr.Column(min_width=300):
                    ui.model = gr.Dropdown(list(self.batcher.models), value=self.default, label="Model")
                    ui.temperature = gr.Slider(*TEMPERATURE, value=1.0, step=0.05, label="Temperature")
                    ui.auto_keep = gr.Checkbox(True, label="keep down to the last row with ink")
                    ui.keep = gr.Slider(0, GRID, value=0, step=1, label="Rows kept (when not automatic)")
                    ui.n = gr.Slider(1, MAX_COMPLETIONS, value=DEFAULT_COMPLETIONS, step=1, label="Completions")
                    ui.button = gr.Button("Complete", variant="primary", elem_classes="pixelcourse-complete")
                with gr.Column(min_width=180, scale=0):
                    ui.preview = gr.HTML(seen_html(np.zeros((GRID, GRID), np.uint8), 0, 256))
            gr.Markdown("**Completions** (blue: not sampled yet)")
            ui.shown = gr.HTML(pictures(np.zeros((GRID, GRID), np.uint8), 0, 256, DEFAULT_COMPLETIONS))
            ui.status = gr.HTML(status_html("Loading the pad ..."))
            ui.result = gr.HTML(result_html({}), elem_classes="pixelcourse-resultbox")
            ui.strokes = gr.Textbox("[]", visible="hidden")
            ui.trigger = gr.Button("preview", visible="hidden", elem_classes="pixelcourse-preview-trigger")
            ui.seed, ui.runs = gr.State(None), gr.State(0)
        return ui
