"""Load benchmark of the drawing pad app: memory against open sessions, click-to-done against concurrent users.

    python benchmarks/bench_app.py                      # sessions 1, 10, 50; users 1, 2, 5, 10
    python benchmarks/bench_app.py --sessions 1,5 --users 1,2 --rounds 5

Starts ``python -m pixelcourse.app`` on a free port of 127.0.0.1 and drives
simulated users through the app's HTTP interfaces, no browser: a session does
what a browser tab does (loads the page and its config, keeps the heartbeat
stream open, runs the page's start event and one Complete through the page's
queue); a click is timed from the request until the last message of its
completions. Each click asks for 4 completions of the top of a 7 (rows 0-13
kept, 14 rows sampled). Prints the CPU, the server's memory (RSS of its process
tree) after each number of open sessions, and click-to-done p50/p95 when that
many users press Complete together, through the page's queue and through the
JSON API (``POST /api/complete``). Exits by itself; all traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import numpy as np
import psutil

from pixelcourse import machine

REPO = Path(__file__).resolve().parent.parent
SEVEN_TOP = [[60, 55], [215, 50], [175, 125]]  # canvas pixels, as the browser test draws
STROKES = json.dumps([{"points": SEVEN_TOP, "width": 2.5, "erase": False}])


def cpu_name() -> str:
    """The CPU's model name and its logical CPUs."""
    return f"{machine.cpu_name()}, {os.cpu_count()} logical CPUs"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(port: int, timeout_s: float = 180) -> subprocess.Popen:
    """The app in its own process group; returns once it has printed its URL (it prints it when it answers)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "GRADIO_ANALYTICS_ENABLED": "False"}
    server = subprocess.Popen([sys.executable, "-m", "pixelcourse.app", "--port", str(port), "--no-browser"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    for line in server.stdout:
        if "drawing pad:" in line:
            return server
        if time.monotonic() > deadline:
            break
    stop_app(server)
    raise SystemExit(f"the app did not start: {line!r}")


def stop_app(server: subprocess.Popen) -> None:
    for sig, wait_s in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        if server.poll() is not None:
            return
        os.killpg(server.pid, sig)
        try:
            server.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            pass


def tree_rss_mb(pid: int) -> float:
    """Resident memory of the process and all its children, in MB."""
    root = psutil.Process(pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 1e6


class Session:
    """One simulated browser tab: the page, its config, the heartbeat stream, the start event, and clicks."""

    def __init__(self, client: httpx.AsyncClient, config: dict):
        self.client, self.hash = client, uuid.uuid4().hex[:11]
        deps = {d["api_name"]: d for d in config["dependencies"]}
        self.start_fn, self.complete_fn = deps["start"], deps["complete"]
        self.seed, self.runs, self.heartbeat = None, 0, None

    async def open(self) -> None:
        (await self.client.get("/")).raise_for_status()
        (await self.client.get("/config")).raise_for_status()
        self.heartbeat = asyncio.create_task(self._beat())
        body = {"data": [], "fn_index": self.start_fn["id"], "trigger_id": None, "session_hash": self.hash}
        answer = (await self.client.post("/gradio_api/run/predict", json=body)).raise_for_status().json()
        self.seed = answer["data"][0]

    async def _beat(self) -> None:
        async with self.client.stream("GET", f"/gradio_api/heartbeat/{self.hash}", timeout=None) as stream:
            async for _ in stream.aiter_lines():
                pass

    async def click(self) -> tuple[float, int]:
        """One click on Complete through the page's queue; returns (seconds until its completions arrived,
        images in the sampler call that served it)."""
        start = time.perf_counter()
        data = [STROKES, "MNIST, 256 levels", 1.0, True, 0, 4, self.seed, self.runs]
        body = {"data": data, "fn_index": self.complete_fn["id"], "session_hash": self.hash, "event_data": None,
                "trigger_id": self.complete_fn["targets"][0][0]}
        event = (await self.client.post("/gradio_api/queue/join", json=body)).raise_for_status().json()["event_id"]
        async with self.client.stream("GET", "/gradio_api/queue/data", params={"session_hash": self.hash},
                                      timeout=60) as stream:
            async for line in stream.aiter_lines():
                if not line.startswith("data:"):
                    continue
                message = json.loads(line[5:])
                if message.get("event_id") == event and message.get("msg") == "process_completed":
                    if not message.get("success", False):
                        raise RuntimeError(f"the click failed: {message}")
                    status, result = message["output"]["data"][1:3]
                    assert "Done" in str(status), status
                    self.runs += 1
                    shown = html.unescape(result.split(">", 1)[1].rsplit("<", 1)[0])  # the page's result JSON
                    return time.perf_counter() - start, json.loads(shown)["batch_images"]
        raise RuntimeError("the queue stream closed before the completions arrived")

    async def close(self) -> None:
        if self.heartbeat:
            self.heartbeat.cancel()


async def api_click(client: httpx.AsyncClient) -> tuple[float, int]:
    """One request to ``POST /api/complete``; returns (seconds until its answer, images in its sampler call)."""
    start = time.perf_counter()
    answer = await client.post("/api/complete", json={"strokes": json.loads(STROKES), "n_completions": 4}, timeout=60)
    answer.raise_for_status()
    return time.perf_counter() - start, answer.json()["batch_images"]


async def memory_against_sessions(client, config, pid: int, counts: list[int]) -> list[Session]:
    """Open sessions up to each count (each clicks once), then print the server's memory."""
    sessions: list[Session] = []
    print(f"\nserver memory (RSS of its process tree) against open sessions\n{'sessions':>9} {'MB':>8}")
    print(f"{0:>9} {tree_rss_mb(pid):>8.0f}")
    for count in counts:
        while len(sessions) < count:
            batch = [Session(client, config) for _ in range(min(10, count - len(sessions)))]
            await asyncio.gather(*(s.open() for s in batch))
            await asyncio.gather(*(s.click() for s in batch))
            sessions += batch
        await asyncio.sleep(1.0)
        print(f"{count:>9} {tree_rss_mb(pid):>8.0f}")
    return sessions


async def latency_against_users(label: str, click, users: list[int], rounds: int, deadline: float) -> None:
    """For each number of users: ``rounds`` times, that many press Complete together; print p50/p95."""
    print(f"\nclick-to-done through {label}, 4 completions each\n"
          f"{'users':>6} {'clicks':>7} {'p50 s':>7} {'p95 s':>7} {'images per sampler call':>24}")
    for n in users:
        times, images = [], []
        for _ in range(max(2, -(-rounds * 4 // max(n, 1)))):
            if time.monotonic() > deadline:
                break
            for seconds, batch in await asyncio.gather(*(click(k) for k in range(n))):
                times.append(seconds)
                images.append(batch)
            await asyncio.sleep(0.3)  # the next round starts on an idle server
        if times:
            p50, p95 = np.percentile(times, [50, 95])
            print(f"{n:>6} {len(times):>7} {p50:>7.2f} {p95:>7.2f} {np.mean(images):>24.1f}")


async def run(url: str, pid: int, args) -> None:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60, trust_env=False) as client:
        config = (await client.get("/config")).raise_for_status().json()
        sessions = await memory_against_sessions(client, config, pid, args.sessions)
        deadline = time.monotonic() + args.max_seconds
        users = [n for n in args.users if n <= len(sessions)]
        await latency_against_users("the page's queue (as a browser tab)", lambda k: sessions[k].click(), users,
                                    args.rounds, deadline)
        await latency_against_users("the JSON API", lambda k: api_click(client), args.users, args.rounds, deadline)
        await asyncio.gather(*(s.close() for s in sessions))


def numbers(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=numbers, default=[1, 10, 50], help="open sessions to measure (1,10,50)")
    parser.add_argument("--users", type=numbers, default=[1, 2, 5, 10], help="users pressing Complete together")
    parser.add_argument("--rounds", type=int, default=5, help="about rounds * 4 clicks per number of users")
    parser.add_argument("--max-seconds", type=float, default=300, help="stop the latency rounds after this long")
    args = parser.parse_args()
    print(f"CPU: {cpu_name()}; load average before the start: {os.getloadavg()[0]:.1f}")
    started = time.perf_counter()
    server = start_app(port := free_port())
    try:
        print(f"the app answered {time.perf_counter() - started:.1f} s after its start")
        asyncio.run(run(f"http://127.0.0.1:{port}", server.pid, args))
        print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")
    finally:
        stop_app(server)


if __name__ == "__main__":
    main()
