"""benchmarks/slow_cpu.py: a command's every thread capped at 1/SLOWER of a core, and the cgroups gone afterwards."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
import slow_cpu  # noqa: E402

# A lone busy thread prints its wall time over its CPU time: 1 unless capped. The command's cgroup
# as a whole may use (cores / 4) of a core, so only a cap per thread makes it about 4.
BUSY = """
import time
wall, cpu = time.perf_counter(), time.process_time()
while time.process_time() - cpu < 0.5:
    pass
print((time.perf_counter() - wall) / (time.process_time() - cpu))
"""


def slow(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / "slow_cpu.py"), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


@pytest.mark.skipif(bool(slow_cpu.usable()), reason=f"cgroups cannot cap threads here: {slow_cpu.usable()}")
def test_every_thread_runs_at_its_share_and_the_groups_are_removed():
    before = set(slow_cpu.CONTROLLER.glob("pixelcourse-slow-*"))
    done = slow("--slower", "4", "--", sys.executable, "-c", BUSY)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "every thread capped at 1/4 of a core, AVX2 code only" in lines[0]
    assert float(lines[1]) > 3.3, lines[1]  # 3.8 at the least, with the first 0.1 s before the thread's own cap
    assert lines[2].startswith("slow_cpu: ") and "exit status 0" in lines[2]
    assert set(slow_cpu.CONTROLLER.glob("pixelcourse-slow-*")) == before


def test_bad_arguments_are_one_clear_error():
    done = slow("--slower", "0.5", "--", "true")
    assert done.returncode == 2 and "--slower 0.5: must be at least 1" in done.stderr
    if not slow_cpu.usable():
        done = slow("--", "no-such-command-here")
        assert done.returncode == 127 and "cannot run 'no-such-command-here'" in done.stderr
        inside = subprocess.run([sys.executable, str(REPO / "benchmarks" / "slow_cpu.py"), "--", sys.executable,
                                 str(REPO / "benchmarks" / "slow_cpu.py"), "--", "true"],
                                capture_output=True, text=True, cwd=REPO, timeout=120)
        assert inside.returncode == 2, inside.stdout + inside.stderr
        assert "cannot cap the CPU here: already inside an emulated CPU 2.4 times slower" in inside.stderr
