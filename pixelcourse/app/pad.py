"""What the app's page shows: the drawing pad of notebook 09 with the shipped MNIST checkpoints."""

from __future__ import annotations

from pathlib import Path

from ..checkpoints import CheckpointError, load_pretrained
from ..settings import CHECKPOINT_DIR
from ..widget import DrawPad

# Label in the pad's model menu -> shipped checkpoint (data/checkpoints/manifest.json).
MODELS = {"MNIST, 256 levels": "mnist", "MNIST, binarised": "mnist_binary"}


def load_models(directory: str | Path | None = None) -> dict:
    """The pad's models {label: model}, loaded from the shipped checkpoints after their sha256 check.

    directory: the checkpoint folder (default: ``pixelcourse.CHECKPOINT_DIR``).
    Raises CheckpointError that names the missing or damaged file and how to get it back.
    """
    directory = Path(directory or CHECKPOINT_DIR)
    models = {}
    for label, name in MODELS.items():
        try:
            models[label] = load_pretrained(name, directory)
        except CheckpointError as err:
            raise CheckpointError(
                f"The drawing pad needs the shipped checkpoints {' and '.join(MODELS.values())} in {directory}. {err}\n"
                "They are committed with the course in data/checkpoints/: run the app from a clone of the course "
                "(installed with `bash tools/setup.sh`), restore the files with `git checkout -- data/checkpoints`, "
                "or point the environment variable PIXELCOURSE_CHECKPOINTS at a folder that holds them."
            ) from err
    return models


def make_pad() -> DrawPad:
    """The app's pad: the shipped models of ``load_models()``, four completions side by side."""
    return DrawPad(load_models())
