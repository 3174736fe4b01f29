"""The app's models: one copy of each shipped MNIST checkpoint, shared by every user of the server.

``MODELS`` is the list the model menu is made of. A checkpoint marked
``required`` must be there; any other is offered when the manifest lists it, so
adding a model to the app is one line. The default is the 256-level model with
the lowest test bits/dim that the manifest records.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from ..checkpoints import CheckpointError, load_pretrained, read_manifest
from ..settings import CHECKPOINT_DIR
from ..widget import check_models


class ModelEntry(NamedTuple):
    """One line of the model menu."""

    label: str  # what the menu shows
    checkpoint: str  # its name in data/checkpoints/manifest.json
    required: bool = False  # True: the app does not start without it


MODELS = (
    ModelEntry("MNIST, 256 levels", "mnist", required=True),
    ModelEntry("MNIST, binarised", "mnist_binary", required=True),
    ModelEntry("MNIST, gated, 256 levels", "mnist_gated"),
)


def missing_message(directory: Path, err: Exception, entries=MODELS) -> str:
    """What to do when a required checkpoint is missing or damaged."""
    required = " and ".join(entry.checkpoint for entry in entries if entry.required)
    return (
        f"The drawing pad needs the shipped checkpoints {required} in {directory}. {err}\n"
        "They are committed with the course in data/checkpoints/: run the app from a clone of the course "
        "(installed with `bash tools/setup.sh`), restore the files with `git checkout -- data/checkpoints`, "
        "or point the environment variable PIXELCOURSE_CHECKPOINTS at a folder that holds them."
    )


def load_models(directory: str | Path | None = None, entries=MODELS) -> dict:
    """The app's models {label: model}, loaded once from the checkpoints after their sha256 check.

    directory: the checkpoint folder (default: ``pixelcourse.CHECKPOINT_DIR``); entries: the menu.
    Raises CheckpointError that names the missing or damaged file and how to get it back.
    """
    directory = Path(directory or CHECKPOINT_DIR)
    try:
        listed = read_manifest(directory)
    except (OSError, ValueError):
        listed = {}
    models = {}
    for entry in entries:
        if not entry.required and entry.checkpoint not in listed:
            continue
        try:
            models[entry.label] = load_pretrained(entry.checkpoint, directory)
        except CheckpointError as err:
            raise CheckpointError(missing_message(directory, err, entries)) from err
    return check_models(models)


def default_model(models: dict, directory: str | Path | None = None, entries=MODELS) -> str:
    """The label of the best 256-level model of ``models``: the lowest test bits/dim in the manifest."""
    by_label = {entry.label: entry.checkpoint for entry in entries}
    try:
        manifest = read_manifest(Path(directory or CHECKPOINT_DIR))
    except (OSError, ValueError):
        manifest = {}

    def bits(label: str) -> float:
        return manifest.get(by_label.get(label), {}).get("test_bits_per_dim", float("inf"))

    full = [label for label, model in models.items() if model.config.levels == 256] or list(models)
    return min(full, key=bits)  # min keeps the first of equals: the menu's order
