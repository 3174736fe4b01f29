"""Notebook 09 in a real browser: JupyterLab + headless Debian Chromium driven by Playwright.

Starts JupyterLab on 127.0.0.1 (random port and token) in a temporary copy of the course,
opens notebooks/09_draw_and_complete.ipynb, runs all cells, draws the top of a 7 with the
mouse, clicks Complete and checks what the page shows and what the model returned. Then a
new drawing with a double click on Complete (one run only), and a kernel restart followed
by running everything again. Saves a screenshot under artifacts/browser/.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from pixelcourse import settings
from pixelcourse.widget import CELL, GAP, GRID, PENDING, SCALE, Stroke, rasterise, rows_to_keep

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = "notebooks/09_draw_and_complete.ipynb"
ARTIFACTS = REPO / "artifacts" / "browser"
CLICK_TO_DONE_LIMIT_S = 3.0

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"Debian Chromium is not installed at {CHROMIUM} (CI installs it: apt-get install chromium)",
)

SEVEN_TOP = [(60, 55), (215, 50), (175, 125)]  # canvas pixels, 10 per cell
NINE_LOOP = [(170, 60), (110, 35), (75, 70), (110, 105), (170, 80), (175, 60)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy_course(root: Path) -> None:
    """The parts of the course the notebook needs; data/ stays where it is (PIXELCOURSE_DATA)."""
    ignore = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")
    shutil.copytree(REPO / "pixelcourse", root / "pixelcourse", ignore=ignore)
    shutil.copytree(REPO / "notebooks", root / "notebooks", ignore=ignore)
    if settings.CHECKPOINT_DIR.is_dir():
        shutil.copytree(settings.CHECKPOINT_DIR, root / "data" / "checkpoints", ignore=shutil.ignore_patterns("*.tmp"))
    else:
        (root / "data" / "checkpoints").mkdir(parents=True)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server in a temporary copy of the course: yields (base url, token); shut down afterwards."""
    if not (REPO / NOTEBOOK).exists():
        pytest.fail(f"{NOTEBOOK} is missing: write it with `python tools/make_notebooks.py`.")
    root = tmp_path_factory.mktemp("course")
    home = tmp_path_factory.mktemp("jupyter")
    _copy_course(root)
    settings_dir = home / "settings"
    (settings_dir / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    # No news or update toasts over the notebook.
    (settings_dir / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    port, token = _free_port(), secrets.token_hex(16)
    env = {
        **os.environ,
        "PIXELCOURSE_QUICK": "1",
        "PIXELCOURSE_DATA": str(settings.DATA_DIR),
        "PIXELCOURSE_CHECKPOINTS": str(root / "data" / "checkpoints"),
        "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(settings_dir),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        "IPYTHONDIR": str(home / "ipython"),
    }
    log = open(home / "jupyterlab.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True", "--LabApp.extension_manager=readonly",
         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def log_tail() -> str:
        log.flush()
        return "\n".join((home / "jupyterlab.log").read_text(errors="replace").splitlines()[-40:])

    try:
        deadline = time.monotonic() + 120
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {server.returncode}:\n{log_tail()}")
            try:
                with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer /api/status within 120 s:\n{log_tail()}")
            time.sleep(0.2)
        yield url, token, log_tail
    finally:
        try:  # a clean shutdown also stops the kernels
            request = urllib.request.Request(f"{url}/api/shutdown", method="POST",
                                             headers={"Authorization": f"token {token}"})
            urllib.request.urlopen(request, timeout=5).close()
            server.wait(timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if server.poll() is None:
            os.killpg(server.pid, 15)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, 9)
                server.wait()
        log.close()


@pytest.fixture(scope="module")
def page(lab):
    from playwright.sync_api import sync_playwright

    url, token, _ = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{url}/lab/tree/{NOTEBOOK}?token={token}")
            yield page
        finally:
            browser.close()


# --------------------------------------------------------------------------- page helpers

KERNEL_IDLE_AND_ALL_RUN = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext) return false;
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  for (const cell of panel.content.widgets) {
    if (cell.model.type !== 'code') continue;
    for (let i = 0; i < cell.model.outputs.length; i++) {
      const out = cell.model.outputs.get(i);
      if (out.type === 'error') return 'error: ' + JSON.stringify(out.toJSON()).slice(0, 3000);
    }
    if (cell.model.executionCount === null) return false;
  }
  return kernel && kernel.status === 'idle' ? 'done' : false;
}"""

KERNEL_READY = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = panel && panel.sessionContext && panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!kernel && kernel.status === 'idle' && panel.content.widgets.length > 0;
}"""

ALL_CLEARED = """() => window.jupyterapp.shell.currentWidget.content.widgets.every(
  cell => cell.model.type !== 'code' || (cell.model.executionCount === null && cell.model.outputs.length === 0))"""

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


def run_all(page, log_tail, timeout_s: float = 600) -> None:
    page.wait_for_function(KERNEL_READY, timeout=180_000)
    # Clearing resets every execution count, so "all cells have a count" means "all ran again".
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_function(ALL_CLEARED, timeout=30_000)
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    state = page.wait_for_function(KERNEL_IDLE_AND_ALL_RUN, timeout=timeout_s * 1000, polling=250).json_value()
    assert state == "done", f"notebook 09 failed in the browser: {state}\n{log_tail()}"
    page.locator(".pixelcourse-drawpad .pixelcourse-status", has_text="Ready").wait_for(timeout=30_000)


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


def check_completion(page, result, strokes) -> None:
    """What the model returned keeps the drawn rows exactly, fills the rest, and is what the page shows."""
    expected = rasterise([Stroke(s, width=2.5) for s in strokes])
    drawing = np.array(result["drawing"])  # (28, 28) levels, zero below the kept rows
    completions = np.array(result["completions"])  # (4, 28, 28)
    keep, levels = result["keep_rows"], result["levels"]
    # The pad recorded the strokes that were drawn: the same rows and the same strong-ink cells.
    assert abs(keep - rows_to_keep(expected)) <= 1, (keep, rows_to_keep(expected))
    assert keep == int(np.flatnonzero(drawing.any(axis=1))[-1]) + 1  # default: down to the last row with ink
    strong = expected[:keep] == 255
    assert (drawing[:keep][strong] >= 200).all(), "cells in the middle of a stroke must be inked"
    assert not drawing[:keep][rasterise([Stroke(s, width=4.5) for s in strokes])[:keep] == 0].any(), "ink off the strokes"
    # The model's output: the drawn rows exactly, every other pixel sampled.
    assert completions.shape == (4, GRID, GRID)
    assert (completions[:, :keep] == drawing[None, :keep]).all(), "the drawn rows must be kept exactly"
    assert completions.min() >= 0 and completions.max() < levels
    assert len({c[keep:].tobytes() for c in completions}) == 4, "four different completions below the kept rows"
    # The page shows exactly that: no pixel is left "not sampled yet".
    shown = np.array(page.evaluate(READ_COMPLETIONS, [4, GRID, SCALE, GAP]))  # (4, 28, 28, 3)
    assert not (shown == np.array(PENDING[:3])).all(axis=-1).any(), "some pixels are still shown as not sampled"
    assert (shown == shown[..., :1]).all(), "completions must be grey"
    assert (shown[..., 0] == np.rint(completions * 255 / (levels - 1))).all(), "the page shows other values"


def test_draw_and_complete_in_jupyterlab(lab, page):
    _, _, log_tail = lab
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "draw_and_complete.png"
    try:
        started = time.perf_counter()
        run_all(page, log_tail)
        print(f"\nnotebook 09 ran in the browser in {time.perf_counter() - started:.1f} s")

        # 1. The top of a 7: completions appear, keep the drawn rows, and come fast.
        draw(page, SEVEN_TOP)
        page.locator(".pixelcourse-drawpad .pixelcourse-status", has_text="will be kept").wait_for(timeout=30_000)
        seconds, result = complete_and_time(page)
        print(f"click to done: {seconds:.2f} s in the page, {result['seconds']:.2f} s in the kernel "
              f"(first row after {result['first_row_seconds']} s), {result['keep_rows']} rows kept")
        check_completion(page, result, [SEVEN_TOP])
        assert result["run"] == 1
        page.locator(".pixelcourse-drawpad").screenshot(path=str(shot))
        print(f"screenshot: {shot}")
        assert seconds <= CLICK_TO_DONE_LIMIT_S, f"click to done took {seconds:.2f} s (limit {CLICK_TO_DONE_LIMIT_S} s)"

        # 2. A new drawing after a completion; a double click starts one run only.
        page.locator(".pixelcourse-drawpad .pixelcourse-clear").click()
        page.locator(".pixelcourse-drawpad .pixelcourse-status", has_text="Cleared").wait_for(timeout=30_000)
        draw(page, NINE_LOOP)
        page.locator(".pixelcourse-drawpad .pixelcourse-status", has_text="will be kept").wait_for(timeout=30_000)
        seconds2, result2 = complete_and_time(page, double=True)
        check_completion(page, result2, [NINE_LOOP])
        assert result2["run"] == 2, "the second click of the double click must be ignored"
        print(f"second drawing: click to done {seconds2:.2f} s")

        # 3. Restart the kernel and run everything again: the new pad works.
        page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.session.kernel.restart()")
        run_all(page, log_tail)
        draw(page, SEVEN_TOP)
        page.locator(".pixelcourse-drawpad .pixelcourse-status", has_text="will be kept").wait_for(timeout=30_000)
        seconds3, result3 = complete_and_time(page)
        check_completion(page, result3, [SEVEN_TOP])
        assert result3["run"] == 1
        print(f"after a kernel restart: click to done {seconds3:.2f} s")
    except BaseException:
        failed = ARTIFACTS / "draw_and_complete_failure.png"
        page.screenshot(path=str(failed), full_page=True)
        print(f"screenshot of the failure: {failed}")
        raise
