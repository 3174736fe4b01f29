"""Run the classroom's JupyterHub on this machine, on free ports of 127.0.0.1, and stop it without leftovers.

    with LocalHub(state_dir, password) as hub:
        student = Student(hub.url, "alice", password)
        ...
        hub.processes()   # the hub, its proxy, each student's server and kernels, with their memory

The hub runs ``jupyterhub -f classroom/jupyterhub_config.py`` with the ports given on its command line and
its state (database, students' homes) in ``state_dir``. ``stop`` asks the hub to stop (it stops the
students' servers and the proxy itself), waits a bounded time, and then ends, by process id, whatever it
started that is still running.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

CONFIG = Path(__file__).resolve().parent / "jupyterhub_config.py"


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Memory:
    """A process's memory in bytes: resident (RSS), proportional (PSS: shared pages split among their
    users) and unique (USS: what ending the process would give back). PSS and USS are None where
    ``/proc/<pid>/smaps_rollup`` cannot be read."""

    rss: int
    pss: int | None
    uss: int | None

    @classmethod
    def of(cls, process: psutil.Process) -> "Memory":
        try:
            full = process.memory_full_info()
            return cls(full.rss, getattr(full, "pss", None), full.uss)
        except psutil.AccessDenied:
            return cls(process.memory_info().rss, None, None)


class LocalHub:
    """The course's JupyterHub as a child process, for a trial class, a test or a benchmark.

    Args:
        state_dir: the hub's database and the students' homes (made if missing).
        password: the class password (8 characters or more).
        log_path: where the hub's output goes (default: ``state_dir/hub.log``).
        env: more environment variables for the hub and, through its spawner, the students' servers.
    """

    def __init__(self, state_dir: str | Path, password: str, log_path: str | Path | None = None,
                 env: dict[str, str] | None = None):
        self.state_dir = Path(state_dir)
        self.log_path = Path(log_path or self.state_dir / "hub.log")
        self.password, self.env = password, env or {}
        self.port, self.hub_port, self.proxy_api_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self._seen: dict[int, psutil.Process] = {}  # every descendant seen, to end any the hub leaves

    def __enter__(self) -> "LocalHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 90.0) -> "LocalHub":
        """Start the hub and wait until its proxy answers; an error with the log's end otherwise."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **self.env, "PIXELCOURSE_CLASS_PASSWORD": self.password,
               "PIXELCOURSE_CLASSROOM_DIR": str(self.state_dir)}
        command = [
            str(Path(sys.executable).parent / "jupyterhub"), "-f", str(CONFIG),
            f"--JupyterHub.bind_url={self.url}", f"--JupyterHub.hub_port={self.hub_port}",
            f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{self.proxy_api_port}",
        ]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env,
                                            cwd=self.state_dir, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the hub exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/hub/api", timeout=5).status_code == 200:
                    self._remember()
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"the hub did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, timeout: float = 30.0) -> list[psutil.Process]:
        """Stop the hub (it stops the servers and the proxy), then end by id anything still running.

        Returns the processes the hub had left running (none, when it stopped cleanly).
        """
        if self.process is None:
            return []
        self._remember()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        left = [p for p in self._seen.values() if _running(p)]
        for process in left:
            process.terminate()
        _, alive = psutil.wait_procs(left, timeout=10)
        for process in alive:
            process.kill()
        self.process = None
        return left

    def processes(self) -> dict[str, list[tuple[psutil.Process, Memory]]]:
        """The classroom's processes by role, each with its memory now.

        Roles: ``"hub"``, ``"proxy"``, ``"server:<name>"`` (a student's Jupyter server) and
        ``"kernels:<name>"`` (that student's kernels, children of their server).
        """
        hub = psutil.Process(self.process.pid)
        roles: dict[str, list[tuple[psutil.Process, Memory]]] = {"hub": [(hub, Memory.of(hub))]}
        for child in hub.children():
            command = " ".join(child.cmdline())
            if "configurable-http-proxy" in command:
                roles.setdefault("proxy", []).append((child, Memory.of(child)))
            elif "jupyterhub-singleuser" in command:
                name = child.environ().get("JUPYTERHUB_USER", "?")
                roles[f"server:{name}"] = [(child, Memory.of(child))]
                roles[f"kernels:{name}"] = [(k, Memory.of(k)) for k in child.children(recursive=True)]
        self._remember()
        return roles

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the hub's log (its own, its proxy's and the students' servers')."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def _remember(self) -> None:
        if self.process is not None and self.process.poll() is None:
            try:
                for child in psutil.Process(self.process.pid).children(recursive=True):
                    self._seen[child.pid] = child
            except psutil.NoSuchProcess:
                pass


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
