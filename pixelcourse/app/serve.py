"""``python -m pixelcourse.app``: the drawing pad alone in a browser tab, served by Voilà.

Voilà runs the small notebook ``pad.ipynb`` kept beside this module, shows only
its output (the pad, no code), and starts one kernel per browser tab, so every
visitor gets a pad of their own. Before Voilà starts, the launcher checks the
shipped checkpoints and the address, so that each problem gives one clear error.
"""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ..checkpoints import CheckpointError
from .pad import load_models

NOTEBOOK = Path(__file__).resolve().parent / "pad.ipynb"
DEFAULT_IP, DEFAULT_PORT = "127.0.0.1", 8866  # this machine only; Voilà's usual port


class AppError(Exception):
    """A problem the user can fix before the server starts; the message says how."""


def port_number(text: str) -> int:
    """argparse type for --port: an int from 1 to 65535."""
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to 65535, e.g. --port {DEFAULT_PORT}; got {text!r}")
    return port


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line: --port, --ip and --no-browser; a bad value exits with argparse's usage error."""
    parser = argparse.ArgumentParser(
        prog="python -m pixelcourse.app",
        description="Serve the drawing pad of notebook 09 alone as a web page (Voilà): draw the top of a digit "
        "and a PixelCNN trained on MNIST completes it. Every browser tab gets a pad of its own.",
    )
    parser.add_argument("--port", type=port_number, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT})")
    parser.add_argument("--ip", default=DEFAULT_IP,
                        help=f"address to listen on (default {DEFAULT_IP}, this machine only; 0.0.0.0 lets other "
                        "machines of the network connect)")
    parser.add_argument("--no-browser", dest="browser", action="store_false", help="do not open a browser tab")
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
        if os.name != "nt":  # as Voilà (tornado) does: a port left in TIME_WAIT by a closed server is free
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


def voila_argv(ip: str, port: int, browser: bool) -> list[str]:
    """Voilà's command line for the pad: no other port if this one is taken (the printed URL would be wrong)."""
    return [str(NOTEBOOK), f"--Voila.ip={ip}", f"--Voila.port={port}", "--Voila.port_retries=0",
            f"--Voila.open_browser={browser}", "--theme=light"]


def run_voila(argv: list[str]) -> int:
    """Start Voilà with ``argv`` in this process; returns when it is stopped (Ctrl-C)."""
    from voila.app import Voila

    Voila.launch_instance(argv=argv)
    return 0


def main(argv: Sequence[str] | None = None, *, serve: Callable[[list[str]], int] = run_voila) -> int:
    """Check the checkpoints and the address, print the URL, then ``serve(voila_argv)``; returns the exit code.

    The checkpoints are those of ``pixelcourse.CHECKPOINT_DIR``: the environment variable
    PIXELCOURSE_CHECKPOINTS sets it for the launcher and for Voilà's kernels alike.
    serve: what starts the server (default: Voilà in this process); a test passes one that records.
    """
    args = parse_args(argv)
    try:
        load_models()
        check_address(args.ip, args.port)
    except (AppError, CheckpointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"The PixelCNN drawing pad: {'  or  '.join(urls(args.ip, args.port))}  (Ctrl-C stops it)", flush=True)
    return serve(voila_argv(args.ip, args.port, args.browser))
