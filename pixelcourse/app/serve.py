"""``python -m pixelcourse.app``: the drawing pad for a whole class, served by one process.

One server (FastAPI under uvicorn) holds one copy of each model, the page
(Gradio, ``page.py``) and the HTTP API (``api.py``); every click on Complete,
from any tab or client, goes to one ``Batcher`` that completes the drawings of
many users in one sampler call. Before the server starts, the launcher checks
the checkpoints and the address, so that each problem gives one clear error,
and it prints the URL only once the server answers.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
import threading
import time
import urllib.request
import webbrowser
from collections.abc import Callable, Sequence

from ..checkpoints import CheckpointError
from ..sampling import warm_up
from .models import default_model, load_models

DEFAULT_IP, DEFAULT_PORT = "127.0.0.1", 8866  # this machine only; the port the course has always used
QUEUE, MAX_BATCH, WINDOW_MS = 64, 64, 30  # requests that may wait; images per sampler call; batching window


class AppError(Exception):
    """A problem the user can fix before the server starts; the message says how."""


def whole_number(low: int, high: int, example: int) -> Callable[[str], int]:
    """argparse type: an int from low to high, with one usage error that gives an example."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}, e.g. {example}; got {text!r}")
        return value

    return parse


port_number = whole_number(1, 65535, DEFAULT_PORT)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line; a bad value exits with argparse's usage error."""
    parser = argparse.ArgumentParser(
        prog="python -m pixelcourse.app",
        description="Serve the drawing pad of notebook 09 as a web page for a whole class: draw the top of a digit "
        "and a PixelCNN trained on MNIST completes it. One process serves every tab; clicks that arrive together "
        "are completed in one batch.",
    )
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    parser.add_argument("--ip", default=DEFAULT_IP,
                        help=f"address to listen on (default {DEFAULT_IP}, this machine only; 0.0.0.0 lets other "
                        "machines of the network connect)")
    parser.add_argument("--no-browser", dest="browser", action="store_false", help="do not open a browser tab")
    parser.add_argument("--queue", type=whole_number(1, 10_000, QUEUE), default=QUEUE,
                        help=f"clicks that may wait at once; one more is told the server is busy (default {QUEUE})")
    parser.add_argument("--max-batch", type=whole_number(1, 1024, MAX_BATCH), default=MAX_BATCH,
                        help=f"most images in one sampler call (default {MAX_BATCH}: 16 clicks of 4 completions)")
    parser.add_argument("--window-ms", type=whole_number(0, 1000, WINDOW_MS), default=WINDOW_MS,
                        help=f"how long a click waits for others to share its batch (default {WINDOW_MS} ms)")
    return parser.parse_args(argv)


def check_address(ip: str, port: int) -> None:
    """Raise AppError unless a server could listen on ``ip``:``port`` now (free, allowed, an address of this machine)."""
    try:
        infos = socket.getaddrinfo(ip, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror:
        raise AppError(f"--ip {ip!r} is not an address this machine can listen on: use 127.0.0.1 (this machine) "
                       "or 0.0.0.0 (every network interface).") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as s:
        if os.name != "nt":  # as uvicorn does: a port left in TIME_WAIT by a closed server is free
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(address)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                raise AppError(f"Port {port} on {ip} is already in use (another server, or the app already running "
                               f"there): choose another port, e.g. --port {port + 1}.") from None
            if err.errno == errno.EACCES:
                raise AppError(f"No permission to listen on port {port}: ports below 1024 need administrator "
                               f"rights; use e.g. --port {DEFAULT_PORT}.") from None
            raise AppError(f"Cannot listen on {ip}:{port} ({err.strerror}): check --ip, "
                           "e.g. 127.0.0.1 (this machine) or 0.0.0.0 (every network interface).") from None


def urls(ip: str, port: int) -> list[str]:
    """The addresses to open in a browser: the local one first; on every interface also this machine's name."""
    if ip in ("0.0.0.0", "::", ""):
        return [f"http://127.0.0.1:{port}/", f"http://{socket.gethostname()}:{port}/"]
    return [f"http://{f'[{ip}]' if ':' in ip else ip}:{port}/"]


def build_app(models: dict, args: argparse.Namespace):
    """The server's ASGI app: the API under /api, the page at /; returns (app, batcher)."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # the page phones nowhere
    import gradio as gr
    from fastapi import FastAPI

    from .api import add_api
    from .batcher import Batcher
    from .page import CSS, Page

    default = default_model(models)
    for model in models.values():
        warm_up(model)  # the first request should not wait for the fast sampler's compiled steps to load
    batcher = Batcher(models, max_images=args.max_batch, window_s=args.window_ms / 1000, max_waiting=args.queue)
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    add_api(app, batcher, default)
    blocks = Page(batcher, default).build()
    blocks.queue(max_size=4 * args.queue, default_concurrency_limit=None)
    theme = gr.themes.Default(font=["system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"])
    app = gr.mount_gradio_app(app, blocks, path="/", footer_links=[], run_history=False, theme=theme, css=CSS,
                              server_name=args.ip, server_port=args.port, ssr_mode=False, mcp_server=False)
    return app, batcher


def announce_when_answering(addresses: list[str], browser: bool, timeout_s: float = 120.0) -> bool:
    """Print the URLs (and open a browser tab) as soon as the server at ``addresses[0]`` answers a request."""
    local = addresses[0]
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(local + "api/models", timeout=2) as answer:
                if answer.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            print(f"error: the server did not answer at {local} within {timeout_s:.0f} s.", file=sys.stderr, flush=True)
            return False
        time.sleep(0.05)
    print(f"The PixelCNN drawing pad: {'  or  '.join(addresses)}  (Ctrl-C stops it)", flush=True)
    if browser:
        webbrowser.open(local)
    return True


def run_server(app, args: argparse.Namespace) -> int:
    """Serve ``app`` with uvicorn until Ctrl-C; a thread prints the URL once the server answers."""
    import uvicorn

    config = uvicorn.Config(app, host=args.ip, port=args.port, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=5)
    threading.Thread(target=announce_when_answering, args=(urls(args.ip, args.port), args.browser), daemon=True,
                     name="pixelcourse-announce").start()
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else 2


def main(argv: Sequence[str] | None = None, *, serve: Callable | None = None) -> int:
    """Check the checkpoints and the address, then serve the app; returns the exit code.

    The checkpoints are those of ``pixelcourse.CHECKPOINT_DIR`` (the environment variable
    PIXELCOURSE_CHECKPOINTS sets it). serve(app, args): what runs the server (default: uvicorn
    in this process); a test passes one that records.
    """
    args = parse_args(argv)
    try:
        models = load_models()
        check_address(args.ip, args.port)
    except (AppError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    app, batcher = build_app(models, args)
    try:
        return (serve or run_server)(app, args)
    finally:
        batcher.stop()
