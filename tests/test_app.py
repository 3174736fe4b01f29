"""``python -m pixelcourse.app``: the launcher's checks, the HTTP API, and the page in headless Chromium.

The launcher tests pass in a ``serve`` that records what would be served. The
other tests start the real app once, on a free port of 127.0.0.1 with a tiny
queue (``--queue 3``) and a long batching window, and drive it through its JSON
API (bad requests, the busy queue, seeds, a client that leaves) and through two
browser tabs. Saves a screenshot under artifacts/app/.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from browser_helpers import (
    CLICK_TO_DONE_LIMIT_S,
    NINE_LOOP,
    SEVEN_TOP,
    app_result,
    check_app_shows,
    check_result,
    complete_on_app,
    draw_on_app,
    free_port,
    launch_chromium,
    needs_chromium,
)
from pixelcourse import CheckpointError, settings
from pixelcourse.app import AppError, load_models, main
from pixelcourse.app.serve import DEFAULT_IP, check_address, parse_args, urls
from pixelcourse.widget import Stroke, rasterise

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "artifacts" / "app"
QUEUE = 3  # the app under test lets three clicks wait; a fourth is told it is busy
SEVEN = rasterise([Stroke(SEVEN_TOP, width=2.5)]).tolist()  # as the pad draws it


# --------------------------------------------------------------------------- the launcher


def serve_recorder():
    calls = []

    def serve(app, args):
        calls.append((app, args))
        return 0

    return serve, calls


def test_defaults_listen_on_this_machine_only_and_open_a_browser():
    args = parse_args([])
    assert (args.ip, args.port, args.browser, args.queue) == ("127.0.0.1", 8866, True, 64)
    assert parse_args(["--port", "9000", "--ip", "0.0.0.0", "--no-browser"]).browser is False


def test_main_builds_one_app_with_the_shipped_models():
    serve, calls = serve_recorder()
    assert main(["--port", str(free_port()), "--no-browser", "--queue", "5"], serve=serve) == 0
    ((app, args),) = calls
    assert args.queue == 5 and {route.path for route in app.routes} >= {"/api/complete", "/api/models"}


def test_the_url_is_one_a_browser_can_open():
    assert urls("127.0.0.1", 8866) == ["http://127.0.0.1:8866/"]
    assert urls("::1", 8866) == ["http://[::1]:8866/"]
    assert urls("0.0.0.0", 8000)[0] == "http://127.0.0.1:8000/"  # every interface: this machine first, then its name


@pytest.mark.parametrize("option, value", [("--port", "0"), ("--port", "65536"), ("--port", "http"),
                                           ("--queue", "0"), ("--window-ms", "-1")])
def test_a_bad_option_is_one_usage_error(option, value, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args([option, value])
    assert exit_.value.code == 2
    assert f"{option}: must be a whole number from" in capsys.readouterr().err


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


def env_for_app(**extra) -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            "GRADIO_ANALYTICS_ENABLED": "False", **extra}


def test_the_command_stops_before_serving_when_checkpoints_are_missing(tmp_path):
    run = subprocess.run([sys.executable, "-m", "pixelcourse.app", "--no-browser", "--port", str(free_port())],
                         env=env_for_app(PIXELCOURSE_CHECKPOINTS=str(tmp_path)), capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("error: The drawing pad needs the shipped checkpoints") and "Traceback" not in run.stderr
    assert run.stdout == ""


# --------------------------------------------------------------------------- the running app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """``python -m pixelcourse.app`` on a free port: yields (url, log tail); stopped afterwards."""
    home = tmp_path_factory.mktemp("app")
    port = free_port()
    log_path = home / "app.log"
    log = open(log_path, "w")
    command = [sys.executable, "-m", "pixelcourse.app", "--port", str(port), "--no-browser", "--queue", str(QUEUE),
               "--window-ms", "150"]
    server = subprocess.Popen(command, cwd=home, env=env_for_app(PIXELCOURSE_CHECKPOINTS=str(settings.CHECKPOINT_DIR),
                                                                 GRADIO_TEMP_DIR=str(home / "gradio")),
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"

    def log_tail() -> str:
        log.flush()
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])

    try:
        deadline = time.monotonic() + 120
        while "drawing pad:" not in log_path.read_text(errors="replace"):
            if server.poll() is not None:
                pytest.fail(f"the app exited with code {server.returncode}:\n{log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not start within 120 s:\n{log_tail()}")
            time.sleep(0.05)
        # The URL is printed once the server answers: opening it at once must work.
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200
        assert log_path.read_text().startswith(f"The PixelCNN drawing pad: {url} "), log_tail()
        yield url, log_tail
    finally:
        for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            if server.poll() is not None:
                break
            os.killpg(server.pid, sig)
            try:
                server.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                pass
        log.close()


def post(url: str, body, timeout: float = 60) -> tuple[int, dict]:
    """POST ``body`` (a dict as JSON, or bytes as they are) to the app's API; returns (status, JSON answer)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url + "api/complete", data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_the_api_completes_a_drawing_and_an_empty_one(app):
    url, _ = app
    status, result = post(url, {"drawing": SEVEN, "seed": 1})
    assert status == 200, result
    check_result(result, [SEVEN_TOP])
    assert result["seed"] == 1 and result["levels"] == 256
    status, empty = post(url, {"n_completions": 2, "model": "mnist_binary"})
    assert status == 200, empty
    assert empty["keep_rows"] == 0 and np.array(empty["completions"]).shape == (2, 28, 28)
    assert empty["levels"] == 2 and np.array(empty["completions"]).max() <= 1


@pytest.mark.parametrize("body, status, says", [
    ({"drawing": [[0] * 28] * 27}, 400, "28 rows of 28"),
    ({"drawing": [[0.5] * 28] * 28}, 400, "whole numbers from 0 to 255"),
    (b'{"temperature": NaN}', 400, "NaN"),
    ({"temperature": 9}, 400, "temperature must be a number from 0.1 to 2.0"),
    ({"n_completions": 100}, 400, "n_completions"),
    (b"not json", 400, "JSON object"),
    (b"[1, 2]", 400, "JSON object"),
    (b'{"drawing": "' + b"x" * 400_000 + b'"}', 413, "larger than"),
])
def test_a_malformed_request_gets_one_clear_error_and_no_traceback(app, body, status, says):
    url, _ = app
    got, answer = post(url, body)
    assert got == status and says in answer["error"] and "Traceback" not in json.dumps(answer)


def test_same_seed_alone_and_in_a_batch_gives_the_same_completions_whatever_others_send(app):
    url, _ = app
    mine = {"drawing": SEVEN, "seed": 42, "temperature": 0.9}
    _, alone = post(url, mine)
    others = [{"seed": 3, "temperature": 1.5, "n_completions": 2}, {"drawing": SEVEN, "temperature": -1},  # bad
              {"drawing": rasterise([NINE_LOOP]).tolist(), "keep_rows": 5, "seed": 4}]
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda body: post(url, body), [mine, *others]))
    (status, together), *rest = answers
    assert status == 200 and together["completions"] == alone["completions"]
    assert [s for s, _ in rest] == [200, 400, 200]
    print(f"\nseed test: served in a sampler call of {together['batch_images']} images")
    assert together["batch_images"] > 4, "the requests were not batched (the window is 150 ms)"


def test_a_full_queue_says_busy_with_503_and_the_others_are_served(app):
    url, _ = app
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda seed: post(url, {"seed": seed, "n_completions": 8}), range(12)))
    busy = [a for s, a in answers if s == 503]
    assert busy and all("busy" in a["error"] and "try again" in a["error"] for a in busy)
    assert all(s in (200, 503) for s, _ in answers) and any(s == 200 for s, _ in answers)


def test_the_server_stays_up_when_a_client_leaves_mid_run(app):
    url, _ = app
    port = int(url.rstrip("/").rsplit(":", 1)[1])
    body = json.dumps({"n_completions": 8}).encode()
    for wait_s in (0.0, 0.3):  # leave at once, and while its drawing is being completed
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", "/api/complete", body, {"Content-Type": "application/json"})
        time.sleep(wait_s)
        connection.close()
    status, result = post(url, {"drawing": SEVEN, "seed": 5})
    assert status == 200 and result["n_completions"] == 4


# --------------------------------------------------------------------------- the page in a browser


def open_app(context, url, log_tail, outside: list):
    """A new tab on the app, once its status says Ready; requests to anywhere but the app are refused and listed."""
    page = context.new_page()
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(url)
               or route.request.url.startswith("data:") else (outside.append(route.request.url), route.abort()))
    started = time.perf_counter()
    page.goto(url, timeout=120_000)
    try:
        page.locator(".pixelcourse-status", has_text="Ready").wait_for(timeout=120_000)
    except Exception:
        raise AssertionError(f"the pad did not say Ready in a new tab:\n{log_tail()}") from None
    print(f"\nnew tab: ready {time.perf_counter() - started:.1f} s after opening the page")
    return page


@needs_chromium
def test_tabs_draw_and_complete_on_their_own_at_once_too(app):
    from playwright.sync_api import sync_playwright

    url, log_tail = app
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    outside = []
    with sync_playwright() as p:
        browser = launch_chromium(p)
        tabs = browser.new_context(viewport={"width": 1100, "height": 980})
        try:
            # 1. Tab 1: the top of a 7; four completions keep the drawn rows, and the page shows them.
            first = open_app(tabs, url, log_tail, outside)
            assert app_result(first) == {}
            draw_on_app(first, SEVEN_TOP)
            first.locator(".pixelcourse-status", has_text="will be kept").wait_for(timeout=30_000)
            seconds, result = complete_on_app(first)
            print(f"app: click to done {seconds:.2f} s in the page, {result['seconds']:.2f} s in the server")
            check_result(result, [SEVEN_TOP])
            check_app_shows(first, result)
            first.screenshot(path=str(ARTIFACTS / "app.png"), full_page=True)
            assert seconds <= CLICK_TO_DONE_LIMIT_S, f"click to done took {seconds:.2f} s"

            # 2. Tab 2: an empty pad of its own; Complete on nothing samples from scratch; then a 9 of its own.
            second = open_app(tabs, url, log_tail, outside)
            assert app_result(second) == {}
            _, empty = complete_on_app(second)
            assert empty["keep_rows"] == 0 and empty["run"] == 1
            draw_on_app(second, NINE_LOOP)
            second.locator(".pixelcourse-status", has_text="will be kept").wait_for(timeout=30_000)
            _, nine = complete_on_app(second)
            check_result(nine, [NINE_LOOP])
            assert app_result(first) == result, "tab 2 must not change tab 1"

            # 3. Both tabs press Complete at once: each gets the completions of its own drawing.
            for page in (first, second):
                page.evaluate("() => document.querySelector('.pixelcourse-complete').click()")
            for page, strokes, run in ((first, SEVEN_TOP, 2), (second, NINE_LOOP, 3)):
                page.wait_for_function("([run]) => document.querySelector('.pixelcourse-status').textContent"
                                       ".includes(`Done in`) && document.querySelector('.pixelcourse-status')"
                                       ".textContent.includes(`run ${run},`)", arg=[run], timeout=60_000)
                again = app_result(page)
                check_result(again, [strokes])
                check_app_shows(page, again)
            print(f"two tabs at once: sampler calls of {app_result(first)['batch_images']} and "
                  f"{app_result(second)['batch_images']} images")
            assert outside == [], f"the page asked for things outside the app: {outside[:5]}"
        except BaseException:
            for k, page in enumerate(tabs.pages):
                page.screenshot(path=str(ARTIFACTS / f"app_failure_tab{k + 1}.png"), full_page=True)
            print(f"screenshots of the failure under {ARTIFACTS}\n{log_tail()}")
            raise
        finally:
            browser.close()
