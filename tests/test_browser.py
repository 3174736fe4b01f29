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
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from browser_helpers import (
    CLICK_TO_DONE_LIMIT_S,
    NINE_LOOP,
    SEVEN_TOP,
    check_completion,
    complete_and_time,
    draw,
    free_port,
    launch_chromium,
    needs_chromium,
)
from pixelcourse import settings

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = "notebooks/09_draw_and_complete.ipynb"
ARTIFACTS = REPO / "artifacts" / "browser"

pytestmark = needs_chromium


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
    port, token = free_port(), secrets.token_hex(16)
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
    # `-m jupyterlab`, not `-m jupyter lab`: the latter runs the first jupyter-lab on PATH, which may belong to
    # another Python whose kernel lacks this environment's packages.
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
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
        browser = launch_chromium(p)
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

def run_all(page, log_tail, timeout_s: float = 600) -> None:
    page.wait_for_function(KERNEL_READY, timeout=180_000)
    # Clearing resets every execution count, so "all cells have a count" means "all ran again".
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
    page.wait_for_function(ALL_CLEARED, timeout=30_000)
    page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    state = page.wait_for_function(KERNEL_IDLE_AND_ALL_RUN, timeout=timeout_s * 1000, polling=250).json_value()
    assert state == "done", f"notebook 09 failed in the browser: {state}\n{log_tail()}"
    page.locator(".pixelcourse-drawpad .pixelcourse-status", has_text="Ready").wait_for(timeout=30_000)


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
