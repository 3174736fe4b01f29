"""Naive against fast (cached) sampling for every preset, at batch 1 and 16.

    python benchmarks/bench_sampling.py            # the full table (several minutes on 2 cores)
    python benchmarks/bench_sampling.py --quick    # a smoke run: batch 1 and 2, one repeat

The shipped checkpoints where they exist (``pixelcourse.load_pretrained``),
otherwise untrained weights of the preset's size. Every time is the minimum
over ``--repeats`` runs (the short forward pass: 10 times as many), because other
programs share the machine; for the fast sampler, whose run is long enough to be
interrupted, each image row is timed (``callback``) and the row minima are summed.

* forward: one raw forward pass on the batch: the network up to its head's output
  (for the mixture head the 3K numbers per sub-pixel, not the 256 levels).
* naive: ``sample(method="naive")`` runs one forward pass per sub-pixel,
  H * W * C of them, all of the same cost. It is timed on its first
  ``--naive-steps`` sub-pixels (the rest given as known, so skipped) and
  scaled up linearly to the whole image.
* fast: the whole ``sample(method="fast")``, every sub-pixel, with the steps compiled by numba
  (the default), and with torch's operations (``PIXELCOURSE_COMPILED=0``, the path without numba).
* fast / forward: the fast time in full forward passes (naive: H * W * C).

Last, the compiled steps' first use in a fresh process: compiling them (numba's disk cache
empty, as before ``tools/setup.sh`` ran) and loading them (the cache filled).

The ratios depend on the CPU: a wide vector unit (AVX-512, AMX) speeds up the
forward pass's large convolutions far more than the sampler's small steps, whose
cost is mostly the fixed price of each operation. The CPU's name and vector
extensions are printed with the table.

The fast sampler runs its small steps on one thread; with the default thread
count (two or more) and 16 images or more, it fills each half of the batch in a
thread of its own (``fill_in_halves``), so at batch 16 it uses two cores, as the
forward pass does. Naive and forward are timed with the default thread count and
with one thread, and the faster of the two is shown, so neither side gets an
unfair start.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import torch

import pixelcourse
from pixelcourse.machine import cpu_family, cpu_name, cpu_vectors
from pixelcourse.sampling import complete, sample


def best_time(fn, repeats: int) -> float:
    """Minimum wall time of ``fn()`` in seconds over ``repeats`` runs."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def best_over_threads(fn, repeats: int) -> float:
    """``best_time`` with the default thread count and with one thread."""
    threads = torch.get_num_threads()
    times = [best_time(fn, repeats)]
    if threads > 1:
        torch.set_num_threads(1)
        try:
            times.append(best_time(fn, repeats))
        finally:
            torch.set_num_threads(threads)
    return min(times)


def fast_time(model, batch: int, labels, repeats: int, compiled: bool = True) -> float:
    """``sample(method="fast")``: the sum over image rows of each row's minimum time over ``repeats`` runs.

    compiled=False sets PIXELCOURSE_COMPILED=0 for these runs: the caches run torch's operations.
    """
    before = os.environ.get("PIXELCOURSE_COMPILED")
    os.environ["PIXELCOURSE_COMPILED"] = "1" if compiled else "0"
    try:
        return _fast_rows(model, batch, labels, repeats)
    finally:
        if before is None:
            del os.environ["PIXELCOURSE_COMPILED"]
        else:
            os.environ["PIXELCOURSE_COMPILED"] = before


def _fast_rows(model, batch: int, labels, repeats: int) -> float:
    rows = [float("inf")] * model.config.height
    for _ in range(repeats):
        stamps = [time.perf_counter()]
        sample(model, batch, labels=labels, generator=torch.Generator().manual_seed(0), method="fast",
               callback=lambda row, x: stamps.append(time.perf_counter()))
        rows = [min(best, b - a) for best, a, b in zip(rows, stamps, stamps[1:])]
    return sum(rows)


def trained_or_new(preset: str) -> tuple[torch.nn.Module, str]:
    """The shipped checkpoint of ``preset`` if there is one, else an untrained model of its size."""
    try:
        return pixelcourse.load_pretrained(preset).eval(), "trained"
    except (FileNotFoundError, KeyError, pixelcourse.CheckpointError):
        torch.manual_seed(0)
        return pixelcourse.build_model(preset).eval(), "untrained"


def measure(preset: str, batch: int, repeats: int, naive_steps: int) -> dict:
    model, weights = trained_or_new(preset)
    c = model.config
    labels = torch.arange(batch) % c.num_classes if c.num_classes else None
    x = torch.zeros(batch, c.channels, c.height, c.width, dtype=torch.long)

    with torch.inference_mode():
        model(x, labels, raw=True)  # warm-up
        forward = best_over_threads(lambda: model(x, labels, raw=True), 10 * repeats)  # short: more tries

    # Naive on a prefix: the first `naive_steps` sub-pixels in generation order are unknown.
    steps = min(naive_steps, c.dims)
    order = torch.arange(c.dims).view(c.height, c.width, c.channels).permute(2, 0, 1)  # (C, H, W) step index
    known = (order >= steps).expand(batch, -1, -1, -1).clone()
    naive_prefix = best_over_threads(
        lambda: complete(model, x, known, labels=labels, generator=torch.Generator().manual_seed(0), method="naive"),
        repeats,
    )
    naive = naive_prefix * c.dims / steps

    sample(model, batch, labels=labels, method="fast")  # warm-up (and the compiled steps' first use)
    fast = fast_time(model, batch, labels, repeats)
    torch_ops = fast_time(model, batch, labels, repeats, compiled=False)
    return dict(preset=preset, weights=weights, batch=batch, dims=c.dims, forward=forward, naive=naive, steps=steps,
                fast=fast, torch_ops=torch_ops)  # fmt: skip


FIRST_USE = """
import time
start = time.perf_counter()
import torch, pixelcourse
model = pixelcourse.build_model("{preset}").eval()
ready = time.perf_counter()
pixelcourse.sample(model, 1, generator=torch.Generator().manual_seed(0))
first = time.perf_counter() - ready
ready = time.perf_counter()
pixelcourse.sample(model, 1, generator=torch.Generator().manual_seed(0))
print(first, time.perf_counter() - ready)
"""


def first_use(preset: str) -> tuple[float, float, float]:
    """(compile, load, a later sample) in seconds: a fresh process's first ``sample(preset)`` beyond its
    later ones, with numba's cache empty and then filled by that run, and the time of a later sample."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PIXELCOURSE_COMPILED="1")
        runs = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", FIRST_USE.format(preset=preset)], env=env, check=True,
                                 capture_output=True, text=True).stdout.split()  # fmt: skip
            runs.append((float(out[0]), float(out[1])))
    (cold, later), (warm, _) = runs
    return cold - later, warm - later, later


def completion_time(repeats: int) -> float:
    """One 28x28 mnist completion at batch 1 with the top half known."""
    torch.manual_seed(0)
    model = pixelcourse.build_model("mnist").eval()
    image = torch.randint(0, model.config.levels, (1, 1, 28, 28))
    known = torch.zeros_like(image, dtype=torch.bool)
    known[:, :, :14] = True
    complete(model, image, known, method="fast")  # warm-up
    return best_time(lambda: complete(model, image, known, method="fast"), repeats)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", nargs="+", default=["mnist", "mnist_binary", "fashion_mnist", "cifar10"])
    p.add_argument("--batches", nargs="+", type=int, default=None, help="batch sizes (default 1 16; --quick: 1 2)")
    p.add_argument("--repeats", type=int, default=None, help="runs per time, the minimum is kept (default 3; --quick: 1)")
    p.add_argument("--naive-steps", type=int, default=None, help="sub-pixels timed for naive (default 32; --quick: 4)")
    p.add_argument("--quick", action="store_true", help="a smoke run with smaller numbers")
    args = p.parse_args()
    batches = args.batches or ([1, 2] if args.quick else [1, 16])
    repeats = args.repeats or (1 if args.quick else 3)
    naive_steps = args.naive_steps or (4 if args.quick else 32)

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads by default; minimum of {repeats} run(s).")
    print(f"naive: timed on the first {naive_steps} sub-pixels and scaled to H*W*C (see the script's docstring).\n")
    family = f", {cpu_family()}" if cpu_family() else ""
    print(f"CPU: {cpu_name()}{family} ({cpu_vectors()}); torch uses {torch.backends.cpu.get_cpu_capability()}.\n")
    print("| preset | weights | batch | forward pass | naive (scaled) | fast | speed-up | fast / forward "
          "| fast, torch's operations | its fast / forward |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    rows = []
    for preset in args.presets:
        for batch in batches:
            r = measure(preset, batch, repeats, naive_steps)
            rows.append(r)
            print(
                f"| {preset} | {r['weights']} | {batch} | {r['forward'] * 1e3:.1f} ms | {r['naive']:.1f} s | {r['fast']:.2f} s "
                f"| {r['naive'] / r['fast']:.0f}x | {r['fast'] / r['forward']:.1f} (naive {r['dims']}) "
                f"| {r['torch_ops']:.2f} s | {r['torch_ops'] / r['forward']:.1f} |",
                flush=True,
            )
    done = completion_time(repeats)
    print(f"\nmnist completion, batch 1, top half known: fast {done:.3f} s")
    uses = {preset: first_use(preset) for preset in ("mnist", "cifar10")}
    for preset, (cold, warm, later) in uses.items():
        print(f"{preset}: the compiled steps' first use costs {cold:.2f} s to compile (an empty numba cache), "
              f"{warm:.2f} s to load (after tools/setup.sh); a later sample takes {later:.2f} s")

    print("\nTargets:")
    def check(text, ok):
        print(f"- {text}: {'met' if ok else 'MISSED'}")
    by = {(r["preset"], r["batch"]): r for r in rows}
    for preset, batch in [("mnist", 1), ("fashion_mnist", 1), ("cifar10", 16)]:
        if (preset, batch) in by:
            r = by[preset, batch]
            check(f"{preset} batch {batch}: fast >= 30x naive ({r['naive'] / r['fast']:.0f}x)", r["naive"] / r["fast"] >= 30)
    check(f"mnist 28x28 completion <= 0.3 s ({done:.3f} s)", done <= 0.3)
    # Set on a slow 2-core CPU with AVX2 only; a CPU with AVX-512 makes the forward pass, the yardstick, faster.
    for preset, batch, limit in [("mnist", 1, 10), ("mnist", 16, 3), ("cifar10", 1, 20), ("cifar10", 16, 5)]:
        if (preset, batch) in by:
            ratio = by[preset, batch]["fast"] / by[preset, batch]["forward"]
            check(f"{preset} batch {batch}: fast <= {limit} forward passes ({ratio:.1f})", ratio <= limit)
    for preset, (cold, warm, later) in uses.items():
        check(f"{preset}: compiled steps' first use < 2 s once set up ({warm:.2f} s; compiling: {cold:.2f} s)", warm < 2)
    worst = max(rows, key=lambda r: r["fast"] / r["forward"])
    check(
        f"fast <= 40 forward passes per image everywhere (worst: {worst['preset']} batch {worst['batch']}, "
        f"{worst['fast'] / worst['forward']:.0f})",
        worst["fast"] / worst["forward"] <= 40,
    )


if __name__ == "__main__":
    main()
