"""Training throughput and peak memory of the presets on this machine.

    python benchmarks/bench_training.py                 # mnist and cifar10
    python benchmarks/bench_training.py --presets mnist fashion_mnist --steps 30
    python benchmarks/bench_training.py --precisions bfloat16

Each preset runs in its own process (so peak memory is its own): it loads the
real training split, then times ``--steps`` optimizer steps of ``fit`` after
a few warm-up steps, and prints images/s and peak resident memory, once per
precision (``fit(precision=...)``: float32, and bfloat16 autocast, which is
faster only where the hardware does bfloat16 natively: a CUDA GPU with it, a
CPU with AVX-512 BF16 or AMX). It first prints which precision ``"auto"``, the
default of ``fit`` and of the train command, chooses on this machine.
"""

import argparse
import json
import resource
import subprocess
import sys
import time

from pixelcourse.precision import PRECISIONS


def measure(preset: str, steps: int, batch_size: int, threads: int | None, precision: str) -> dict:
    import torch

    import pixelcourse
    from pixelcourse.precision import choose_precision

    if threads:
        torch.set_num_threads(threads)
    model = pixelcourse.build_model(preset)
    c = model.config
    train = pixelcourse.load_dataset(c.dataset, "train", levels=c.levels)
    warmup = 3
    pixelcourse.fit(model, train, epochs=1, batch_size=batch_size, max_steps=warmup, progress=False, precision=precision)
    model = pixelcourse.build_model(preset)
    start = time.perf_counter()
    pixelcourse.fit(model, train, epochs=1, batch_size=batch_size, max_steps=steps, progress=False, precision=precision)
    seconds = time.perf_counter() - start
    return {
        "preset": preset,
        "parameters": pixelcourse.count_parameters(model),
        "images_per_s": steps * batch_size / seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(),
        "precision": choose_precision(precision, "cpu"),  # what "auto" became
    }


def auto_choice() -> str:
    """One line: the precision "auto" chooses on this machine's CPU, and the features it went by."""
    from pixelcourse.precision import bfloat16_capability, choose_precision

    features = sorted(bfloat16_capability("cpu"))
    reason = f"native bfloat16: {', '.join(features)}" if features else "no AVX-512 BF16 or AMX: bfloat16 would be emulated"
    return f"precision auto chooses {choose_precision('auto', 'cpu')} on this CPU ({reason})."


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--presets", nargs="+", default=["mnist", "cifar10"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--precisions", nargs="+", choices=PRECISIONS, default=["float32", "bfloat16"])
    p.add_argument("--one", help=argparse.SUPPRESS)
    p.add_argument("--precision", default="float32", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.steps, args.batch_size, args.threads, args.precision)))
        return
    print(auto_choice())
    print("| preset | parameters | batch | threads | precision | images/s | peak memory |")
    print("|---|---:|---:|---:|---|---:|---:|")
    for preset in args.presets:
        for precision in args.precisions:
            cmd = [sys.executable, __file__, "--one", preset, "--steps", str(args.steps), "--batch-size", str(args.batch_size),
                   "--precision", precision]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
            r = json.loads(out)
            used = precision if r["precision"] == precision else f"{precision} ({r['precision']})"
            print(f"| {preset} | {r['parameters']:,} | {args.batch_size} | {r['threads']} | {used} "
                  f"| {r['images_per_s']:.0f} | {r['peak_rss_mb']:.0f} MB |", flush=True)


if __name__ == "__main__":
    main()
