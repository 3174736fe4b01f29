"""Training, exact bits/dim, and checkpoints (notebooks 02-05; ``python -m pixelcourse.train``).

A checkpoint is a plain dict that ``torch.load(weights_only=True)`` can read:
weights, config, dataset, levels, metrics, history and a format version; a
training checkpoint also carries the optimizer and the position in the run so
that ``fit`` resumes exactly where a killed process stopped.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import pickle
import time
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .models import AutoregressiveModel, PixelCNNConfig, model_from_config, preset_config
from .settings import CHECKPOINT_DIR

FORMAT_VERSION = 1
LN2 = math.log(2.0)


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: corrupt, of another format, or for another model or dataset."""


# --------------------------------------------------------------------------- data plumbing


def _unwrap(model: nn.Module) -> AutoregressiveModel:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _batches(data, batch_size: int, order: torch.Tensor | None = None):
    """Yield (x, y) batches of ``data``: a pixelcourse dataset, any Dataset of (x, y), or a DataLoader.

    order: indices to visit (default: all, in order). Pixelcourse datasets are
    sliced as uint8 tensors directly, which is much faster than per-item loading.
    """
    if isinstance(data, torch.utils.data.DataLoader):
        yield from data
        return
    n = len(data)
    order = torch.arange(n) if order is None else order
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        if hasattr(data, "batch"):
            yield data.batch(idx)
        else:
            items = [data[int(k)] for k in idx]
            yield torch.stack([torch.as_tensor(x) for x, _ in items]), torch.as_tensor([int(y) for _, y in items])


def _labels_for(model: AutoregressiveModel, y: torch.Tensor):
    return y.long() if model.config.num_classes else None


def nll_nats(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None, exact: bool = False) -> torch.Tensor:
    """Summed negative log-likelihood in nats of a batch: x long (B, C, H, W) -> scalar.

    exact: compute the softmax in float64 (evaluation), not float32 (training).
    """
    raw = model(x, y, raw=True)  # (B, P, C, H, W): logits, or mixture parameters
    if exact:
        raw = raw.double()
    return -_unwrap(model).log_prob(raw, x).sum()


@torch.no_grad()
def bits_per_dim(model: AutoregressiveModel, data, batch_size: int = 256, progress: bool = False) -> float:
    """Exact average negative log2-likelihood per sub-pixel over every image of ``data``.

    data: a Dataset of (x, y) or a DataLoader. The softmax and the sum are in
    float64, so the result does not depend on the batch size. For 28x28 grey images,
    nats per image = bits/dim * 784 * ln 2.
    """
    model = _unwrap(model)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count = 0.0, 0
    try:
        batches = _batches(data, batch_size)
        if progress:
            batches = tqdm(batches, total=math.ceil(len(data) / batch_size), desc="bits/dim", leave=False)
        for x, y in batches:
            x = x.to(device)
            total += float(nll_nats(model, x, _labels_for(model, y.to(device)), exact=True))
            count += x.numel()
    finally:
        model.train(was_training)
    if count == 0:
        raise ValueError("bits_per_dim needs at least one image.")
    return total / (count * LN2)


# --------------------------------------------------------------------------- checkpoints


def _atomic_save(obj, path: Path) -> None:
    """Write to a temporary name in the same folder, then rename: never a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def save_checkpoint(model: AutoregressiveModel, path, **metadata) -> Path:
    """Save weights, config, dataset, levels and any metadata (metrics=..., history=...) atomically.

    Returns the path. Load it with ``load_checkpoint``.
    """
    model = _unwrap(model)
    config = model.config
    ckpt = {
        "format_version": FORMAT_VERSION,
        "arch": config.arch,
        "config": dataclasses.asdict(config),
        "dataset": config.dataset,
        "levels": config.levels,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metrics": {},
    }
    ckpt.update(metadata)
    _atomic_save(ckpt, Path(path))
    return Path(path)


def read_checkpoint(path) -> dict:
    """The raw checkpoint dict, with one clear error for missing, corrupt or foreign files."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"No checkpoint at {path}.")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, OSError, ValueError) as err:
        raise CheckpointError(
            f"{path} is not a readable checkpoint (corrupt or truncated: {type(err).__name__}). "
            "Delete it and train again, or restore the original file."
        ) from None
    if not isinstance(ckpt, dict) or "format_version" not in ckpt:
        raise CheckpointError(f"{path} is not a pixelcourse checkpoint (no format_version).")
    if ckpt["format_version"] != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {ckpt['format_version']}, this pixelcourse reads format {FORMAT_VERSION}. "
            "Retrain it or use the pixelcourse version that wrote it."
        )
    return ckpt


def check_compatible(ckpt: dict, config: PixelCNNConfig, path="checkpoint") -> None:
    """Raise CheckpointError if ``ckpt`` holds another architecture, dataset or config than ``config``."""
    want = dataclasses.asdict(config)
    # Fields added after a checkpoint was written take their defaults (e.g. output="softmax").
    defaults = {f.name: f.default for f in dataclasses.fields(PixelCNNConfig)}
    have = {**defaults, **ckpt.get("config", {})}
    diffs = [f"{k}: checkpoint {have.get(k)!r} vs wanted {v!r}" for k, v in want.items() if have.get(k) != v]
    if diffs:
        kind = "architecture" if have.get("arch") != config.arch else "dataset" if have.get("dataset") != config.dataset else "config"
        raise CheckpointError(
            f"{path} holds a model of another {kind} ({'; '.join(diffs)}). "
            "Use a different checkpoint path, or delete this file to train from scratch."
        )


def load_checkpoint(path, expect: PixelCNNConfig | None = None, map_location="cpu") -> AutoregressiveModel:
    """Rebuild the model stored at ``path`` (``torch.load(weights_only=True)``).

    expect: if given, the checkpoint must hold exactly this config. The model
    comes back in eval mode with ``.metrics``, ``.history`` and ``.checkpoint_path``.
    """
    ckpt = read_checkpoint(path)
    if expect is not None:
        check_compatible(ckpt, expect, path)
    try:
        config = PixelCNNConfig(**ckpt["config"])
        model = model_from_config(config)
        model.load_state_dict(ckpt["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise CheckpointError(f"{path} does not match this pixelcourse's models ({type(err).__name__}: {err}).") from None
    model.metrics = ckpt.get("metrics", {})
    model.history = ckpt.get("history", {})
    model.checkpoint_path = Path(path)
    return model.to(map_location).eval()


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(directory=None) -> dict:
    """The manifest of the shipped pretrained checkpoints: name -> entry (file, sha256, metrics, ...)."""
    path = Path(directory or CHECKPOINT_DIR) / "manifest.json"
    return json.loads(path.read_text()) if path.exists() else {}


def load_pretrained(name: str, directory=None) -> AutoregressiveModel:
    """Load a shipped checkpoint ("mnist", "mnist_binary", "fashion_mnist", "cifar10") after checking its sha256."""
    directory = Path(directory or CHECKPOINT_DIR)
    manifest = read_manifest(directory)
    if name not in manifest:
        have = ", ".join(manifest) or "none"
        raise CheckpointError(
            f"No pretrained checkpoint named {name!r} (available: {have}). Train one with "
            f"`python -m pixelcourse.train --preset {name} --out {directory / (name + '.pt')}`."
        )
    entry = manifest[name]
    path = directory / entry["file"]
    if not path.exists():
        raise CheckpointError(f"The pretrained checkpoint {path} listed in the manifest is missing; restore it with git checkout.")
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        raise CheckpointError(
            f"{path} fails its sha256 check (got {digest[:12]}..., manifest says {entry['sha256'][:12]}...): "
            "the file is corrupt or was changed. Restore it with `git checkout -- data/checkpoints`."
        )
    return load_checkpoint(path)


# --------------------------------------------------------------------------- training


def _distributed() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def new_history() -> dict:
    """Per-step training loss and per-epoch test bits/dim, ready to plot."""
    return {"step": [], "loss_bpd": [], "lr": [], "epoch": [], "train_bpd": [], "test_bpd": [], "images_per_s": [], "seconds": 0.0}


def fit(
    model: AutoregressiveModel,
    train,
    test=None,
    *,
    epochs: int = 1,
    lr: float = 1e-3,
    batch_size: int = 64,
    checkpoint=None,
    checkpoint_every: float = 120.0,
    schedule: str = "constant",
    max_steps: int | None = None,
    seed: int = 0,
    progress: bool = True,
    metadata: dict | None = None,
    restart_warmup: int = 100,
    precision: str = "float32",
) -> dict:
    """Train with Adam on cross-entropy over levels; returns the history.

    train, test: Datasets of (x, y) (pixelcourse datasets are fastest).
    checkpoint: a path; written atomically every ``checkpoint_every`` seconds
        and after every epoch. If it already holds a run of this model, training
        resumes exactly where it stopped (same data order, optimizer, history).
    schedule: "constant" or "cosine" (decays lr to 0 over all epochs).
    max_steps: stop after this many optimizer steps in total (quick runs).
    restart_warmup: when a checkpoint of a shorter run is extended to more
        epochs (a warm restart: the cosine schedule is recomputed over the new
        total, so the learning rate jumps back up), it rises linearly from 0
        over this many steps instead of jumping; Adam's state was built at the
        old, small learning rate, and a jump can undo part of the training.
    precision: "float32", or "bfloat16" to run the convolutions of the training
        steps under bfloat16 autocast (weights, optimizer and output head stay
        float32; evaluation is always float32). On CPUs with AVX-512 BF16 or AMX
        this trains about 1.5 times faster.
    Under ``torchrun`` (an initialised process group) each process trains on
    its own shard of every batch order with DistributedDataParallel; rank 0
    evaluates and writes the checkpoint.

    History: step, loss_bpd (per step, bits/dim), epoch, train_bpd, test_bpd
    (per epoch), images_per_s, seconds, lr (per step).
    """
    if schedule not in ("constant", "cosine"):
        raise ValueError(f'schedule must be "constant" or "cosine", got {schedule!r}.')
    if precision not in ("float32", "bfloat16"):
        raise ValueError(f'precision must be "float32" or "bfloat16", got {precision!r}.')
    if epochs < 1 or batch_size < 1 or lr <= 0 or restart_warmup < 0:
        raise ValueError("epochs and batch_size must be >= 1, lr > 0 and restart_warmup >= 0.")
    rank, world = _distributed()
    base = _unwrap(model)
    device = next(base.parameters()).device
    optimizer = torch.optim.Adam(base.parameters(), lr=lr)
    history, start_epoch, start_batch = new_history(), 0, 0
    restart_step, extended_from = None, None  # the step a warm restart began at, if any

    checkpoint = Path(checkpoint) if checkpoint is not None else None
    if checkpoint is not None and checkpoint.exists():
        ckpt = read_checkpoint(checkpoint)
        check_compatible(ckpt, base.config, checkpoint)
        base.load_state_dict(ckpt["state_dict"])
        history = ckpt.get("history", history)
        state = ckpt.get("training")
        if state is not None:
            optimizer.load_state_dict(state["optimizer"])
            start_epoch, start_batch = state["epoch"], state["batch"]
            if state.get("epochs", epochs) < epochs:
                extended_from = state["epochs"]
            elif state.get("epochs") == epochs:
                restart_step = state.get("restart_step")
        else:
            start_epoch = epochs  # a finished checkpoint without training state
        if rank == 0 and start_epoch < epochs:
            print(f"Resuming from {checkpoint}: epoch {start_epoch + 1}, batch {start_batch}.")
            if extended_from is not None and restart_warmup:
                print(f"Extending a {extended_from}-epoch run to {epochs} epochs: "
                      f"the learning rate warms up over {restart_warmup} steps.")
    for key, empty in new_history().items():
        history.setdefault(key, empty)  # runs saved before a field existed

    net = base
    if world > 1 and not isinstance(model, nn.parallel.DistributedDataParallel):
        net = nn.parallel.DistributedDataParallel(base)

    per_rank = len(train) // world
    steps_per_epoch = math.ceil(per_rank / batch_size)
    total_steps = steps_per_epoch * epochs
    if max_steps is not None:
        total_steps = min(total_steps, max_steps)
    step = start_epoch * steps_per_epoch + start_batch
    if extended_from is not None:
        restart_step = step

    def lr_at(step: int) -> float:
        value = lr
        if schedule == "cosine":
            value = lr * 0.5 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
        if restart_step is not None and restart_warmup:
            value *= min(1.0, (step - restart_step + 1) / restart_warmup)
        return value

    def save(epoch: int, batch: int, finished: bool):
        if checkpoint is None or rank != 0:
            return
        metrics = {"test_bpd": history["test_bpd"][-1]} if history["test_bpd"] else {}
        save_checkpoint(
            base,
            checkpoint,
            metrics=metrics,
            history=history,
            training={"epoch": epoch, "batch": batch, "finished": finished, "optimizer": optimizer.state_dict(),
                      "epochs": epochs, "lr": lr, "batch_size": batch_size * world, "seed": seed, "schedule": schedule,
                      "restart_step": restart_step, "precision": precision},
            **(metadata or {}),
        )

    last_save = time.time()
    for epoch in range(start_epoch, epochs):
        if step >= total_steps:
            break
        # The order of an epoch depends only on (seed, epoch): a resumed run sees the same batches.
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed * 1000 + epoch))
        order = order[: per_rank * world][rank::world]
        skip = start_batch if epoch == start_epoch else 0
        net.train()
        bar = tqdm(
            total=steps_per_epoch, initial=skip, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress or rank != 0, leave=True
        )
        epoch_nats, epoch_dims, t0, seen = 0.0, 0, time.time(), 0
        epoch_start = t0  # t0 moves at every periodic save; throughput is over the whole epoch
        for b, (x, y) in enumerate(_batches(train, batch_size, order[skip * batch_size :]), start=skip):
            if step >= total_steps:
                break
            for group in optimizer.param_groups:
                group["lr"] = lr_at(step)
            x = x.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16"):
                loss_nats = nll_nats(net, x, _labels_for(base, y.to(device))) / x.numel()
            optimizer.zero_grad(set_to_none=True)
            loss_nats.backward()
            optimizer.step()
            step += 1
            loss_bpd = loss_nats.item() / LN2
            history["step"].append(step)
            history["loss_bpd"].append(loss_bpd)
            history["lr"].append(optimizer.param_groups[0]["lr"])
            epoch_nats += loss_nats.item() * x.numel()
            epoch_dims += x.numel()
            seen += x.shape[0] * world
            bar.update(1)
            bar.set_postfix(loss=f"{loss_bpd:.3f} bpd")
            if checkpoint is not None and time.time() - last_save > checkpoint_every:
                history["seconds"] += time.time() - t0
                t0 = time.time()
                save(epoch, b + 1, finished=False)
                last_save = time.time()
        bar.close()
        elapsed = time.time() - t0
        history["seconds"] += elapsed
        history["epoch"].append(epoch + 1)
        history["train_bpd"].append(epoch_nats / max(epoch_dims, 1) / LN2)
        history["images_per_s"].append(seen / max(time.time() - epoch_start, 1e-9))
        if test is not None:
            if rank == 0:
                history["test_bpd"].append(bits_per_dim(base, test))
                if progress:
                    print(f"epoch {epoch + 1}: train {history['train_bpd'][-1]:.4f} bpd, test {history['test_bpd'][-1]:.4f} bpd")
            if world > 1:
                torch.distributed.barrier()
        finished = epoch + 1 >= epochs or step >= total_steps
        save(epoch + 1, 0, finished=finished)
        last_save = time.time()
    base.history = history
    return history


def train_or_load(
    preset: str,
    path=None,
    *,
    epochs: int = 10,
    lr: float = 1e-3,
    batch_size: int = 64,
    train=None,
    test=None,
    schedule: str = "constant",
    max_steps: int | None = None,
    **overrides,
) -> AutoregressiveModel:
    """Load the model of ``preset`` from ``path`` if it holds a finished matching run, otherwise train it there.

    path: default ``data/checkpoints/<preset>.pt`` (the shipped pretrained
    checkpoint). train/test: datasets (default: the preset's dataset, full
    splits). Unfinished runs at ``path`` resume. Returns the model in eval mode
    with ``.history`` and ``.metrics``.
    """
    config = preset_config(preset, **overrides)
    path = Path(path) if path is not None else CHECKPOINT_DIR / f"{preset}.pt"
    if path.exists():
        ckpt = read_checkpoint(path)
        check_compatible(ckpt, config, path)
        if ckpt.get("training") is None or ckpt["training"].get("finished"):
            print(f"Found pretrained {path.name} ({_describe(ckpt)}), loading.")
            return load_checkpoint(path, expect=config)
    from .data import load_dataset

    train = train if train is not None else load_dataset(config.dataset, "train", levels=config.levels)
    test = test if test is not None else load_dataset(config.dataset, "test", levels=config.levels)
    model = model_from_config(config)
    print(f"No finished checkpoint at {path}: training {preset} for {epochs} epoch(s).")
    fit(model, train, test, epochs=epochs, lr=lr, batch_size=batch_size, checkpoint=path, schedule=schedule, max_steps=max_steps,
        metadata={"preset": preset})
    return load_checkpoint(path, expect=config)


def _describe(ckpt: dict) -> str:
    metrics = ckpt.get("metrics", {})
    bpd = metrics.get("test_bpd")
    return f"test {bpd:.3f} bits/dim" if bpd is not None else "no test metric"
