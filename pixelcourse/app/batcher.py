"""Many users, one sampler call: the app's batcher.

Requests for the same model that arrive within ``window_s`` of each other (the
window grows with each arrival, up to four windows after the first) go into one
call of ``pixelcourse.complete(..., method="fast")``, up to ``max_images`` images. Each request brings its own seed: the uniform numbers
its images are drawn with come from that seed alone (one generator per
request, one row of numbers per image), and the ``draw`` hook looks up the
number of each image at each sub-pixel, with the image's own temperature. So a
user's completions depend on their drawing, controls and seed, never on who
else is in the batch. At most ``max_waiting`` requests wait; one more is
refused with ``Busy``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np
import torch

from .. import sampling
from ..sampling import nucleus_probs
from ..widget import prepare


class Busy(Exception):
    """The queue is full: the user should try again in a moment."""


@dataclass(frozen=True)
class Request:
    """One click on Complete, checked (``requests.py``)."""

    model: str  # a label of the batcher's models
    image: np.ndarray  # uint8 (H, W), the drawing
    keep: int  # rows 0 .. keep - 1 are kept, the rest is sampled
    temperature: float
    n_completions: int
    seed: int  # the uniform numbers of this request's draws come from this seed alone


@dataclass
class Job:
    """A request on its way: ``future`` gets long (n, H, W) levels; ``rows_done`` grows as rows are sampled."""

    request: Request
    arrived: float = field(default_factory=time.monotonic)
    future: Future = field(default_factory=Future)
    rows_done: int = 0  # rows of ``partial`` that are final
    partial: torch.Tensor | None = None  # long (n, H, W), the latest rows
    batch_images: int = 0  # images in the sampler call that served it


def uniforms(request: Request, positions: int) -> torch.Tensor:
    """float64 (n, positions): one uniform number per image and sub-pixel, from ``request.seed`` only."""
    generator = torch.Generator().manual_seed(request.seed)
    return torch.rand(request.n_completions, positions, generator=generator, dtype=torch.float64)


def make_draw(u: torch.Tensor, temperatures: torch.Tensor, known: torch.Tensor) -> tuple[Callable, Callable[[], int]]:
    """A ``draw`` hook for the fast sampler that gives every image its own numbers and temperature.

    u: float64 (N, H * W * C), image k's number for sub-pixel (i, j, c) at (i * W + j) * C + c;
    temperatures: float64 (N, 1); known: bool (N, C, H, W) of the call.
    The sampler calls draw once per sub-pixel that some image samples, in raster then colour
    order; the hook walks those sub-pixels in the same order. Returns (draw, calls left).
    """
    todo = (~known).any(0).permute(1, 2, 0).flatten()  # (H * W * C,): some image samples it
    order = todo.nonzero().flatten().tolist()
    calls = [0]

    def draw(logits: torch.Tensor, temperature: float = 1.0, generator=None, top_p: float = 1.0) -> torch.Tensor:
        if calls[0] == len(order):
            raise RuntimeError("the sampler drew more sub-pixels than the images leave unknown")
        p = order[calls[0]]
        calls[0] += 1
        probs = nucleus_probs(logits.double(), temperatures, top_p)  # (N, levels)
        # inverse-CDF as in sample_step, with each image's own number for this sub-pixel
        return (probs.cumsum(dim=-1) < u[:, p : p + 1]).sum(dim=-1).clamp(max=logits.shape[-1] - 1)  # (N,)

    return draw, lambda: len(order) - calls[0]


def batch_inputs(model, jobs: list[Job]):
    """The sampler's input for ``jobs``: images long, known bool (N, 1, H, W), u (N, H * W), temperatures (N, 1)."""
    levels, positions = model.config.levels, model.config.height * model.config.width
    images, known, u, temps = [], [], [], []
    for job in jobs:
        r = job.request
        x, k = prepare(r.image, levels, r.keep)  # (1, 1, H, W) each
        images.append(x.expand(r.n_completions, -1, -1, -1))
        known.append(k.expand(r.n_completions, -1, -1, -1))
        u.append(uniforms(r, positions))
        temps.append(torch.full((r.n_completions, 1), r.temperature, dtype=torch.float64))
    return torch.cat(images), torch.cat(known), torch.cat(u), torch.cat(temps)


def run_batch(model, jobs: list[Job], complete: Callable = sampling.complete) -> list[torch.Tensor]:
    """Complete every job of ``jobs`` (one model) in one sampler call; returns long (n, H, W) per job."""
    images, known, u, temps = batch_inputs(model, jobs)
    draw, calls_left = make_draw(u, temps, known)
    bounds = np.cumsum([0] + [job.request.n_completions for job in jobs])

    def on_row(row: int, x: torch.Tensor) -> None:  # x: (N, 1, H, W), rows up to `row` final
        for job, lo, hi in zip(jobs, bounds[:-1], bounds[1:]):
            job.partial, job.rows_done = x[lo:hi, 0].clone(), row + 1

    out = complete(model, images, known, temperature=1.0, method="fast", draw=draw, callback=on_row)
    if calls_left():
        raise RuntimeError("the sampler drew fewer sub-pixels than the images leave unknown")
    return [out[lo:hi, 0] for lo, hi in zip(bounds[:-1], bounds[1:])]


class Batcher:
    """One worker thread that serves every user's requests in batches.

    models: {label: model}; max_images: images per sampler call (a request of n
    completions counts n); window_s: how long a call waits after the latest request
    for another one (at most 4 * window_s after the first); max_waiting: requests
    that may wait at once (one more raises ``Busy``).
    complete: ``pixelcourse.complete`` or a function with its signature.
    """

    def __init__(self, models: dict, *, max_images: int = 64, window_s: float = 0.03, max_waiting: int = 64,
                 complete: Callable = sampling.complete):
        if max_images < 1 or max_waiting < 1 or window_s < 0:
            raise ValueError("max_images and max_waiting must be >= 1 and window_s >= 0.")
        self.models, self.max_images, self.window_s, self.max_waiting = models, max_images, window_s, max_waiting
        self.complete = complete
        self.calls = 0  # sampler calls so far
        self._waiting: list[Job] = []
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._serve, name="pixelcourse-batcher", daemon=True)
        self._thread.start()

    def submit(self, request: Request) -> Job:
        """Queue ``request``; its job's future gets the completions. Raises Busy when the queue is full."""
        if request.model not in self.models:
            raise ValueError(f"unknown model {request.model!r}; choose one of {list(self.models)}.")
        if request.n_completions > self.max_images:
            raise ValueError(f"n_completions must be at most {self.max_images}, got {request.n_completions}.")
        job = Job(request)
        with self._wake:
            if len(self._waiting) >= self.max_waiting:
                raise Busy(f"The server is busy ({len(self._waiting)} requests are waiting): try again in a moment.")
            self._waiting.append(job)
            self._wake.notify()
        return job

    def waiting(self) -> int:
        """Requests queued and not yet taken into a sampler call."""
        with self._wake:
            return len(self._waiting)

    def stop(self) -> None:
        """Stop the worker after the current call; waiting jobs get an error."""
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout=30)

    def _take(self) -> list[Job] | None:
        """The next batch: wait for a job, then for the window, then take its model's jobs up to max_images."""
        with self._wake:
            while not self._waiting and not self._stopped:
                self._wake.wait()
            if self._stopped:
                return None
            first = self._waiting[0]
            while not self._stopped and not self._full(first.request.model):
                # the window closes window_s after the latest click, at most 4 windows after the first
                until = min(self._waiting[-1].arrived + self.window_s, first.arrived + 4 * self.window_s)
                if (left := until - time.monotonic()) <= 0:
                    break
                self._wake.wait(left)
            batch, images, keep = [], 0, []
            for job in self._waiting:
                n = job.request.n_completions
                if job.request.model == first.request.model and images + n <= self.max_images:
                    if job.future.set_running_or_notify_cancel():  # a client that left is dropped here
                        batch.append(job)
                        images += n
                else:
                    keep.append(job)
            self._waiting = keep
            return batch

    def _full(self, model: str) -> bool:
        return sum(j.request.n_completions for j in self._waiting if j.request.model == model) >= self.max_images

    def _serve(self) -> None:
        while (batch := self._take()) is not None:
            if batch:
                self._run(batch)
        with self._wake:
            for job in self._waiting:
                if job.future.set_running_or_notify_cancel():
                    job.future.set_exception(RuntimeError("the server is stopping"))

    def _run(self, batch: list[Job]) -> None:
        images = sum(job.request.n_completions for job in batch)
        try:
            results = run_batch(self.models[batch[0].request.model], batch, self.complete)
        except Exception as err:  # never stop the worker: every job of this call gets the error
            for job in batch:
                job.future.set_exception(err)
            return
        self.calls += 1
        for job, out in zip(batch, results):
            job.batch_images = images
            job.future.set_result(out)
