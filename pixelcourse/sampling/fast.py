"""The fast sampler (notebook 06): one cached step per sub-pixel instead of a full forward pass.

``fill_rows`` walks the image in the naive sampler's order (raster, then
colour) and asks the row caches of ``caches.py`` for the logits of the current
position only; a ``choose`` function turns each step's logits into values.
``complete_fast`` chooses by drawing a sample, which gives the naive sampler's
samples for the same seeded generator; lossless compression (``compression``)
chooses by coding the true value.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

import torch

from ..models import AutoregressiveModel
from .caches import compilable, make_cache
from .head import Head
from .step import check_temperature, check_top_p, sample_step

# Two halves of a batch in two threads pay from 16 images on (README, "Two cores"). Below that, the
# halves' steps are too short: each thread waits for Python's lock at every operation for longer
# than its half saves. A CPU with narrower vector units spends longer in the steps, where the lock
# is free, so it gains at least as much.
HALVES_FROM = 16

Choose = Callable[[torch.Tensor, int], torch.Tensor]  # (logits (N, levels), colour) -> levels long (N,)


def complete_fast(
    model: AutoregressiveModel,
    x: torch.Tensor,
    known: torch.Tensor,
    y: torch.Tensor | None,
    temperature: float,
    generator: torch.Generator | None = None,
    callback: Callable[[int, torch.Tensor], None] | None = None,
    top_p: float = 1.0,
    draw: Callable = sample_step,
    cache=None,
) -> None:
    """Fill the unknown sub-pixels of ``x`` in place with cached one-position steps.

    x: long (N, C, H, W), unknown entries zero; known: bool (N, C, H, W);
    y: long (N,) labels or None; temperature > 0; 0 < top_p <= 1. Visits (i, j, c) in raster
    then colour order like the naive loop, skips a sub-pixel that every image
    knows, and otherwise calls ``draw(logits, temperature, generator)`` once, so that a
    seeded generator gives the naive sampler's samples. callback(row, x) runs after
    every finished row. cache: a ``make_cache(model, N, y)`` to reuse; a new one by default.

    With the compiled steps, the default draw, torch allowed two threads or more and a batch of
    ``HALVES_FROM`` images or more, each half of the batch is filled by its own thread
    (``fill_in_halves``): the same samples, in 0.53-0.79 of the time on a 2-core Zen 4 (README, "Two cores").
    """
    temperature = check_temperature(temperature)
    top_p = check_top_p(top_p)
    if draw is sample_step and cache is None and x.shape[0] >= HALVES_FROM and torch.get_num_threads() >= 2 and compilable(model):
        fill_in_halves(model, x, known, y, temperature, generator, callback, top_p)
        return
    step = draw if top_p == 1 else partial(draw, top_p=top_p)

    def choose(logits: torch.Tensor, colour: int) -> torch.Tensor:
        return step(logits, temperature, generator)  # (N,)

    fill_rows(model, x, known, y, choose, callback, cache)


def fill_rows(
    model: AutoregressiveModel,
    x: torch.Tensor,
    known: torch.Tensor,
    y: torch.Tensor | None,
    choose: Choose,
    callback: Callable[[int, torch.Tensor], None] | None = None,
    cache=None,
) -> None:
    """Fill the unknown sub-pixels of ``x`` in place, one cached step per sub-pixel.

    At every sub-pixel (i, j, c) that some image does not know, ``choose(logits, c)``
    gets the logits (N, levels) of that sub-pixel given everything before it and
    returns the levels (N,); images that know the value keep it. Runs with one
    thread in inference mode, autocast off; callback(row, x) runs after every finished row.
    """
    with one_thread():
        _walk_rows(model, x, known, y, choose, callback, cache)


@contextmanager
def one_thread():
    """torch's operations on one thread inside the block (the setting is the process's), restored after."""
    threads = torch.get_num_threads()
    # Every step is a chain of tiny matmuls: waking a second thread costs more than it saves,
    # and on a shared machine a waiting thread can stall each operation for milliseconds.
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _walk_rows(model, x, known, y, choose: Choose, on_row=None, cache=None, need=None) -> None:
    """``fill_rows`` in the calling thread: inference mode and autocast are set per thread.

    need: bool (C, H, W), the sub-pixels to visit; by default those that some image of x does not know.
    """
    # float32 throughout, like the model's head; one guard for the walk instead of one per step
    with torch.inference_mode(), torch.autocast(x.device.type, enabled=False):
        walk = _Walk(model, x, known, y, cache, need)
        for i in range(model.config.height):
            walk.row(i, choose)
            if on_row is not None:
                on_row(i, x)


def fill_in_halves(
    model: AutoregressiveModel,
    x: torch.Tensor,
    known: torch.Tensor,
    y: torch.Tensor | None,
    temperature: float,
    generator: torch.Generator | None = None,
    callback: Callable[[int, torch.Tensor], None] | None = None,
    top_p: float = 1.0,
) -> None:
    """``complete_fast`` with the default draw, each half of the batch (N >= 2) in its own thread.

    A step's matrix products are too small to share between two threads, but two halves of the
    batch are independent walks: the calling thread fills the first, a second thread the second,
    each with its own caches on one core (the compiled steps and torch's operations release
    Python's lock). The samples are the one-thread walk's: that walk draws N uniform numbers at
    each sub-pixel some image samples, so all of them are drawn here first, in the same order
    from the same generator, and both halves visit every such sub-pixel and draw with their
    images' numbers. callback(row, x) runs in the calling thread after both halves finished
    the row, while the second waits. An error or an interrupt in either thread stops both.
    """
    n = x.shape[0]
    need = (~known).any(0)  # (C, H, W): the sub-pixels of the one-thread walk
    u = torch.rand(int(need.sum()), n, 1, generator=generator, dtype=torch.float64)  # (steps, N, 1) in its order
    halves = _Halves(model, x, known, y, need, u, temperature, top_p, callback)
    with one_thread():
        worker = threading.Thread(target=halves.second, args=(slice(n // 2, n),), name=SECOND_HALF, daemon=True)
        worker.start()
        try:
            halves.fill(slice(0, n // 2))
        except threading.BrokenBarrierError:
            pass  # the second half failed: its error is raised below
        except BaseException:
            halves.meet.abort()
            raise
        finally:
            worker.join()
    if halves.failed:
        raise halves.failed[0]


SECOND_HALF = "pixelcourse-second-half"  # the name of the second half's thread


@dataclass
class _Halves:
    """What the two threads of ``fill_in_halves`` share: the batch, the numbers u (steps, N, 1) and where they meet."""

    model: AutoregressiveModel
    x: torch.Tensor
    known: torch.Tensor
    y: torch.Tensor | None
    need: torch.Tensor  # bool (C, H, W): the sub-pixels both halves visit
    u: torch.Tensor
    temperature: float
    top_p: float
    callback: Callable[[int, torch.Tensor], None] | None
    meet: threading.Barrier = field(default_factory=lambda: threading.Barrier(2))  # after a row, after its callback
    failed: list = field(default_factory=list)  # the second half's error, for the calling thread

    def fill(self, half: slice) -> None:
        """Fill the images ``half`` of x, drawing with their columns of u."""
        numbers = iter(self.u[:, half])  # (N_half, 1) per step

        def choose(logits: torch.Tensor, colour: int) -> torch.Tensor:
            return sample_step(logits, self.temperature, None, self.top_p, u=next(numbers))  # (N_half,)

        def on_row(i: int, part: torch.Tensor) -> None:
            if self.callback is None:
                if self.meet.broken:  # the other half stopped
                    raise threading.BrokenBarrierError
                return
            self.meet.wait()  # both halves finished row i
            if half.start == 0:
                self.callback(i, self.x)
            self.meet.wait()  # the second half goes on once the callback has seen the row

        y = None if self.y is None else self.y[half]
        _walk_rows(self.model, self.x[half], self.known[half], y, choose, on_row, need=self.need)

    def second(self, half: slice) -> None:
        """``fill`` in the second thread: an error is kept for the calling thread and stops the first half."""
        try:
            self.fill(half)
        except threading.BrokenBarrierError:
            pass  # the first half stopped; it raises its own error
        except BaseException as err:  # noqa: BLE001 - handed to the calling thread
            self.failed.append(err)
            self.meet.abort()


class _Walk:
    """The state of one fill: the caches, the output head and views of the current row per sub-pixel.

    The views let a step index nothing: ``value[j][c]``, ``todo[j][c]`` and
    ``net_in[j][c]`` are (N,) views of the current row of x, of "unknown" and of
    the network input.
    """

    def __init__(self, model, x, known, y, cache=None, need=None):
        c = model.config
        self.need = need  # bool (C, H, W): the sub-pixels to visit, or None: those some image does not know
        n, C, width = x.shape[0], c.channels, c.width
        self.x, self.known = x, known
        self.cache = make_cache(model, n, y) if cache is None else cache
        self.head = Head(model, n, self.cache.compiled)
        self.table = model.normalise(torch.arange(c.levels, device=x.device))  # (levels,): level -> input
        self.values = x.new_zeros(n, C, width)  # (N, C, W) long: the current row
        self.unknown = known.new_zeros(n, C, width)  # (N, C, W) bool
        self.value = [[self.values[:, ch, j] for ch in range(C)] for j in range(width)]
        self.todo = [[self.unknown[:, ch, j] for ch in range(C)] for j in range(width)]
        self.net_in = [[self.cache.x.at[j][:, ch] for ch in range(C)] for j in range(width)]

    def row(self, i: int, choose: Choose) -> None:
        """Fill row i of x: all positions at once if every image knows it, else position by position."""
        cache, values = self.cache, self.values
        values.copy_(self.x[:, :, i])
        torch.logical_not(self.known[:, :, i], out=self.unknown)
        need = (self.unknown.any(0) if self.need is None else self.need[:, i]).tolist()  # [C][W]: some image samples it
        every = self.unknown.all(0).tolist()  # [C][W]: every image does
        cache.start_row(self.table[values])  # (N, C, W) network input of the row
        if not any(map(any, need)):
            cache.full_row()  # every image knows this row
        else:
            for j in range(len(self.value)):
                self._position(j, [n[j] for n in need], [e[j] for e in every], choose)
            self.x[:, :, i] = values
        cache.next_row()

    def _position(self, j: int, need: list[bool], every: list[bool], choose: Choose) -> None:
        for ch, (needed, all_unknown) in enumerate(zip(need, every)):
            if not needed:
                continue
            new = choose(self.head(self.cache.pixel(j), ch), ch)  # (N,) from logits (N, levels)
            value = self.value[j][ch]
            if all_unknown:
                value.copy_(new)
            else:
                torch.where(self.todo[j][ch], new, value, out=value)
            torch.index_select(self.table, 0, value, out=self.net_in[j][ch])
        if not need[-1]:
            self.cache.pixel(j)  # later positions still need this position's features
