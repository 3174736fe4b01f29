"""One completion of the drawing, as the pad's background thread runs it, and its result JSON.

``run_job`` prepares the drawing, calls the completion function with a row
callback that shows each finished row and stops the run when it is cancelled,
and reports through three callbacks, so it needs neither a canvas nor a thread
to be tested.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..util import model_device
from .pad import display_values, prepare


@dataclass(frozen=True)
class Job:
    """What one click on Complete samples, read from the pad when the click happens."""

    run: int  # 1 for the first click, 2 for the second, ...
    name: str  # the model's name in the pad's choice
    model: torch.nn.Module  # unconditional, 1 channel
    image: np.ndarray  # uint8 (H, W), the drawing
    keep: int  # rows 0 .. keep - 1 are kept, the rest is sampled
    temperature: float
    n_completions: int
    seed: int | None = None  # None: new samples on every run
    method: str | None = None  # the sampling method; None: the completion function's default


class Cancelled(Exception):
    """Raised from the row callback to stop a completion that is no longer wanted."""


def describe(keep: int) -> str:
    """What a run keeps, in words for the status line."""
    return f"keeping rows 0-{keep - 1}" if keep else "nothing drawn: sampling from scratch"


def result_json(result: dict) -> str:
    """``result`` as compact JSON, escaped for an HTML widget (the browser test reads it from the page)."""
    return html.escape(json.dumps(result, separators=(",", ":")))


def make_result(job: Job, images: torch.Tensor, out: torch.Tensor, seconds: float, first_row_s: float | None) -> dict:
    """The record of one run, as ``DrawPad.last_result`` and the page's hidden JSON hold it.

    images: long (1, 1, H, W), the drawing as the model got it; out: long (N, 1, H, W).
    "drawing" (H x W) and "completions" (N x H x W) are nested lists of levels.
    """
    return {
        "run": job.run, "model": job.name, "levels": job.model.config.levels, "temperature": job.temperature,
        "keep_rows": job.keep, "drawing": images[0, 0].tolist(), "completions": out[:, 0].tolist(),
        "seconds": round(seconds, 4),
        "first_row_seconds": None if first_row_s is None else round(first_row_s, 4),
    }


def run_job(
    job: Job,
    *,
    complete: Callable[..., torch.Tensor],
    cancelled: Callable[[], bool],
    show: Callable[[np.ndarray, int, int, int], None],
    say: Callable[[str], None],
    publish: Callable[[dict], None],
) -> dict | None:
    """Complete the drawing of ``job`` ``job.n_completions`` times, showing each row as it is sampled.

    complete: ``pixelcourse.complete`` or a function with its signature.
    cancelled: polled after every row; True stops the run ("Stopped.").
    show(grey, done_rows, first_row, last_row): grey uint8 (N, H, W), rows from
        ``done_rows`` on not sampled yet; rows first_row .. last_row - 1 changed.
    say(text): the status line. publish(result): the result dict, before "Done".
    Returns the result dict, or None when cancelled or failed (``say`` tells why):
    a thread has no cell to print an error into.
    """
    start = time.perf_counter()
    first_row_s = None
    shown = job.keep  # rows already shown as final
    try:
        levels = job.model.config.levels
        images, known = prepare(job.image, levels, job.keep)  # (1, 1, H, W) each
        grey = np.repeat(display_values(images[:, 0], levels), job.n_completions, axis=0)  # (N, H, W)
        height = grey.shape[1]
        show(grey, job.keep, 0, height)
        say(f"Sampling with {job.name} ({describe(job.keep)}) ...")

        def on_row(row: int, x: torch.Tensor) -> None:  # x: (N, 1, H, W), rows up to `row` final
            nonlocal first_row_s, shown
            if cancelled():
                raise Cancelled
            if row < shown:  # a kept row
                return
            if first_row_s is None:
                first_row_s = time.perf_counter() - start
            grey[:, shown : row + 1] = display_values(x[:, 0, shown : row + 1], levels)
            show(grey, row + 1, shown, row + 1)
            shown = row + 1

        out = _complete(job, images, known, complete, on_row)  # (N, 1, H, W)
        show(display_values(out[:, 0], levels), height, shown, height)
        seconds = time.perf_counter() - start
        result = make_result(job, images, out, seconds, first_row_s)
        publish(result)
        first = "" if first_row_s is None else f", first row after {first_row_s:.2f} s"
        say(f"Done in {seconds:.2f} s (run {job.run}, {job.n_completions} completions, {describe(job.keep)}{first}).")
        return result
    except Cancelled:
        say("Stopped.")
    except Exception as err:  # shown in the pad: a thread has no cell to print into
        say(f"Completion failed: {type(err).__name__}: {err}")
    return None


def _complete(job: Job, images, known, complete, on_row) -> torch.Tensor:
    """Call ``complete`` on the model's device; returns long (N, 1, H, W) on the CPU."""
    device = model_device(job.model)
    generator = None if job.seed is None else torch.Generator().manual_seed(job.seed)
    extra = {} if job.method is None else {"method": job.method}
    out = complete(job.model, images.to(device), known.to(device), n_per_image=job.n_completions,
                   temperature=job.temperature, generator=generator, callback=on_row, **extra)
    return out.cpu()
