"""The training loop (notebooks 02-05; ``python -m pixelcourse.train``).

``fit(model, train, test)`` trains with Adam on the exact negative
log-likelihood and returns the history. Its pieces, each small enough to read
alone: ``TrainConfig`` (the settings), ``lr_at`` (the schedule, a pure function
of the step), ``train_step`` (one optimizer step), ``train_epochs`` (the loop),
and around the loop ``resume`` (where a checkpoint stopped) and two callbacks,
``History`` (what the loop did) and ``Checkpointer`` (the run on disk).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from . import threads
from .checkpoints import CheckpointError, check_compatible, load_checkpoint, read_checkpoint, save_checkpoint
from .data import load_dataset
from .likelihood import LN2, batches, bits_per_dim, labels_for, nll_nats
from .models import AutoregressiveModel, model_from_config, preset_config
from .precision import check_precision, choose_precision
from .settings import CHECKPOINT_DIR
from .util import big_blocks_kept, model_device, unwrap

SCHEDULES = ("constant", "cosine")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """The settings of a training run: ``fit``'s arguments, the options of ``python -m pixelcourse.train``,
    and the ``training`` entry of a training checkpoint."""

    epochs: int = 1  # passes over the training set; a finished run given more epochs is extended
    lr: float = 1e-3  # Adam's learning rate (the peak of the cosine schedule)
    batch_size: int = 64  # images per optimizer step, per process
    schedule: str = "constant"  # "constant", or "cosine": decays to 0 over all epochs
    max_steps: int | None = None  # stop after this many optimizer steps in all (short runs)
    seed: int = 0  # fixes the order of every epoch, so a resumed run sees the same batches
    restart_warmup: int = 100  # steps of linear lr ramp when a finished run is extended (a warm restart)
    precision: str = "auto"  # "float32", "bfloat16" autocast, or "auto": bfloat16 only where it is native
    checkpoint_every: float = 120.0  # seconds between checkpoints; one is also written after every epoch
    max_seconds: float | None = None  # stop once the run has trained this long in all (a time budget, on any CPU)

    def __post_init__(self):
        if self.schedule not in SCHEDULES:
            raise ValueError(f'schedule must be "constant" or "cosine", got {self.schedule!r}.')
        check_precision(self.precision)
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.restart_warmup < 0:
            raise ValueError("epochs and batch_size must be >= 1, lr > 0 and restart_warmup >= 0.")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be None (no limit) or >= 1, got {self.max_steps}.")
        if self.max_seconds is not None and not self.max_seconds > 0:
            raise ValueError(f"max_seconds must be None (no limit) or > 0, got {self.max_seconds}.")

    @classmethod
    def from_checkpoint(cls, ckpt: dict) -> TrainConfig:
        """The settings a training checkpoint was written with.

        batch_size comes back as the images per step of all processes together
        (one process repeats the run with it); settings a checkpoint predates take
        the value every run had before they existed.
        """
        if not ckpt.get("training"):
            raise CheckpointError("This checkpoint holds no training settings: use the one `python -m pixelcourse.train` wrote.")
        before = {"precision": "float32", "restart_warmup": 0}  # runs saved before these settings existed
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in {**before, **ckpt["training"]}.items() if k in names})


def lr_at(step: int, total: int, peak: float, schedule: str = "constant", warmup: int = 0, start: int = 0) -> float:
    """Learning rate of optimizer step ``step`` (0-based) of ``total``; depends on the step only.

    schedule: "constant" (``peak`` throughout) or "cosine" (from ``peak`` down to 0 at ``total``).
    warmup: if > 0, the rate is scaled by a linear ramp over ``warmup`` steps
        from step ``start`` (a warm restart begins there), reaching 1 at
        ``start + warmup - 1``.
    """
    value = peak
    if schedule == "cosine":
        value = peak * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))
    if warmup:
        value *= min(1.0, (step - start + 1) / warmup)
    return value


@dataclasses.dataclass
class Run:
    """A training run: what it trains with and where it stands. The loop advances it; callbacks read it."""

    config: TrainConfig
    optimizer: torch.optim.Optimizer
    steps_per_epoch: int
    total_steps: int  # optimizer steps of the whole run, max_steps included
    rank: int = 0  # this process, of ``world`` (torchrun)
    world: int = 1
    epoch: int = 0  # epochs finished; the one in progress is epoch + 1
    batch: int = 0  # batches done in the epoch in progress
    step: int = 0  # optimizer steps done in all
    restart_step: int | None = None  # the step a warm restart began at, if the run was extended
    finished: bool = False
    seconds: float = 0.0  # training time so far (earlier sessions included, evaluation excluded)
    lr: float = math.nan  # the last step's learning rate and loss
    loss_bpd: float = math.nan
    train_bpd: float = math.nan  # the last epoch's mean training loss, throughput and test bits/dim
    images_per_s: float = math.nan
    test_bpd: float | None = None

    @property
    def out_of_time(self) -> bool:
        """True once the run has used its time budget (``config.max_seconds``)."""
        return self.config.max_seconds is not None and self.seconds >= self.config.max_seconds

    def lr_now(self) -> float:
        """The learning rate of the next step."""
        c = self.config
        warmup = c.restart_warmup if self.restart_step is not None else 0
        return lr_at(self.step, self.total_steps, c.lr, c.schedule, warmup, self.restart_step or 0)


Callback = Callable[[str, Run], None]


def train_step(net: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, lr: float,
               precision: str = "float32") -> float:
    """One Adam step on a batch at learning rate ``lr``; returns its loss before the step, in nats per sub-pixel.

    x: long (B, C, H, W) levels; y: (B,) labels (unconditional models ignore them).
    precision "bfloat16": the forward pass runs under bfloat16 autocast (the
    weights, the optimizer and the output head stay float32).
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16"):
        loss = nll_nats(net, x, labels_for(net, y)) / x.numel()  # scalar, mean over sub-pixels
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss.item()


def epoch_order(n: int, seed: int, epoch: int, rank: int = 0, world: int = 1) -> torch.Tensor:
    """The image indices one process visits in an epoch: (n // world,), fixed by (seed, epoch) alone."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1000 + epoch))  # (n,)
    return order[: n // world * world][rank::world]


def train_epochs(net: nn.Module, train, test, run: Run, callbacks: Sequence[Callback] = (), progress: bool = True) -> None:
    """The training loop: shuffled batches, one step each, test bits/dim after every epoch.

    Advances ``run`` from where it stands to its end. After every step and
    every epoch it calls each callback as callback("step" or "epoch", run).
    """
    config, base = run.config, unwrap(net)
    device = model_device(base)
    for epoch in range(run.epoch, config.epochs):
        if run.step >= run.total_steps or run.out_of_time:
            break
        order = epoch_order(len(train), config.seed, epoch, run.rank, run.world)  # (images of this process,)
        net.train()
        bar = tqdm(total=run.steps_per_epoch, initial=run.batch, desc=f"epoch {epoch + 1}/{config.epochs}",
                   disable=not progress or run.rank != 0, leave=True)
        nats, dims, seen, start, before = 0.0, 0, 0, time.time(), run.seconds
        for x, y in batches(train, config.batch_size, order[run.batch * config.batch_size :]):
            if run.step >= run.total_steps or run.out_of_time:
                break
            x = x.to(device, non_blocking=True)  # (B, C, H, W) levels
            run.lr = run.lr_now()
            loss = train_step(net, run.optimizer, x, y.to(device), run.lr, config.precision)
            run.step, run.batch, run.loss_bpd = run.step + 1, run.batch + 1, loss / LN2
            nats, dims, seen = nats + loss * x.numel(), dims + x.numel(), seen + x.shape[0] * run.world
            run.seconds = before + time.time() - start
            bar.update(1)
            bar.set_postfix(loss=f"{run.loss_bpd:.3f} bpd", **_time_left(run))
            _notify(callbacks, "step", run)
        bar.close()
        elapsed = time.time() - start
        run.seconds, run.images_per_s, run.train_bpd = before + elapsed, seen / max(elapsed, 1e-9), nats / max(dims, 1) / LN2
        run.test_bpd = bits_per_dim(base, test) if test is not None and run.rank == 0 else None
        if run.test_bpd is not None and progress:
            print(f"epoch {epoch + 1}: train {run.train_bpd:.4f} bpd, test {run.test_bpd:.4f} bpd")
        if test is not None and run.world > 1:
            torch.distributed.barrier()  # the other processes wait for rank 0's evaluation
        if run.batch >= run.steps_per_epoch:  # the epoch is complete; a run stopped inside one resumes there
            run.epoch, run.batch = epoch + 1, 0
        run.finished = run.epoch >= config.epochs or run.step >= run.total_steps or run.out_of_time
        _notify(callbacks, "epoch", run)


def _time_left(run: Run) -> dict:
    """The progress bar's estimate of the time budget left, if the run has one."""
    if run.config.max_seconds is None:
        return {}
    left = max(0, round(run.config.max_seconds - run.seconds))
    return {"left": f"{left // 60}:{left % 60:02d}"}


def _notify(callbacks: Sequence[Callback], event: str, run: Run) -> None:
    for callback in callbacks:
        callback(event, run)


def new_history() -> dict:
    """Per-step training loss and per-epoch test bits/dim, ready to plot."""
    return {"step": [], "loss_bpd": [], "lr": [], "epoch": [], "train_bpd": [], "test_bpd": [], "images_per_s": [], "seconds": 0.0}


class History:
    """Callback: appends every step and epoch of the run to ``history`` (a ``new_history()`` dict)."""

    def __init__(self, history: dict):
        self.history = history

    def __call__(self, event: str, run: Run) -> None:
        h = self.history
        h["seconds"] = run.seconds
        if event == "step":
            h["step"].append(run.step)
            h["loss_bpd"].append(run.loss_bpd)
            h["lr"].append(run.lr)
        elif event == "epoch":  # a run stopped by its time budget ends inside an epoch: a fraction of one
            h["epoch"].append(run.epoch if run.batch == 0 else round(run.epoch + run.batch / run.steps_per_epoch, 3))
            h["train_bpd"].append(run.train_bpd)
            h["images_per_s"].append(run.images_per_s)
            if run.test_bpd is not None:
                h["test_bpd"].append(run.test_bpd)


class Checkpointer:
    """Callback: writes the run to ``path`` every ``config.checkpoint_every`` seconds and after every epoch.

    The checkpoint holds the model, the history, the metadata, and under
    ``training`` the settings (the precision used; batch_size over all
    processes), the optimizer and the position in the run.
    """

    def __init__(self, path, model: AutoregressiveModel, history: dict, metadata: dict | None = None):
        self.path, self.model, self.history, self.metadata = Path(path), model, history, metadata or {}
        self.last = time.time()

    def __call__(self, event: str, run: Run) -> None:
        if event == "step" and time.time() - self.last <= run.config.checkpoint_every:
            return
        settings = dataclasses.asdict(run.config) | {"batch_size": run.config.batch_size * run.world}
        training = settings | {"processes": run.world, "epoch": run.epoch, "batch": run.batch, "finished": run.finished,
                               "restart_step": run.restart_step, "optimizer": run.optimizer.state_dict()}
        metrics = {"test_bpd": self.history["test_bpd"][-1]} if self.history["test_bpd"] else {}
        save_checkpoint(self.model, self.path, metrics=metrics, history=self.history, training=training, **self.metadata)
        self.last = time.time()


def resume(path: Path | None, run: Run, model: AutoregressiveModel, verbose: bool = True) -> dict:
    """Load the run stored at ``path`` into ``run`` and ``model``, if there is one; returns its history.

    A checkpoint of the same number of epochs resumes where it stopped; one of
    fewer epochs is extended (a warm restart from its last step); a finished
    checkpoint without training state has nothing left to do.
    """
    if path is None or not path.exists():
        return new_history()
    ckpt = read_checkpoint(path)
    check_compatible(ckpt, model.config, path)
    model.load_state_dict(ckpt["state_dict"])
    history, state, epochs = ckpt.get("history", new_history()), ckpt.get("training"), run.config.epochs
    for key, empty in new_history().items():
        history.setdefault(key, empty)  # runs saved before a field existed
    run.seconds = history["seconds"]
    if state is None:
        run.epoch = epochs
        return history
    run.optimizer.load_state_dict(state["optimizer"])
    run.epoch, run.batch = state["epoch"], state["batch"]
    run.step = run.epoch * run.steps_per_epoch + run.batch
    extended = state.get("epochs", epochs) < epochs
    if extended:
        run.restart_step = run.step  # a warm restart begins here
    elif state.get("epochs") == epochs:
        run.restart_step = state.get("restart_step")  # the same run, resumed
    if verbose and run.epoch < epochs:
        print(f"Resuming from {path}: epoch {run.epoch + 1}, batch {run.batch}.")
        if extended and run.config.restart_warmup:
            print(f"Extending a {state['epochs']}-epoch run to {epochs} epochs: "
                  f"the learning rate warms up over {run.config.restart_warmup} steps.")
    return history


def _distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def fit(model: nn.Module, train, test=None, config: TrainConfig | None = None, *, checkpoint=None, progress: bool = True,
        metadata: dict | None = None, callbacks: Sequence[Callback] = (), **settings) -> dict:
    """Train with Adam on the exact negative log-likelihood; returns the history.

    train, test: Datasets of (x, y) (pixelcourse datasets are fastest).
    config, settings: a TrainConfig, and/or its fields as keywords (epochs=,
        lr=, batch_size=, schedule=, max_steps=, seed=, restart_warmup=,
        precision=, checkpoint_every=), which override it.
    checkpoint: a path, written atomically every ``checkpoint_every`` seconds
        and after every epoch. If it already holds a run of this model, training
        resumes exactly where it stopped (same data order, optimizer, history).
    metadata: extra entries for the checkpoint; callbacks: more callback(event, run).
    precision "auto" (the default) trains under bfloat16 autocast only where the
    hardware does bfloat16 natively (``pixelcourse.precision``), float32
    elsewhere; the checkpoint records the precision used.
    Under ``torchrun`` each process trains on its own shard of every epoch with
    DistributedDataParallel; rank 0 evaluates and writes the checkpoint.

    History: step, loss_bpd, lr (per step; loss in bits/dim), epoch, train_bpd,
    test_bpd, images_per_s (per epoch), seconds.
    """
    unknown = sorted(set(settings) - {f.name for f in dataclasses.fields(TrainConfig)})
    if unknown:
        raise TypeError(f"fit() got unknown settings {unknown}; the settings are the fields of TrainConfig.")
    base = unwrap(model)
    config = dataclasses.replace(config or TrainConfig(), **settings)
    config = dataclasses.replace(config, precision=choose_precision(config.precision, model_device(base)))  # "auto" resolved
    rank, world = _distributed()
    steps_per_epoch = math.ceil(len(train) // world / config.batch_size)
    total_steps = min(steps_per_epoch * config.epochs, config.max_steps or math.inf)
    run = Run(config, torch.optim.Adam(base.parameters(), lr=config.lr), steps_per_epoch, total_steps, rank, world)
    history = resume(Path(checkpoint) if checkpoint is not None else None, run, base, verbose=rank == 0)
    net = model  # a model passed in wrapped in DistributedDataParallel trains through its wrapper
    if model is base and world > 1:
        net = nn.parallel.DistributedDataParallel(base)
    writers = [Checkpointer(checkpoint, base, history, metadata)] if checkpoint is not None and rank == 0 else []
    rechoose = [threads.rechoose] if threads.watching() else []  # in a notebook: the cores free now
    # History first: the Checkpointer saves the history with this epoch's test bits/dim in it.
    with big_blocks_kept():  # a step's big tensors are reused, not mapped afresh
        train_epochs(net, train, test, run, [History(history), *writers, *rechoose, *callbacks], progress)
    base.history = history
    return history


def train_or_load(
    preset: str,
    path=None,
    *,
    epochs: int = 10,
    train=None,
    test=None,
    **overrides,
) -> AutoregressiveModel:
    """Load the model of ``preset`` from ``path`` if it holds a finished matching run, otherwise train it there.

    path: default ``data/checkpoints/<preset>.pt`` (the shipped pretrained
    checkpoint). train/test: datasets (default: the preset's dataset, full
    splits). Unfinished runs at ``path`` resume. overrides: TrainConfig fields
    (lr=, batch_size=, max_steps=, ...) for the training, the others model
    config fields. Returns the model in eval mode with ``.history`` and ``.metrics``.
    """
    training = {k: overrides.pop(k) for k in list(overrides) if k in TrainConfig.__dataclass_fields__}
    config = preset_config(preset, **overrides)
    path = Path(path) if path is not None else CHECKPOINT_DIR / f"{preset}.pt"
    if path.exists():
        ckpt = read_checkpoint(path)
        check_compatible(ckpt, config, path)
        if ckpt.get("training") is None or ckpt["training"].get("finished"):
            print(f"Found pretrained {path.name} ({_describe(ckpt)}), loading.")
            return load_checkpoint(path, expect=config)
    train = train if train is not None else load_dataset(config.dataset, "train", levels=config.levels)
    test = test if test is not None else load_dataset(config.dataset, "test", levels=config.levels)
    model = model_from_config(config)
    print(f"No finished checkpoint at {path}: training {preset} for {epochs} epoch(s).")
    fit(model, train, test, TrainConfig(epochs=epochs, **training), checkpoint=path, metadata={"preset": preset})
    return load_checkpoint(path, expect=config)


def _describe(ckpt: dict) -> str:
    bpd = ckpt.get("metrics", {}).get("test_bpd")
    return f"test {bpd:.3f} bits/dim" if bpd is not None else "no test metric"
