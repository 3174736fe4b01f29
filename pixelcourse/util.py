"""Small helpers the rest of the package shares: an atomic write, eval mode, a model's device, unwrapping.

Each job has one helper here, imported where it is needed. This module
imports nothing else from the package, so any module may use it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import torch
from torch import nn


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None], mode: int = 0o644) -> Path:
    """Write a file so that readers see the old file or the whole new one, never a part.

    ``write(file)`` fills a temporary file in the same folder, which is renamed
    over ``path`` only when it is complete. On any failure (Ctrl-C included) the
    temporary file is removed and ``path`` is left as it was. Returns the path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            write(file)
        os.chmod(temp, mode)  # mkstemp makes the file private; data and checkpoint folders may be shared
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    return path


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``with eval_mode(model):`` runs the block in eval mode and restores the mode the model had."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def model_device(model: nn.Module) -> torch.device:
    """The device that holds the model's parameters."""
    return next(model.parameters()).device


def unwrap(model: nn.Module) -> nn.Module:
    """The model itself, out of a DistributedDataParallel wrapper if it is in one."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model
