"""Time per image of an exact evaluation (``pixel_bits``: forward pass and float64 softmax) over batch sizes.

    python benchmarks/bench_evaluation.py            # every preset, batches 1 to 256 (a few minutes on 2 cores)
    python benchmarks/bench_evaluation.py --quick    # a smoke run: two presets, three batch sizes

``bits_per_dim``, the ``pixelcourse.compression`` scores and the test figure at the end of
training evaluate ``evaluation_batch(model)`` images per forward pass when not told
otherwise: on the CPU, a batch whose largest tensor stays under 8 MiB. This script shows
why: it times the same images at every batch size, adds the one ``evaluation_batch``
picks and gives the largest batch's time as a multiple of it. Bigger batches do not
share more work on the CPU; their tensors leave the caches, and blocks over 32 MiB are
fresh pages from the operating system on every batch.

The shipped checkpoints where they exist, otherwise untrained weights of the preset's
size; random levels as images (the time does not depend on the values). Each time is
the minimum over ``--repeats`` runs, because other programs share the machine.
"""

from __future__ import annotations

import argparse
import time

import torch

import pixelcourse
from pixelcourse.checkpoints import CheckpointError
from pixelcourse.compression import pixel_bits
from pixelcourse.likelihood import evaluation_batch
from pixelcourse.machine import cpu_family, cpu_name, cpu_vectors

BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


def model_for(preset: str):
    """The shipped checkpoint of ``preset`` if there is one, else untrained weights; and which it is."""
    try:
        return pixelcourse.load_pretrained(preset), "shipped"
    except (CheckpointError, ValueError):
        torch.manual_seed(0)
        return pixelcourse.build_model(preset), "untrained"


def ms_per_image(model, x, y, batch: int, repeats: int) -> float:
    """Minimum over ``repeats`` of the time of ``pixel_bits`` on ``x`` at ``batch`` images per pass, per image."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        pixel_bits(model, x, y, batch)
        best = min(best, time.perf_counter() - start)
    return 1000 * best / len(x)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two presets, batches 1, 8 and 64, one repeat")
    parser.add_argument("--images", type=int, default=256, help="images per timing (default 256)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    presets, batches = (("mnist", "cifar10"), (1, 8, 64)) if args.quick else (tuple(pixelcourse.PRESETS), BATCHES)
    images, repeats = (32, 1) if args.quick else (args.images, args.repeats)
    family = f", {cpu_family()}" if cpu_family() else ""
    print(f"CPU: {cpu_name()}{family} ({cpu_vectors()}); torch {torch.__version__} uses "
          f"{torch.backends.cpu.get_cpu_capability()}, {torch.get_num_threads()} threads.")
    print(f"ms per image of pixel_bits over {images} images, minimum of {repeats} run(s).\n")
    print("| preset | weights | " + " | ".join(f"batch {b}" for b in batches)
          + " | evaluation_batch | its time | batch " + f"{max(batches)} ÷ it |")
    print("|---|---|" + "---:|" * (len(batches) + 3))
    for preset in presets:
        model, weights = model_for(preset)
        c = model.config
        x = torch.randint(0, c.levels, (images, c.channels, c.height, c.width))  # (N, C, H, W) levels
        y = torch.randint(0, c.num_classes, (images,)) if c.num_classes else None
        chosen = evaluation_batch(model)
        pixel_bits(model, x[:chosen], None if y is None else y[:chosen], chosen)  # warm-up
        times = {b: ms_per_image(model, x, y, b, repeats) for b in sorted({*batches, chosen})}
        cells = [f"{times[b]:.1f}" for b in batches] + [str(chosen), f"{times[chosen]:.1f}",
                                                         f"{times[max(batches)] / times[chosen]:.2f}"]
        print(f"| {preset} | {weights} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
