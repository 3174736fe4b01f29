"""Train a preset from the command line, on one machine or many.

    python -m pixelcourse.train --preset mnist --epochs 5 --out data/runs/mnist.pt
    torchrun --nproc_per_node 4 -m pixelcourse.train --preset cifar10 --epochs 20 --out runs/cifar10.pt

The checkpoint at --out is written atomically every --checkpoint-every seconds
and after every epoch; running the same command again resumes where it stopped.
Under torchrun every process trains on its own shard with
DistributedDataParallel (gloo on CPU, nccl on GPU) and rank 0 writes.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import torch

from .models import PRESETS, count_parameters, model_from_config, preset_config
from .training import CheckpointError, fit


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m pixelcourse.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", required=True, choices=list(PRESETS), help="model and dataset")
    p.add_argument("--out", required=True, help="checkpoint path (resumed if it exists)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--batch-size", type=int, default=64, help="per process")
    p.add_argument("--schedule", choices=["constant", "cosine"], default="constant")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (smoke runs)")
    p.add_argument("--train-subset", type=int, default=None, help="use only the first N training images")
    p.add_argument("--test-subset", type=int, default=None, help="evaluate on the first N test images only")
    p.add_argument("--restart-warmup", type=int, default=100,
                   help="steps of linear learning-rate warm-up when a finished run is extended to more epochs")
    p.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                   help="bfloat16: autocast the training convolutions (faster on CPUs with AVX-512 BF16 or AMX)")
    p.add_argument("--checkpoint-every", type=float, default=120.0, help="seconds between checkpoints")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="config overrides, e.g. hidden=32 layers=4")
    return p.parse_args(argv)


def _overrides(pairs):
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"--set expects FIELD=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        out[key] = int(value) if value.lstrip("-").isdigit() else value
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    distributed = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
    rank = 0
    if distributed:
        backend = "nccl" if device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend)
        rank = torch.distributed.get_rank()
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    try:
        from .data import load_dataset, subset

        config = preset_config(args.preset, **_overrides(args.set))
        torch.manual_seed(args.seed)
        model = model_from_config(config).to(device)
        train = load_dataset(config.dataset, "train", levels=config.levels)
        test = load_dataset(config.dataset, "test", levels=config.levels)
        if args.train_subset:
            train = subset(train, args.train_subset)
        if args.test_subset:
            test = subset(test, args.test_subset)
        world = torch.distributed.get_world_size() if distributed else 1
        if rank == 0:
            print(
                f"Training {args.preset}: {count_parameters(model):,} parameters, {len(train):,} images, "
                f"{world} process(es) on {device}, batch {args.batch_size} per process."
            )
        start = time.time()
        history = fit(
            model, train, test, epochs=args.epochs, lr=args.lr, batch_size=args.batch_size, checkpoint=args.out,
            checkpoint_every=args.checkpoint_every, schedule=args.schedule, max_steps=args.max_steps, seed=args.seed,
            restart_warmup=args.restart_warmup, precision=args.precision,
            metadata={"preset": args.preset, "hardware": _hardware(device, world, args.precision),
                      "parameters": count_parameters(model)},
        )
        if rank == 0:
            test_bpd = history["test_bpd"][-1] if history["test_bpd"] else float("nan")
            print(f"Done in {time.time() - start:.0f} s this run: test {test_bpd:.4f} bits/dim; checkpoint {args.out}")
    except (CheckpointError, ValueError, RuntimeError) as err:
        if isinstance(err, RuntimeError) and type(err).__name__ != "DatasetUnavailableError":
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        if distributed:
            torch.distributed.destroy_process_group()
    return 0


def _hardware(device: torch.device, world: int, precision: str = "float32") -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    name = f"{world} x {name}" if world > 1 else name
    return name + (", bfloat16 autocast" if precision == "bfloat16" else "")


if __name__ == "__main__":
    sys.exit(main())
