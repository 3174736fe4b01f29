"""Train a preset from the command line, on one machine or many.

    python -m pixelcourse.train --preset mnist --epochs 5 --out data/runs/mnist.pt
    torchrun --nproc_per_node 4 -m pixelcourse.train --preset cifar10 --epochs 20 --out runs/cifar10.pt

The checkpoint at --out is written atomically every --checkpoint-every seconds
and after every epoch; running the same command again resumes where it stopped.
Under torchrun every process trains on its own shard with
DistributedDataParallel (gloo on CPU, nccl on GPU) and rank 0 writes.
The options after --out are the fields of ``pixelcourse.TrainConfig``; the
default --precision auto trains in bfloat16 only where the hardware does it
natively, and the checkpoint records the precision it used.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import types
import typing

import torch

from .checkpoints import CheckpointError
from .data import load_dataset, subset
from .machine import describe_cpu
from .models import PRESETS, count_parameters, model_from_config, preset_config
from .precision import PRECISIONS, choose_precision
from .training import SCHEDULES, TrainConfig, fit

# One option per TrainConfig field (--batch-size for batch_size), with these help texts and choices.
HELP = {
    "epochs": "passes over the training set; a finished run given more epochs is extended",
    "lr": "Adam's learning rate (the peak of the cosine schedule)",
    "batch_size": "images per step, per process",
    "schedule": "learning-rate schedule; cosine decays to 0 over all epochs",
    "max_steps": "stop after this many steps (smoke runs)",
    "seed": "fixes the order of every epoch",
    "restart_warmup": "steps of linear learning-rate warm-up when a finished run is extended to more epochs",
    "precision": "auto: bfloat16 autocast where the hardware does it natively (a CUDA GPU with bfloat16, "
                 "a CPU with AVX-512 BF16 or AMX), float32 elsewhere",
    "checkpoint_every": "seconds between checkpoints",
    "max_seconds": "stop once the run has trained this many seconds in all (a time budget; run again with more to go on)",
}
CHOICES = {"schedule": SCHEDULES, "precision": PRECISIONS}
CLI_DEFAULTS = {"epochs": 10}  # a command-line run is a real run; fit's default of 1 epoch suits notebooks


def add_config_options(p: argparse.ArgumentParser) -> None:
    """An option for every TrainConfig field, typed and defaulted from the dataclass."""
    hints = typing.get_type_hints(TrainConfig)
    for field in dataclasses.fields(TrainConfig):
        kind = hints[field.name]
        if isinstance(kind, types.UnionType):  # `int | None`: parse an int
            kind = next(k for k in typing.get_args(kind) if k is not type(None))
        default = CLI_DEFAULTS.get(field.name, field.default)
        p.add_argument("--" + field.name.replace("_", "-"), type=kind, default=default, choices=CHOICES.get(field.name),
                       help=HELP[field.name] + (f" (default: {default})" if default is not None else ""))


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig that the options of ``add_config_options`` describe."""
    return TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m pixelcourse.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", required=True, choices=list(PRESETS), help="model and dataset")
    p.add_argument("--out", required=True, help="checkpoint path (resumed if it exists)")
    add_config_options(p)
    p.add_argument("--train-subset", type=int, default=None, help="use only the first N training images")
    p.add_argument("--test-subset", type=int, default=None, help="evaluate on the first N test images only")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="config overrides, e.g. hidden=32 layers=4 dilations=1,2,4")
    return p.parse_args(argv)


def _overrides(pairs):
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise SystemExit(f"--set expects FIELD=VALUE, got {pair!r}")
        key, value = pair.split("=", 1)
        if "," in value:  # dilations=1,2,4
            try:
                out[key] = tuple(int(part) for part in value.split(","))
            except ValueError:
                raise SystemExit(f"--set {key}: expected whole numbers separated by commas, got {value!r}") from None
        else:
            out[key] = int(value) if value.lstrip("-").isdigit() else value
    return out


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    distributed = _under_torchrun()
    rank, finished = 0, False
    if distributed:
        backend = "nccl" if device.type == "cuda" else "gloo"
        torch.distributed.init_process_group(backend)
        rank = torch.distributed.get_rank()
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
    try:
        config = preset_config(args.preset, **_overrides(args.set))
        settings = config_from_args(args)
        torch.manual_seed(args.seed)
        model = model_from_config(config).to(device)
        train = load_dataset(config.dataset, "train", levels=config.levels)
        test = load_dataset(config.dataset, "test", levels=config.levels)
        if args.train_subset:
            train = subset(train, args.train_subset)
        if args.test_subset:
            test = subset(test, args.test_subset)
        world = torch.distributed.get_world_size() if distributed else 1
        precision = choose_precision(settings.precision, device)
        if rank == 0:
            chosen = " (chosen by --precision auto)" if settings.precision == "auto" else ""
            print(
                f"Training {args.preset}: {count_parameters(model):,} parameters, {len(train):,} images, "
                f"{world} process(es) on {device}, batch {args.batch_size} per process, {precision}{chosen}."
            )
        start = time.time()
        history = fit(
            model, train, test, dataclasses.replace(settings, precision=precision), checkpoint=args.out,
            metadata={"preset": args.preset, "hardware": _hardware(device, world, precision),
                      "parameters": count_parameters(model)},
        )
        if rank == 0:
            test_bpd = history["test_bpd"][-1] if history["test_bpd"] else float("nan")
            print(f"Done in {time.time() - start:.0f} s this run: test {test_bpd:.4f} bits/dim; checkpoint {args.out}")
        finished = True
    except (CheckpointError, ValueError, RuntimeError) as err:
        if isinstance(err, RuntimeError) and type(err).__name__ != "DatasetUnavailableError":
            raise
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        if distributed:
            _leave_process_group(finished)
    return 0


def _under_torchrun() -> bool:
    """True when torchrun started this process as one of several (it sets WORLD_SIZE)."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def _leave_process_group(finished: bool) -> None:
    """Tear the process group down together: a rank that leaves while rank 0
    still writes the checkpoint can abort inside gloo's teardown."""
    if finished:
        torch.distributed.barrier()  # every rank is done talking; after a failure the others may never arrive
    torch.distributed.destroy_process_group()


def _hardware(device: torch.device, world: int, precision: str) -> str:
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        threads = torch.get_num_threads()
        name = f"{describe_cpu()}, {threads} thread{'' if threads == 1 else 's'}"
    name = f"{world} x {name}" if world > 1 else name
    return name + (", bfloat16 autocast" if precision == "bfloat16" else "")


if __name__ == "__main__":
    code = main()
    if _under_torchrun():
        # Under torchrun, leave without the interpreter's teardown: the run is saved and the process group
        # destroyed, and a thread of gloo's that outlives it can abort there ("terminate called without an
        # active exception"), which would fail a finished run.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
