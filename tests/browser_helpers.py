"""What the two browser tests share: headless Debian Chromium, and the drawing pad's page helpers.

``test_browser`` drives the pad in JupyterLab (notebook 09), ``test_app`` in the
app for a class (``python -m pixelcourse.app``); both find the pad by its CSS classes
(``.pixelcourse-drawpad`` ...), so the same helpers draw, click Complete and check
what the model returned (``check_result``) against what the page shows.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest

from pixelcourse.widget import CELL, GAP, GRID, PENDING, SCALE, Stroke, rasterise, rows_to_keep

CHROMIUM = Path("/usr/bin/chromium")
CLICK_TO_DONE_LIMIT_S = 3.0

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"Debian Chromium is not installed at {CHROMIUM} (CI installs it: apt-get install chromium)",
)

SEVEN_TOP = [(60, 55), (215, 50), (175, 125)]  # canvas pixels, 10 per cell
NINE_LOOP = [(170, 60), (110, 35), (75, 70), (110, 105), (170, 80), (175, 60)]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_chromium(playwright):
    """Headless Debian Chromium (never a browser Playwright downloads), quiet: no network chatter of its own."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
              "--disable-component-update", "--disable-sync", "--no-first-run"],
    )


# --------------------------------------------------------------------------- page helpers

# Times the next click on Complete and the first frame after it in which the status says "Done in" and the
# completions canvas shows no pixel "not sampled yet", both in the page's clock.
ARM_TIMER = """([pending]) => {
  const t = window.__pixelcourse = {click: null, done: null};
  const pad = document.querySelector('.pixelcourse-drawpad');
  const button = pad.querySelector('.pixelcourse-complete');
  const status = pad.querySelector('.pixelcourse-status');
  const canvas = pad.querySelector('canvas.pixelcourse-completions');
  const allSampled = () => {
    const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    for (let p = 0; p < data.length; p += 4) {
      if (data[p] === pending[0] && data[p + 1] === pending[1] && data[p + 2] === pending[2]) return false;
    }
    return true;
  };
  const frame = () => {
    if (t.click !== null && status.textContent.includes('Done in') && allSampled()) t.done = performance.now();
    else requestAnimationFrame(frame);
  };
  button.addEventListener('click', () => {
    if (t.click === null) { t.click = performance.now(); requestAnimationFrame(frame); }
  }, {capture: true, once: true});
}"""

# Grey value at the centre of every pixel of every completion, as the page shows them.
READ_COMPLETIONS = """([n, size, scale, gap]) => {
  const canvas = document.querySelector('.pixelcourse-drawpad canvas.pixelcourse-completions');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const out = [];
  for (let k = 0; k < n; k++) {
    const image = [];
    for (let i = 0; i < size; i++) {
      const row = [];
      for (let j = 0; j < size; j++) {
        const x = k * (size * scale + gap) + j * scale + scale / 2, y = i * scale + scale / 2;
        const p = 4 * (y * canvas.width + x);
        row.push([data[p], data[p + 1], data[p + 2]]);
      }
      image.push(row);
    }
    out.push(image);
  }
  return out;
}"""


def draw(page, points) -> None:
    """One stroke with the mouse through points given in canvas pixels."""
    pad = page.locator(".pixelcourse-drawpad canvas.pixelcourse-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    to_page = lambda p: (box["x"] + p[0] * box["width"] / (GRID * CELL), box["y"] + p[1] * box["height"] / (GRID * CELL))
    page.mouse.move(*to_page(points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*to_page(p), steps=12)
    page.mouse.up()


def complete_and_time(page, *, double: bool = False) -> tuple[float, dict]:
    """Click Complete (twice if double), wait for "Done in"; returns (click-to-done seconds, the result JSON)."""
    page.evaluate(ARM_TIMER, [list(PENDING[:3])])
    button = page.locator(".pixelcourse-drawpad .pixelcourse-complete")
    button.dblclick() if double else button.click()
    page.wait_for_function("() => window.__pixelcourse.done !== null", timeout=120_000)
    timer = page.evaluate("() => window.__pixelcourse")
    result = json.loads(page.locator(".pixelcourse-drawpad .pixelcourse-result").text_content())
    return (timer["done"] - timer["click"]) / 1000, result


def check_result(result, strokes, n: int = 4) -> None:
    """What the model returned keeps the drawn rows exactly and fills the rest, ``n`` times with their own randomness."""
    expected = rasterise([Stroke(s, width=2.5) for s in strokes])
    drawing = np.array(result["drawing"])  # (28, 28) levels, zero below the kept rows
    completions = np.array(result["completions"])  # (n, 28, 28)
    keep, levels = result["keep_rows"], result["levels"]
    # The pad recorded the strokes that were drawn: the same rows and the same strong-ink cells.
    assert abs(keep - rows_to_keep(expected)) <= 1, (keep, rows_to_keep(expected))
    assert keep == int(np.flatnonzero(drawing.any(axis=1))[-1]) + 1  # default: down to the last row with ink
    strong = expected[:keep] == 255
    assert (drawing[:keep][strong] >= 200).all(), "cells in the middle of a stroke must be inked"
    assert not drawing[:keep][rasterise([Stroke(s, width=4.5) for s in strokes])[:keep] == 0].any(), "ink off the strokes"
    # The model's output: the drawn rows exactly, every other pixel sampled.
    assert completions.shape == (n, GRID, GRID)
    assert (completions[:, :keep] == drawing[None, :keep]).all(), "the drawn rows must be kept exactly"
    assert completions.min() >= 0 and completions.max() < levels
    # Each completion has its own random numbers: no two draw the same ink below the kept rows. Blank rows
    # there are a real answer (a closed loop can end the digit), and the mnist_gated model gives them to
    # two of four completions of the nine's loop in about 1 run in 40, so equal blank ones are allowed.
    tails = [c[keep:] for c in completions]
    inked = [t.tobytes() for t in tails if t.any()]
    assert len(set(inked)) == len(inked), "two completions drew the same pixels below the kept rows"
    assert len({t.tobytes() for t in tails}) >= 2, "every completion is the same below the kept rows"


def check_completion(page, result, strokes) -> None:
    """What the model returned keeps the drawn rows exactly, fills the rest, and is what the page shows."""
    check_result(result, strokes)
    completions, levels = np.array(result["completions"]), result["levels"]
    # The page shows exactly that: no pixel is left "not sampled yet".
    shown = np.array(page.evaluate(READ_COMPLETIONS, [4, GRID, SCALE, GAP]))  # (4, 28, 28, 3)
    assert not (shown == np.array(PENDING[:3])).all(axis=-1).any(), "some pixels are still shown as not sampled"
    assert (shown == shown[..., :1]).all(), "completions must be grey"
    assert (shown[..., 0] == np.rint(completions * 255 / (levels - 1))).all(), "the page shows other values"


# --------------------------------------------------------------------------- the app for a class (pixelcourse.app)

# Times the next click on Complete and the first frame in which the status says "Done", in the page's clock.
APP_TIMER = """() => {
  const t = window.__pixelcourse = {click: null, done: null};
  const frame = () => {
    const status = document.querySelector('.pixelcourse-status');
    if (status && status.textContent.includes('Done')) t.done = performance.now();
    else requestAnimationFrame(frame);
  };
  document.querySelector('.pixelcourse-complete').addEventListener('click', () => {
    if (t.click === null) { t.click = performance.now(); requestAnimationFrame(frame); }
  }, {capture: true, once: true});
}"""

# Grey value at the centre of every pixel of every completion in the app's picture of them.
READ_APP_COMPLETIONS = """([n, size, scale, gap]) => {
  const img = document.querySelector('img.pixelcourse-completions');
  const canvas = document.createElement('canvas');
  canvas.width = img.naturalWidth; canvas.height = img.naturalHeight;
  const ctx = canvas.getContext('2d');
  ctx.drawImage(img, 0, 0);
  const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
  const out = [];
  for (let k = 0; k < n; k++) {
    const image = [];
    for (let i = 0; i < size; i++) {
      const row = [];
      for (let j = 0; j < size; j++) {
        const p = 4 * ((i * scale + scale / 2) * canvas.width + k * (size * scale + gap) + j * scale + scale / 2);
        row.push([data[p], data[p + 1], data[p + 2]]);
      }
      image.push(row);
    }
    out.push(image);
  }
  return out;
}"""


def draw_on_app(page, points) -> None:
    """One stroke with the mouse on the app's pad (``canvas.pixelcourse-pad``), points in canvas pixels."""
    pad = page.locator("canvas.pixelcourse-pad")
    pad.scroll_into_view_if_needed()
    box = pad.bounding_box()
    to_page = lambda p: (box["x"] + p[0] * box["width"] / (GRID * CELL), box["y"] + p[1] * box["height"] / (GRID * CELL))
    page.mouse.move(*to_page(points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*to_page(p), steps=12)
    page.mouse.up()


def app_result(page) -> dict:
    """The app's latest result JSON ({} before the first completion)."""
    return json.loads(page.locator(".pixelcourse-result").text_content())


def complete_on_app(page) -> tuple[float, dict]:
    """Click the app's Complete, wait for "Done"; returns (click-to-done seconds in the page's clock, the result)."""
    page.evaluate(APP_TIMER)
    page.locator(".pixelcourse-complete").click()
    page.wait_for_function("() => window.__pixelcourse.done !== null", timeout=120_000)
    timer = page.evaluate("() => window.__pixelcourse")
    return (timer["done"] - timer["click"]) / 1000, app_result(page)


def check_app_shows(page, result) -> None:
    """The app's picture of the completions is the result: grey, every pixel sampled, the same values."""
    completions, levels = np.array(result["completions"]), result["levels"]
    shown = np.array(page.evaluate(READ_APP_COMPLETIONS, [len(completions), GRID, SCALE, GAP]))  # (n, 28, 28, 3)
    assert not (shown == np.array(PENDING[:3])).all(axis=-1).any(), "some pixels are still shown as not sampled"
    assert (shown == shown[..., :1]).all(), "completions must be grey"
    assert (shown[..., 0] == np.rint(completions * 255 / (levels - 1))).all(), "the page shows other values"
