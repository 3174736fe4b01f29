"""One place for the course's folders and its quick-mode switch."""

from __future__ import annotations

import os
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent

# Datasets are downloaded here (ignored by git).
DATA_DIR = Path(os.environ.get("PIXELCOURSE_DATA", REPO_DIR / "data")).resolve()
# The pretrained checkpoints shipped with the course (committed, with a manifest).
CHECKPOINT_DIR = Path(
    os.environ.get("PIXELCOURSE_CHECKPOINTS", REPO_DIR / "data" / "checkpoints")
).resolve()


def quick() -> bool:
    """True when ``PIXELCOURSE_QUICK=1``: notebooks and CI shrink epochs and data subsets."""
    return os.environ.get("PIXELCOURSE_QUICK", "0") not in ("", "0", "false", "False")


def quick_or(full, quick_value):
    """``full`` normally, ``quick_value`` in quick mode. Only numbers change, never code paths."""
    return quick_value if quick() else full
