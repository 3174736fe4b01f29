"""pixelcourse.threads: a notebook computes on the cores that other programs leave free."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from pixelcourse import threads

REPO = Path(__file__).resolve().parent.parent


def test_examples_in_the_docstrings():
    assert doctest.testmod(threads).failed == 0


@pytest.mark.parametrize("busy, cores, most, expected", [
    (0.0, 2, 2, 2), (0.2, 2, 2, 2), (0.3, 2, 2, 1), (1.0, 2, 2, 1), (1.9, 2, 2, 1), (5.0, 2, 2, 1),
    (0.0, 8, 4, 4), (1.0, 8, 8, 7), (3.5, 8, 8, 4), (0.0, 1, 1, 1),
])
def test_free_threads_counts_the_cores_others_leave_free(busy, cores, most, expected):
    assert threads.free_threads(busy, cores=cores, most=most) == expected


def test_busy_between_leaves_out_this_process():
    assert threads.busy_between((0.0, 10.0, 1.0), (2.0, 14.0, 3.0)) == pytest.approx(1.0)
    assert threads.busy_between((0.0, 10.0, 1.0), (2.0, 11.0, 3.0)) == 0.0  # tick rounding never goes below 0
    assert threads.busy_between((5.0, 10.0, 1.0), (5.0, 12.0, 1.0)) == 0.0  # no time passed


def test_a_busy_program_counts_and_our_own_work_does_not():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"], start_new_session=True)
    try:
        time.sleep(0.3)
        start = threads._snapshot()
        time.sleep(1.0)
        assert threads.others_busy(start) > 0.4, "a program spinning on a core must count as busy"
    finally:
        spinner.kill()
        spinner.wait()
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            pass

    worker = threading.Thread(target=spin)
    start = threads._snapshot()
    worker.start()
    time.sleep(1.0)
    end = threads._snapshot()
    stop.set()
    worker.join()
    total = (end[1] - start[1]) / (end[0] - start[0])
    assert total - threads.busy_between(start, end) > 0.4, "this process's own thread was counted as another program"


@pytest.mark.parametrize("value, message", [("two", "not a whole number"), ("0", "asks for no threads")])
def test_a_bad_fixed_count_gets_one_clear_error(monkeypatch, value, message):
    monkeypatch.setenv("PIXELCOURSE_THREADS", value)
    with pytest.raises(ValueError, match=message):
        threads.choose(force=True)


def test_a_fixed_count_wins(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.setenv("PIXELCOURSE_THREADS", "1")
    try:
        assert threads.choose(force=True) == 1
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


KERNEL_CELLS = [
    "import os, subprocess, sys, time, torch\n"
    "spinners = [subprocess.Popen([sys.executable, '-c', 'while True: pass'], start_new_session=True)"
    " for _ in range(os.cpu_count() - 1)]\n"
    "time.sleep(0.5)\n"
    "import pixelcourse",
    "print('busy', torch.get_num_threads())",
    "torch.set_num_threads(os.cpu_count())",  # more than the free cores: the course would choose fewer
    "pixelcourse.threads._state['last'] = None  # as if the last measurement were long ago",
    "print('mine', torch.get_num_threads())\n"
    "for s in spinners: s.kill(); s.wait()",
]


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs a second core to keep busy")
def test_in_a_kernel_the_busy_cores_are_left_alone_and_your_own_count_wins():
    from jupyter_client.manager import start_new_kernel

    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "PIXELCOURSE_THREADS")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    manager, client = start_new_kernel(kernel_name="python3", env=env, cwd=str(REPO))
    said = []  # a print may come in several stream messages (on a slow CPU, "mine" and "2" apart)

    def keep(msg):
        if msg["msg_type"] == "stream":
            said.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            said.append("error: " + msg["content"]["evalue"] + "\n")

    try:
        for cell in KERNEL_CELLS:
            client.execute_interactive(cell, output_hook=keep, timeout=120)
    finally:
        manager.shutdown_kernel(now=True)
    out = "".join(said).splitlines()
    busy = int(out[0].split()[1])
    assert busy <= os.cpu_count() - 1, f"with {os.cpu_count() - 1} core(s) kept busy the kernel still used {busy} threads"
    assert out[1] == f"mine {os.cpu_count()}", f"a count set by hand was changed: {out}"
