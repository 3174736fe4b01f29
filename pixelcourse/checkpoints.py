"""Checkpoints and the manifest of the shipped ones (notebooks 03-09; ``tools/publish_pretrained.py``).

A checkpoint is a plain dict that ``torch.load(weights_only=True)`` can read:
weights, config, dataset, levels, metrics, history and a format version; a
training checkpoint also carries the optimizer, the training settings and the
position in the run, so that ``fit`` resumes exactly where a killed process
stopped. The manifest pins every shipped checkpoint by its sha256 (like d2l's
``DATA_HUB``): ``write_manifest`` records a file, ``load_pretrained`` checks it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import zipfile
from pathlib import Path

import torch

from .models import AutoregressiveModel, PixelCNNConfig, model_from_config
from .settings import CHECKPOINT_DIR
from .util import atomic_write, unwrap

FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: corrupt, of another format, or for another model or dataset."""


def save_checkpoint(model: AutoregressiveModel, path, **metadata) -> Path:
    """Save weights, config, dataset, levels and any metadata (metrics=..., history=...) atomically.

    Returns the path. Load it with ``load_checkpoint``.
    """
    model = unwrap(model)
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
    return atomic_write(path, lambda file: torch.save(ckpt, file))


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
    """The hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(directory=None) -> dict:
    """The manifest of the shipped pretrained checkpoints: name -> entry (file, sha256, metrics, ...)."""
    path = Path(directory or CHECKPOINT_DIR) / MANIFEST
    return json.loads(path.read_text()) if path.exists() else {}


def write_manifest(name: str, checkpoint, directory=None, **fields) -> dict:
    """Record the checkpoint file ``checkpoint`` as the shipped model ``name``; returns its entry.

    The entry pins the file (name, sha256, size in bytes) and keeps any
    ``fields`` (metrics, training settings) beside it. The other entries stay;
    the manifest is rewritten atomically, with sorted keys so that diffs are small.
    """
    directory = Path(directory or CHECKPOINT_DIR)
    checkpoint = Path(checkpoint)
    if checkpoint.resolve().parent != directory.resolve():
        raise ValueError(f"{checkpoint} is not in {directory}: save the checkpoint there first, the manifest names files in its folder.")
    manifest = read_manifest(directory)
    manifest[name] = {"file": checkpoint.name, "sha256": sha256_file(checkpoint), "size_bytes": checkpoint.stat().st_size, **fields}
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    atomic_write(directory / MANIFEST, lambda file: file.write(text.encode()))
    return manifest[name]


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
