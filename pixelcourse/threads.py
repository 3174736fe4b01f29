"""How many threads torch computes with: the cores that other programs leave free, measured now.

Torch starts one thread per core and keeps them all in step: every convolution waits for its
slowest thread. When another program keeps a core busy (a browser tab, a second notebook, a
training run), the thread on that core runs only part of the time, and each of the hundreds of
parallel operations of a training step waits for it. In a Jupyter kernel on Linux, which runs in a
session of its own and so in a scheduling group of its own, a step of notebook 02's small
PixelCNN took 4.0 s with two threads on a 2-core CPU with one core busy, and 0.045 s with one
(``benchmarks/bench_threads.py`` measures it on your machine).

So in a notebook the course measures, before a cell and every few seconds of training, how much
CPU the other programs use, and gives torch the cores that are free: never fewer than one, never
more than torch's own default. ``OMP_NUM_THREADS`` or ``PIXELCOURSE_THREADS`` (a number) fixes the
count instead, and so does a call of ``torch.set_num_threads`` of your own.
"""

from __future__ import annotations

import math
import os
import time

import psutil
import torch

DEFAULT = torch.get_num_threads()  # torch's choice when the package was imported: one per core
BUSY = 0.25  # a core that other programs use more than this fraction of is not free
EVERY_S = 5.0  # the count is measured again at most this often, over the time since the last measurement
LONGEST_S = 60.0  # ... unless that was longer ago than this: then over a fresh SAMPLE_S
SAMPLE_S = 0.1

_state: dict = {"chosen": None, "last": None, "watching": False}


def fixed() -> int | None:
    """The thread count the environment fixes (``PIXELCOURSE_THREADS``, else ``OMP_NUM_THREADS``), or None."""
    for name in ("PIXELCOURSE_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value:
            try:
                count = int(value)
            except ValueError:
                raise ValueError(f"{name}={value!r} is not a whole number of threads; set it to 1, 2, ... "
                                 f"or unset it to let the course choose.") from None
            if count < 1:
                raise ValueError(f"{name}={count} asks for no threads; set it to 1 or more, or unset it.")
            return count
    return None


def _snapshot() -> tuple[float, float, float]:
    """(now, CPU seconds the whole machine has been busy, CPU seconds of this process), all since boot."""
    system, mine = psutil.cpu_times(), psutil.Process().cpu_times()
    busy = sum(system) - system.idle - getattr(system, "iowait", 0.0)
    return time.monotonic(), busy, mine.user + mine.system


def others_busy(since: tuple[float, float, float] | None = None) -> float:
    """Cores' worth of CPU that other programs used since the snapshot ``since`` (this process excluded).

    Without ``since``, over a fresh ``SAMPLE_S`` seconds.
    """
    if since is None:
        since = _snapshot()
        time.sleep(SAMPLE_S)
    return busy_between(since, _snapshot())


def busy_between(before: tuple[float, float, float], after: tuple[float, float, float]) -> float:
    """Cores' worth of CPU used by other processes between two ``_snapshot()``s.

    >>> busy_between((0.0, 10.0, 1.0), (2.0, 13.0, 2.0))  # 3 CPU s busy in 2 s, 1 of them ours
    1.0
    """
    wall = after[0] - before[0]
    if wall <= 0:
        return 0.0
    return max(0.0, ((after[1] - before[1]) - (after[2] - before[2])) / wall)


def free_threads(busy: float, cores: int | None = None, most: int = DEFAULT) -> int:
    """Threads for torch when other programs use ``busy`` cores' worth of ``cores``: the free cores, 1..most.

    >>> free_threads(0.0, cores=2, most=2), free_threads(0.2, cores=2, most=2), free_threads(0.4, cores=2, most=2)
    (2, 2, 1)
    """
    cores = cores or os.cpu_count() or 1
    return max(1, min(most, math.floor(cores - busy + BUSY)))


def choose(force: bool = False) -> int:
    """Give torch the free cores (measured at most every ``EVERY_S`` seconds unless ``force``); returns the count.

    Leaves the count alone when the environment fixes it, or when it was changed by someone else
    since the last choice (your own ``torch.set_num_threads`` wins).
    """
    count = fixed()
    if count is not None:
        if torch.get_num_threads() != count:
            torch.set_num_threads(count)
        return count
    chosen, last = _state["chosen"], _state["last"]
    if chosen is not None and torch.get_num_threads() != chosen:
        return torch.get_num_threads()  # set by hand: keep it
    age = math.inf if last is None else time.monotonic() - last[0]
    if age < EVERY_S and not force:
        return torch.get_num_threads()
    busy = others_busy(last if EVERY_S <= age <= LONGEST_S else None)
    count = free_threads(busy)
    if count != torch.get_num_threads():
        torch.set_num_threads(count)
    _state.update(chosen=count, last=_snapshot())
    return count


def _before_cell(*_args) -> None:
    choose()


def watch_cells() -> bool:
    """In IPython or Jupyter, choose the thread count before every cell (at most every few seconds).

    Called when the package is imported; returns whether there is a shell to watch.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    if _before_cell not in shell.events.callbacks["pre_run_cell"]:
        shell.events.register("pre_run_cell", _before_cell)
    _state["watching"] = True
    choose(force=True)
    return True


def watching() -> bool:
    """True once ``watch_cells`` found a shell: ``fit`` then measures again during long runs."""
    return _state["watching"]


def rechoose(event: str, run) -> None:
    """Training callback: measures the free cores again, at most every ``EVERY_S`` seconds, between steps."""
    if event == "step":
        choose()
