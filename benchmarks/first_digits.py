"""Minutes of training -> test nats per image of the learner's PixelCNN, with a sample grid at each stage.

    python benchmarks/first_digits.py                        # the course's choice, 45 minutes
    python benchmarks/first_digits.py --sweep --minutes 4    # the configurations that were tried, 4 minutes each
    python benchmarks/first_digits.py --stages 1 2 5 --hidden 32 --layers 3
    python benchmarks/first_digits.py --arch gated --hidden 32 --stages 1 2 5 10   # notebook 04's Gated PixelCNN

The model is the PixelCNN that notebooks 02 and 03 have the learner assemble and train (a mask-A
input layer, residual blocks, a head of two 1x1 convolutions), built here from the package's
reference parts, which have the same weights and forward pass (``--arch gated``: the Gated PixelCNN of
notebook 04, a vertical and a horizontal input layer, gated blocks and the same head). It trains on binarised MNIST with
``pixelcourse.fit`` in float32, resuming its checkpoint from one chunk of steps to the next, until the
process has spent the stage's minutes of CPU time in training (evaluation and sampling excluded): CPU
time, so that a busy machine does not change the figures. After each stage it scores the full test
split (10,000 digits) in nats per image and saves 16 samples (seed 0) as a PNG. It prints a Markdown
table with the CPU's name; the minutes depend on the CPU, so run it on yours.
"""

from __future__ import annotations

import argparse
import math
import resource
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import pixelcourse  # noqa: E402
from pixelcourse.machine import cpu_name  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
D = 28 * 28
CHUNK = 50  # optimizer steps per call of fit: the budget is checked between calls
CHOICE = {"hidden": 64, "layers": 5, "batch_size": 64, "lr": 5e-3}  # see the sweep in README's results
SWEEP = [
    {"hidden": 32, "layers": 3, "batch_size": 32, "lr": 2e-3},
    {"hidden": 64, "layers": 5, "batch_size": 32, "lr": 2e-3},
    {"hidden": 64, "layers": 5, "batch_size": 64, "lr": 5e-3},
    {"hidden": 96, "layers": 6, "batch_size": 64, "lr": 5e-3},
]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def name_of(setting: dict) -> str:
    arch = "gated_" if setting.get("arch", "pixelcnn") == "gated" else ""
    return f"{arch}{setting['layers']}x{setting['hidden']}_b{setting['batch_size']}_lr{setting['lr']:g}"


def run(setting: dict, stages: list[float], out: Path, threads: int, tag: str = "") -> list[dict]:
    """Train one configuration through ``stages`` (minutes of CPU time in all); returns one row per stage.

    The budget is this process's CPU time spent in ``fit`` (one thread: the wall time of an idle core), so
    a busy machine slows the run down but does not change its figures. ``fit`` runs in chunks of
    ``CHUNK`` steps, each resuming the checkpoint of the last.
    """
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    config = pixelcourse.preset_config("mnist_binary", arch=setting.get("arch", "pixelcnn"), hidden=setting["hidden"],
                                       layers=setting["layers"])
    model = pixelcourse.model_from_config(config)
    train = pixelcourse.load_dataset("mnist", "train", levels=2)
    test = pixelcourse.load_dataset("mnist", "test", levels=2)
    name = name_of(setting) + tag
    path = REPO / "data" / "runs" / f"first_digits_{name}.pt"
    path.unlink(missing_ok=True)
    rows, cpu, wall, steps = [], 0.0, 0.0, 0
    for minutes in stages:
        while cpu < 60 * threads * minutes:
            before, start = _cpu_seconds(), time.perf_counter()
            steps += CHUNK
            pixelcourse.fit(model, train, epochs=1000, batch_size=setting["batch_size"], lr=setting["lr"], seed=0,
                            precision="float32", max_steps=steps, checkpoint=path, progress=False)
            cpu, wall = cpu + _cpu_seconds() - before, wall + time.perf_counter() - start
        nats = pixelcourse.bits_per_dim(model, test) * D * math.log(2)
        samples = pixelcourse.sample(model, 16, generator=torch.Generator().manual_seed(0), method="fast")  # (16, 1, 28, 28)
        png = out / f"{name}_{minutes:g}min.png"
        fig, ax = plt.subplots(figsize=(3.2, 3.4))
        pixelcourse.show_grid(samples, 4, levels=2, title=f"{minutes:g} min: {nats:.1f} nats", ax=ax)
        fig.tight_layout()
        fig.savefig(png, dpi=80)
        plt.close(fig)
        rows.append({"setting": name, "minutes": minutes, "wall": wall / 60, "steps": steps, "nats": nats,
                     "parameters": pixelcourse.count_parameters(model),
                     "png": (png.relative_to(REPO) if png.is_relative_to(REPO) else png).as_posix()})
        print(f"{name}: {minutes:g} CPU minutes ({wall / 60:.1f} wall), {steps} steps, {nats:.2f} nats/image "
              f"-> {rows[-1]['png']}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweep", action="store_true", help="try every configuration of SWEEP")
    parser.add_argument("--minutes", type=float, default=4.0, help="the sweep's budget per configuration")
    parser.add_argument("--stages", type=float, nargs="+", default=[1, 2, 5, 10, 20, 30, 45])
    parser.add_argument("--arch", choices=["pixelcnn", "gated"], default="pixelcnn")
    parser.add_argument("--hidden", type=int, default=CHOICE["hidden"])
    parser.add_argument("--layers", type=int, default=CHOICE["layers"])
    parser.add_argument("--batch-size", type=int, default=CHOICE["batch_size"])
    parser.add_argument("--lr", type=float, default=CHOICE["lr"])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "first_digits")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    settings = SWEEP if args.sweep else [{"arch": args.arch, "hidden": args.hidden, "layers": args.layers, "batch_size": args.batch_size,
                                          "lr": args.lr}]
    stages = [args.minutes] if args.sweep else args.stages
    print(f"CPU: {cpu_name()}, {args.threads} thread(s); torch {torch.__version__}")
    rows = [row for setting in settings for row in run(setting, stages, args.out, args.threads,
                                                                     "_sweep" if args.sweep else "")]
    print("\n| model (blocks x features, batch, lr) | parameters | CPU minutes | wall minutes | steps | test nats/image | "
          "bits/dim | samples |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(f"| {r['setting']} | {r['parameters']:,} | {r['minutes']:g} | {r['wall']:.1f} | {r['steps']:,} | {r['nats']:.1f} | "
              f"{r['nats'] / (D * math.log(2)):.4f} | `{r['png']}` |")


if __name__ == "__main__":
    main()
