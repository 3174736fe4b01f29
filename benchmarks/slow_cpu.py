"""Run a command as if on a slower CPU: every thread capped at 1/SLOWER of a core (Linux cgroups, as root).

    python benchmarks/slow_cpu.py -- python benchmarks/time_notebooks.py --full --folder notebooks
    python benchmarks/slow_cpu.py --slower 3 -- python benchmarks/bench_sampling.py
    python benchmarks/slow_cpu.py -- env PIXELCOURSE_QUICK=1 python -m pytest

The command and everything it starts run in a cgroup allowed (cores / SLOWER) of the wall
time, handed out in periods of 10 ms, and every thread of theirs is moved, within 0.1 s of
its start, into a cgroup of its own allowed 1/SLOWER of one core. So a lone thread runs
SLOWER times slower, and so do threads that share the cores, as on a CPU whose every core is
that much slower. Unless ``--native``, torch, oneDNN and numba are also held to AVX2 code, as
on a CPU without AVX-512 (numba compiles into a cache of its own for the run).

An emulation, not a slow CPU: a throttled thread waits for the next period (messages
between processes take longer than on a slow CPU), memory is as fast as this machine's, and
a thread's first 0.1 s shares the quota of the thread that started it. Report its figures
as emulated, beside the CPU they ran on. It needs root and the cgroup (v1) cpu controller at
/sys/fs/cgroup/cpu; on a machine with cgroup v2 only, ``systemd-run --scope -p CPUQuota=...``
caps a command as a whole (not each thread).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

CONTROLLER = Path("/sys/fs/cgroup/cpu")
PERIOD_US = 10_000
INSIDE = "PIXELCOURSE_SLOW_CPU"  # set for the command: an emulation inside another would be moved back out
AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "NUMBA_CPU_NAME": "znver1"}


def usable() -> str:
    """"" when cgroups can cap this machine's threads, else why not."""
    if not sys.platform.startswith("linux"):
        return "cgroups are Linux only"
    if os.environ.get(INSIDE):
        return f"already inside an emulated CPU {os.environ[INSIDE]} times slower"
    if os.geteuid() != 0:
        return "making a cgroup needs root"
    if not (CONTROLLER / "cpu.cfs_quota_us").exists():
        return f"no cgroup v1 cpu controller at {CONTROLLER} (on cgroup v2: systemd-run --scope -p CPUQuota=...)"
    return ""


def make_group(path: Path, cores: float) -> Path:
    """A cgroup allowed ``cores`` cores' worth of time per period."""
    path.mkdir(exist_ok=True)
    (path / "cpu.cfs_period_us").write_text(str(PERIOD_US))
    (path / "cpu.cfs_quota_us").write_text(str(max(1000, round(PERIOD_US * cores))))
    return path


def tasks(group: Path) -> set[int]:
    try:
        return {int(tid) for tid in (group / "tasks").read_text().split()}
    except OSError:  # removed meanwhile
        return set()


class ThreadCaps:
    """Moves every thread born in ``group`` (or in a thread's group) into a cgroup of its own, 1/slower of a core."""

    def __init__(self, group: Path, slower: float):
        self.group, self.share = group, 1 / slower
        self.stop = threading.Event()
        self.worker = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self.stop.wait(0.1):
            self.sweep()

    def sweep(self) -> None:
        sources = [(self.group, None)] + [(group, int(group.name[1:])) for group in self._own_groups()]
        for source, owner in sources:  # owner: the one thread a thread's own group should hold
            for tid in tasks(source) - {owner}:
                try:
                    (make_group(self.group / f"t{tid}", self.share) / "tasks").write_text(str(tid))
                except OSError:  # the thread ended meanwhile
                    pass
            if owner is not None and not tasks(source):
                self._remove(source)

    def _own_groups(self) -> list[Path]:
        return [path for path in self.group.glob("t[0-9]*") if path.is_dir()]

    @staticmethod
    def _remove(group: Path) -> None:
        try:
            group.rmdir()
        except OSError:  # a thread was just moved in
            pass

    def __enter__(self):
        self.worker.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.worker.join()
        for group in self._own_groups():
            self._remove(group)


def run(command: list[str], slower: float, avx2: bool) -> int:
    from pixelcourse.machine import cpu_name

    cores = os.cpu_count() or 1
    group = make_group(CONTROLLER / f"pixelcourse-slow-{os.getpid()}", cores / slower)
    env = {**os.environ, INSIDE: f"{slower:g}"}
    print(f"slow_cpu: {cpu_name()}, {cores} cores, every thread capped at 1/{slower:g} of a core"
          f"{', AVX2 code only' if avx2 else ''}", flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="pixelcourse-slow-numba-") as numba_cache, ThreadCaps(group, slower):
        if avx2:
            env.update(AVX2, NUMBA_CACHE_DIR=numba_cache)
        try:
            status = subprocess.run(command, env=env, preexec_fn=lambda: (group / "cgroup.procs").write_text(
                str(os.getpid()))).returncode
        except FileNotFoundError as err:
            print(f"slow_cpu: cannot run {command[0]!r}: {err.strerror}", file=sys.stderr)
            status = 127
    seconds = time.perf_counter() - start
    print(f"slow_cpu: {seconds:.1f} s wall, exit status {status}", flush=True)
    try:
        group.rmdir()
    except OSError as err:  # a process the command left running keeps its group
        print(f"slow_cpu: {group} kept: {err.strerror}", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slower", type=float, default=2.4, help="how many times slower each thread runs (default 2.4)")
    parser.add_argument("--native", action="store_true", help="keep this CPU's own vector code (default: AVX2 only)")
    parser.add_argument("command", nargs="+", help="the command, after --")
    args = parser.parse_args(argv)
    if args.slower < 1:
        parser.error(f"--slower {args.slower:g}: must be at least 1 (1 = this CPU's speed)")
    why = usable()
    if why:
        print(f"slow_cpu: cannot cap the CPU here: {why}", file=sys.stderr)
        return 2
    return run(args.command, args.slower, not args.native)


if __name__ == "__main__":
    sys.exit(main())
