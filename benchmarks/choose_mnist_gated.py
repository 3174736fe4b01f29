"""Which Gated PixelCNN for 256-level MNIST? Test bits/dim after equal CPU time, one row per candidate.

    python benchmarks/choose_mnist_gated.py                    # every candidate, 4 CPU minutes each
    python benchmarks/choose_mnist_gated.py --minutes 2 --only 7x64_d124_softmax

Each candidate is a Gated PixelCNN (notebook 04) on MNIST at 256 levels, trained with ``pixelcourse.fit``
exactly as ``python -m pixelcourse.train`` trains it (Adam at 2e-3, batches of 64, ``--precision auto``)
but at a constant learning rate, until the process has spent the budget in CPU time of one thread (so a
busy machine slows the run down without changing its figures). It then scores the first ``--test``
images of the test split. The candidate with the lowest bits/dim at equal time became the
``mnist_gated`` preset; the table it printed is in README's results.
"""

from __future__ import annotations

import argparse
import time

import torch

import pixelcourse
from first_digits import CHUNK, REPO, _cpu_seconds
from pixelcourse.machine import cpu_name

# name -> config overrides of the mnist preset (arch, size, dilations, output head)
CANDIDATES = {
    "7x64_d124_softmax": {"hidden": 64, "layers": 7, "dilations": (1, 2, 4)},  # UvA Tutorial 12's shape
    "7x64_d124_mix5": {"hidden": 64, "layers": 7, "dilations": (1, 2, 4), "output": "logistic_mixture", "mixtures": 5},
    "7x64_d1_mix5": {"hidden": 64, "layers": 7, "dilations": (1,), "output": "logistic_mixture", "mixtures": 5},
    "7x48_d124_mix5": {"hidden": 48, "layers": 7, "dilations": (1, 2, 4), "output": "logistic_mixture", "mixtures": 5},
}


def run(name: str, minutes: float, test_images: int) -> dict:
    """Train candidate ``name`` for ``minutes`` of CPU time on one thread; its test bits/dim and speed."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = pixelcourse.build_model("mnist", arch="gated", **CANDIDATES[name])
    train = pixelcourse.load_dataset("mnist", "train")
    test = pixelcourse.subset(pixelcourse.load_dataset("mnist", "test"), test_images)
    path = REPO / "data" / "runs" / f"choose_mnist_gated_{name}.pt"
    path.unlink(missing_ok=True)
    cpu, wall, steps = 0.0, 0.0, 0
    while cpu < 60 * minutes:
        before, start = _cpu_seconds(), time.perf_counter()
        steps += CHUNK
        pixelcourse.fit(model, train, epochs=1000, batch_size=64, lr=2e-3, schedule="constant", seed=0,
                        max_steps=steps, checkpoint=path, progress=False)
        cpu, wall = cpu + _cpu_seconds() - before, wall + time.perf_counter() - start
    bpd = pixelcourse.bits_per_dim(model, test)
    row = {"name": name, "parameters": pixelcourse.count_parameters(model), "minutes": minutes, "wall": wall / 60,
           "steps": steps, "images_per_cpu_s": steps * 64 / cpu, "bpd": bpd}
    print(f"{name}: {row['parameters']:,} parameters, {steps} steps in {minutes:g} CPU minutes "
          f"({wall / 60:.1f} wall), {row['images_per_cpu_s']:.0f} images per CPU second, test {bpd:.4f} bits/dim",
          flush=True)
    return row


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0, help="CPU minutes of training per candidate")
    parser.add_argument("--test", type=int, default=2000, help="test images scored per candidate")
    parser.add_argument("--only", nargs="+", choices=list(CANDIDATES), default=list(CANDIDATES))
    args = parser.parse_args(argv)
    print(f"CPU: {cpu_name()}, 1 thread; torch {torch.__version__}; "
          f"precision auto = {pixelcourse.precision.choose_precision('auto', 'cpu')}")
    rows = [run(name, args.minutes, args.test) for name in args.only]
    print(f"\n| candidate | parameters | CPU minutes | steps | images per CPU s | test bits/dim (first {args.test:,}) |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in sorted(rows, key=lambda r: r["bpd"]):
        print(f"| {r['name']} | {r['parameters']:,} | {r['minutes']:g} | {r['steps']:,} | {r['images_per_cpu_s']:.0f} | "
              f"{r['bpd']:.4f} |")


if __name__ == "__main__":
    main()
