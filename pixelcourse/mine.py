"""Your parts: what you write in the exercises, kept so that later notebooks build your models from it.

An exercise cell that begins with ``%%mine`` (after ``%load_ext pixelcourse.mine``) runs as usual and is
also saved as a small Python file, ``my_pixelcnn/<Name>.py`` beside the notebook, one file per class or
function the cell defines. A later notebook asks for it by name::

    MyResidualBlock = pixelcourse.mine.use("MyResidualBlock")

``use`` loads your file, runs the exercise's own check on it quietly and returns your part if it passes.
Where the exercise is still open (or its check fails, or the file is missing), the package's reference
fills in, and ``use`` says so in one line. A part that needs an earlier one (your residual block needs
your masked convolution) gets it the same way when its file is loaded.

``PIXELCOURSE_PARTS_DIR`` moves the folder (the tests use it, so they never touch a learner's files).
"""

from __future__ import annotations

import ast
import builtins
import importlib
import importlib.util
import os
import sys
import types
from dataclasses import dataclass
from pathlib import Path

from .util import atomic_write

FOLDER = "my_pixelcnn"
HEADER = '''# Your {name}, from notebook {notebook}: saved by its %%mine cell. Edit it in the notebook and run the cell again.
import math

import torch
import torch.nn.functional as F
from torch import nn

import pixelcourse
from pixelcourse.mine import use
'''
HEADER_NAMES = {"math", "torch", "F", "nn", "pixelcourse", "use"}  # what HEADER imports


@dataclass(frozen=True)
class Part:
    """One part a learner writes: the notebook it is written in, its check, and the package's reference."""

    notebook: str
    check: str | None  # the name of its check in pixelcourse.checks (None: given code, nothing to check)
    reference: str  # "module:attribute" of the package's reference with the same contract


PARTS: dict[str, Part] = {
    "masked_conv2d": Part("01", "check_masked_conv", "pixelcourse.masks:masked_conv2d"),
    "MyMaskedConv2d": Part("02", None, "pixelcourse.masks:MaskedConv2d"),
    "MyResidualBlock": Part("02", "check_residual_block", "pixelcourse.layers:ResidualBlock"),
    "MyPixelCNN": Part("02", "check_pixelcnn", "pixelcourse.models:PixelCNN"),
    "training_step": Part("03", "check_training_step", "pixelcourse.checks.ch03_training:_reference_step"),
    "train_loop": Part("03", "check_train_loop", "pixelcourse.checks.ch03_training:reference_loop"),
    "vertical_conv2d": Part("04", "check_vertical_conv", "pixelcourse.layers:vertical_conv2d"),
    "MyVerticalConv2d": Part("04", None, "pixelcourse.layers:VerticalConv2d"),
    "MyGatedBlock": Part("04", "check_gated_block", "pixelcourse.layers:GatedBlock"),
    "MyGatedPixelCNN": Part("04", "check_gated_pixelcnn", "pixelcourse.models:GatedPixelCNN"),
}

_loaded: dict[str, tuple[float, object, str]] = {}  # name -> (file time, the part, how it was chosen)


def parts_dir() -> Path:
    """The folder of your parts: ``my_pixelcnn/`` in the working directory (the notebook's folder)."""
    return Path(os.environ.get("PIXELCOURSE_PARTS_DIR") or Path.cwd() / FOLDER)


def _reference(name: str):
    module, _, attribute = PARTS[name].reference.partition(":")
    return getattr(importlib.import_module(module), attribute)


def defined_names(source: str) -> list[str]:
    """The parts a cell defines: its top-level classes and functions that are in PARTS, in order."""
    tree = ast.parse(source)
    return [node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in PARTS]


def needed_names(source: str, defined: list[str]) -> list[str]:
    """The earlier parts a cell uses: names it reads that are parts it does not define itself."""
    used = {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}
    return sorted(name for name in used & set(PARTS) if name not in defined)


def _notebook_imports(namespace: dict) -> dict[str, str]:
    """name -> the import statement that bound it, from the cells the notebook ran (IPython's ``In``)."""
    found = {}
    for cell in namespace.get("In", []):
        try:
            tree = ast.parse(cell)
        except SyntaxError:
            continue
        for node in tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, "level", 0) == 0:
                for alias in node.names:
                    one = type(node)(**{**node.__dict__, "names": [alias]})
                    found[alias.asname or alias.name.split(".")[0]] = ast.unparse(one)
    return found


def import_lines(source: str, namespace: dict) -> list[str]:
    """Imports for the modules, classes and functions a cell reads from the notebook's ``namespace``.

    A part saved to its own file must not depend on the notebook having run ``import time`` earlier:
    each name the cell reads but does not bind and that the notebook imported (or holds as a module, or
    as an importable class or function) becomes an import line of the file. Anything else (a tensor, a
    number) is not carried over, so the part's file fails to load and ``use`` says which name is missing.
    """
    tree = ast.parse(source)
    bound = {node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    read = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    imported = _notebook_imports(namespace)
    lines = []
    for name in sorted(read - bound - set(PARTS) - HEADER_NAMES - set(dir(builtins))):
        value = namespace.get(name)
        if name in imported and name in namespace:
            lines.append(imported[name])
        elif isinstance(value, types.ModuleType):
            lines.append(f"import {value.__name__}" + ("" if value.__name__ == name else f" as {name}"))
        elif _importable(value):
            qualname = value.__qualname__
            lines.append(f"from {value.__module__} import {qualname}" + ("" if qualname == name else f" as {name}"))
    return lines


def _importable(value) -> bool:
    """True if ``value`` is a class or function that ``from value.__module__ import value.__qualname__`` gives back."""
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", "")
    if not module or module == "__main__" or "." in qualname or not callable(value):
        return False
    try:
        return getattr(importlib.import_module(module), qualname) is value
    except (ImportError, AttributeError):
        return False


def save(source: str, folder: Path | None = None, namespace: dict | None = None) -> list[Path]:
    """Write every part that ``source`` defines to its file (atomically); returns the paths written.

    namespace: the notebook's variables (the cell magic passes them), for the imports the cell relies on.
    """
    folder = folder or parts_dir()
    defined = defined_names(source)
    needs = needed_names(source, defined)
    imports = import_lines(source, namespace or {})
    paths = []
    for name in defined:
        lines = [HEADER.format(name=name, notebook=PARTS[name].notebook)]
        if imports:
            lines += ["# imported in the notebook before this cell"] + imports + [""]
        lines += [f'{need} = use("{need}", quiet=True)  # yours, or the reference if yours is not ready' for need in needs]
        text = "\n".join(lines) + "\n\n" + source.strip() + "\n"
        paths.append(atomic_write(folder / f"{name}.py", lambda file, text=text: file.write(text.encode())))
    return paths


def _load_file(name: str, path: Path):
    """Import ``path`` as its own module and return its ``name``; raises whatever the file raises."""
    spec = importlib.util.spec_from_file_location(f"{FOLDER}.{name}", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return getattr(module, name)


def choose(name: str):
    """(part, line): your part if its file loads and passes its check, else the reference; and why."""
    if name not in PARTS:
        raise KeyError(f"No part named {name!r}; the parts are {', '.join(PARTS)}.")
    from .checks import PASSED, evaluate  # the checks build on the whole package: imported when needed

    part, path = PARTS[name], parts_dir() / f"{name}.py"
    reference = f"the package's reference ({part.reference.replace(':', '.')})"
    if not path.exists():
        return _reference(name), f"{name}: {reference}; yours is not saved yet (run its %%mine cell in notebook {part.notebook})"
    try:
        mine = _load_file(name, path)
    except Exception as err:  # the learner's file: any error, reported in one line
        return _reference(name), f"{name}: {reference}; your file {FOLDER}/{name}.py fails to load ({type(err).__name__}: {err})"
    if part.check is None:
        return mine, f"{name}: yours, from notebook {part.notebook}"
    status, line = evaluate(part.check, mine)
    if status == PASSED:
        return mine, f"{name}: yours, from notebook {part.notebook} (its check passes)"
    return _reference(name), f"{name}: {reference}, since your check says: {line}"


def use(*names: str, quiet: bool = False):
    """Your parts by name (one name: the part; several: a tuple), each checked, with the reference where yours is not ready.

    Prints one line per part saying whose it is, unless ``quiet``.
    """
    chosen = []
    for name in names:
        path = parts_dir() / f"{name}.py"
        stamp = path.stat().st_mtime if path.exists() else -1.0
        if name not in _loaded or _loaded[name][0] != stamp:
            _loaded[name] = (stamp, *choose(name))
        _, part, line = _loaded[name]
        if not quiet:
            print(line)
        chosen.append(part)
    return chosen[0] if len(chosen) == 1 else tuple(chosen)


def mine(line: str, cell: str) -> None:
    """The ``%%mine`` cell magic: run the cell, then save the parts it defines (only if it ran without error)."""
    from IPython import get_ipython

    ipython = get_ipython()
    result = ipython.run_cell(cell)
    if result.success:
        save(cell, namespace=ipython.user_ns)


def load_ipython_extension(ipython) -> None:
    """``%load_ext pixelcourse.mine`` registers the ``%%mine`` cell magic."""
    ipython.register_magic_function(mine, magic_kind="cell", magic_name="mine")


def run_path() -> Path:
    """Where notebook 03 keeps the training run of your PixelCNN (notebook 06 samples from it)."""
    return parts_dir() / "my_pixelcnn.pt"


def load_model(model_class, path: Path | None = None):
    """Your model class with the weights of a training checkpoint (default: your run from notebook 03).

    Builds ``model_class(config)`` with the config stored in the checkpoint and loads its weights; the
    model comes back in eval mode with ``.history`` and ``.metrics`` from the checkpoint.
    """
    from .checkpoints import read_checkpoint
    from .models import PixelCNNConfig

    path = Path(path) if path is not None else run_path()
    ckpt = read_checkpoint(path)
    model = model_class(PixelCNNConfig(**ckpt["config"]))
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"{path} holds weights of another architecture than {model_class.__name__}: "
                         f"{str(err).splitlines()[0]}") from None
    model.history, model.metrics = ckpt.get("history", {}), ckpt.get("metrics", {})
    return model.eval()
