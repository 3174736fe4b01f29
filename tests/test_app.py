"""``python -m pixelcourse.app``: the launcher's checks, and the app itself in headless Chromium.

The launcher tests pass in a ``serve`` that records what Voilà would be started
with. The browser test starts the real app on a free port, opens it in two tabs,
draws and completes in each, and checks that each tab has its own pad (Voilà
gives every tab its own kernel). It also checks that the canvases show the pad
when the page connects after the kernel has drawn, which ipycanvas under Voilà
gets right only through ``on_client_ready``. Saves a screenshot under artifacts/app/.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
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
from pixelcourse import CheckpointError, settings
from pixelcourse.app import AppError, load_models, main
from pixelcourse.app.serve import DEFAULT_IP, NOTEBOOK, check_address, parse_args, urls
from pixelcourse.widget import BACKGROUND, CELL, GRID, PENDING

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts" / "app"


# --------------------------------------------------------------------------- the launcher


def serve_recorder():
    calls = []

    def serve(argv):
        calls.append(argv)
        return 0

    return serve, calls


def test_defaults_listen_on_this_machine_only_and_open_a_browser():
    args = parse_args([])
    assert (args.ip, args.port, args.browser) == ("127.0.0.1", 8866, True)
    assert parse_args(["--port", "9000", "--ip", "0.0.0.0", "--no-browser"]).browser is False


def test_main_prints_the_url_and_starts_voila_on_the_shipped_notebook(capsys):
    serve, calls = serve_recorder()
    port = free_port()
    assert main(["--port", str(port), "--no-browser"], serve=serve) == 0
    assert f"http://127.0.0.1:{port}/" in capsys.readouterr().out
    (argv,) = calls
    assert Path(argv[0]) == NOTEBOOK and NOTEBOOK.is_file()
    assert f"--Voila.port={port}" in argv and f"--Voila.ip={DEFAULT_IP}" in argv
    assert "--Voila.port_retries=0" in argv and "--Voila.open_browser=False" in argv


def test_the_url_is_one_a_browser_can_open():
    assert urls("127.0.0.1", 8866) == ["http://127.0.0.1:8866/"]
    assert urls("::1", 8866) == ["http://[::1]:8866/"]
    assert urls("0.0.0.0", 8000)[0] == "http://127.0.0.1:8000/"  # every interface: this machine first, then its name


@pytest.mark.parametrize("port", ["0", "65536", "-1", "http"])
def test_a_bad_port_is_one_usage_error(port, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(["--port", port])
    assert exit_.value.code == 2
    assert "--port: must be a whole number from 1 to 65535" in capsys.readouterr().err


def test_a_port_in_use_is_one_clear_error_and_no_server_starts(capsys):
    serve, calls = serve_recorder()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["--port", str(port), "--no-browser"], serve=serve) == 2
    err = capsys.readouterr().err
    assert f"Port {port} on 127.0.0.1 is already in use" in err and "--port" in err
    assert calls == []


@pytest.mark.parametrize("ip", ["no-such-host.invalid", "192.0.2.1"])  # not a name; not an address of this machine
def test_an_address_that_cannot_be_listened_on_names_the_fix(ip):
    with pytest.raises(AppError, match="--ip|check --ip"):
        check_address(ip, free_port())


def test_missing_checkpoints_say_how_to_get_them(tmp_path):
    with pytest.raises(CheckpointError) as err:
        load_models(tmp_path)
    message = str(err.value)
    assert "mnist and mnist_binary" in message and str(tmp_path) in message
    assert "git checkout -- data/checkpoints" in message and "PIXELCOURSE_CHECKPOINTS" in message


def test_the_command_stops_before_voila_when_checkpoints_are_missing(tmp_path):
    env = {**os.environ, "PIXELCOURSE_CHECKPOINTS": str(tmp_path), "PYTHONPATH": str(REPO)}
    run = subprocess.run([sys.executable, "-m", "pixelcourse.app", "--no-browser", "--port", str(free_port())],
                         env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("error: The drawing pad needs the shipped checkpoints") and "Voil" not in run.stderr
    assert run.stdout == ""


# --------------------------------------------------------------------------- the app in a browser

# RGBA at the centre of every cell of the pad, as the page shows it.
READ_PAD = """([grid, cell]) => {
  const canvas = document.querySelector('.pixelcourse-drawpad canvas.pixelcourse-pad');
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const out = [];
  for (let i = 0; i < grid; i++) {
    const row = [];
    for (let j = 0; j < grid; j++) {
      const p = 4 * ((i * cell + cell / 2) * canvas.width + j * cell + cell / 2);
      row.push([data[p], data[p + 1], data[p + 2], data[p + 3]]);
    }
    out.push(row);
  }
  return out;
}"""

# True once both canvases are painted: the pad opaque everywhere, the completions all "not sampled yet"
# (or the white gaps between them). A canvas whose drawing commands were lost stays transparent.
PAINTED = """([pending, background]) => {
  const pad = document.querySelector('.pixelcourse-drawpad canvas.pixelcourse-pad');
  const shown = document.querySelector('.pixelcourse-drawpad canvas.pixelcourse-completions');
  if (!pad || !shown) return false;
  const ink = pad.getContext('2d').getImageData(0, 0, pad.width, pad.height).data;
  for (let p = 3; p < ink.length; p += 4) if (ink[p] !== 255) return false;
  const data = shown.getContext('2d').getImageData(0, 0, shown.width, shown.height).data;
  for (let p = 0; p < data.length; p += 4) {
    const px = [data[p], data[p + 1], data[p + 2], data[p + 3]];
    if (!px.every((v, k) => v === pending[k]) && !px.every((v, k) => v === background[k])) return false;
  }
  return true;
}"""


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """``python -m pixelcourse.app`` on a free port: yields (url, log tail); stopped afterwards with its kernels."""
    home = tmp_path_factory.mktemp("voila")
    port = free_port()
    env = {
        **os.environ,
        "PIXELCOURSE_CHECKPOINTS": str(settings.CHECKPOINT_DIR),
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "IPYTHONDIR": str(home / "ipython"),
    }
    log_path = home / "app.log"
    log = open(log_path, "w")
    server = subprocess.Popen([sys.executable, "-m", "pixelcourse.app", "--port", str(port), "--no-browser"],
                              cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"

    def log_tail() -> str:
        log.flush()
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])

    try:
        deadline = time.monotonic() + 120
        while not re.search(r"Voil. is running at", log_path.read_text(errors="replace")):
            if server.poll() is not None:
                pytest.fail(f"the app exited with code {server.returncode}:\n{log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not start within 120 s:\n{log_tail()}")
            time.sleep(0.2)
        assert log_path.read_text().startswith(f"The PixelCNN drawing pad: {url} "), log_tail()
        yield url, log_tail
    finally:
        # On SIGTERM Voilà shuts its kernels down; anything still alive after that is killed with the group.
        for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            if server.poll() is not None:
                break
            os.killpg(server.pid, sig)
            try:
                server.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                pass
        log.close()


def open_pad(context, url, log_tail):
    """A new tab on the app, once its pad says Ready and both canvases are painted."""
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url, timeout=120_000)
    try:
        page.locator(".pixelcourse-drawpad .pixelcourse-status", has_text="Ready").wait_for(timeout=120_000)
        page.wait_for_function(PAINTED, arg=[list(PENDING), list(BACKGROUND)], timeout=20_000, polling=200)
    except Exception:
        raise AssertionError(f"the pad did not appear painted in a new tab:\n{log_tail()}") from None
    print(f"\nnew tab: the pad is ready {time.perf_counter() - started:.1f} s after opening the page")
    return page


def read_pad(page) -> np.ndarray:
    return np.array(page.evaluate(READ_PAD, [GRID, CELL]))  # (28, 28, 4) RGBA


@needs_chromium
def test_two_tabs_each_draw_and_complete_on_their_own_pad(app):
    from playwright.sync_api import sync_playwright

    url, log_tail = app
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = launch_chromium(p)
        tabs = browser.new_context(viewport={"width": 1100, "height": 760})  # one window, tabs share cookies
        try:
            first = open_pad(tabs, url, log_tail)
            blank = read_pad(first)
            assert (blank[..., 3] == 255).all() and (blank == blank[:1, :1]).all(), "an empty pad is one colour"

            # 1. Tab 1: the top of a 7. Four completions keep the drawn rows; the pad shows the ink the model got.
            draw(first, SEVEN_TOP)
            first.locator(".pixelcourse-drawpad .pixelcourse-status", has_text="will be kept").wait_for(timeout=30_000)
            seconds, result = complete_and_time(first)
            print(f"\napp: click to done {seconds:.2f} s in the page, {result['seconds']:.2f} s in the kernel, "
                  f"{result['keep_rows']} rows kept")
            check_completion(first, result, [SEVEN_TOP])
            assert result["run"] == 1 and result["levels"] == 256
            keep, drawing = result["keep_rows"], np.array(result["drawing"])
            shown = read_pad(first)
            assert (shown[:keep, :, :3] == drawing[:keep, :, None]).all(), "the pad must show the ink the model got"
            first.screenshot(path=str(ARTIFACTS / "app.png"), full_page=True)
            assert seconds <= CLICK_TO_DONE_LIMIT_S, f"click to done took {seconds:.2f} s (limit {CLICK_TO_DONE_LIMIT_S} s)"

            # 2. Tab 2 on the same server: a new kernel, so an empty pad and a run counter of its own.
            second = open_pad(tabs, url, log_tail)
            assert (read_pad(second) == blank).all(), "the second tab must start with an empty pad"
            draw(second, NINE_LOOP)
            second.locator(".pixelcourse-drawpad .pixelcourse-status", has_text="will be kept").wait_for(timeout=30_000)
            seconds2, result2 = complete_and_time(second)
            check_completion(second, result2, [NINE_LOOP])
            assert result2["run"] == 1, "the second tab's pad must count its own runs"
            print(f"second tab: click to done {seconds2:.2f} s")

            # 3. Tab 1 is untouched by tab 2.
            assert (read_pad(first) == shown).all(), "drawing in tab 2 must not change tab 1"
            check_completion(first, result, [SEVEN_TOP])
        except BaseException:
            for k, page in enumerate(tabs.pages):
                page.screenshot(path=str(ARTIFACTS / f"app_failure_tab{k + 1}.png"), full_page=True)
            print(f"screenshots of the failure under {ARTIFACTS}\n{log_tail()}")
            raise
        finally:
            browser.close()
