"""What a student's home holds in the classroom: their own copy of the notebooks, and where the shared data is.

The hub calls :func:`copy_course` before it starts a student's server (a spawner's pre-spawn hook). On the
first login the student gets every learner notebook of ``notebooks/``; on later logins only notebooks the
course gained since then are added, and nothing the student already has is ever overwritten. Their own
parts (``my_pixelcnn/``, written by the ``%%mine`` cells) land beside their copy, so they stay theirs.

The datasets and the shipped checkpoints are never copied: :func:`course_environment` gives the variables
that point every student's kernel at the one shared folder of each.

This module uses the standard library only, so that the hub does not load torch to run it.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parent.parent
COURSE_NOTEBOOKS = REPO_DIR / "notebooks"
STUDENT_FOLDER = "notebooks"  # the student's copy: <home>/notebooks/, their parts in <home>/notebooks/my_pixelcnn/
# Usernames become folder names: lower-case letters, digits, '.', '_' and '-', not starting with a dot.
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,39}$"


class ClassroomError(ValueError):
    """A classroom setting or folder that cannot work, with what to do about it."""


def check_username(name: str) -> str:
    """``name`` if it is safe as a folder name (see ``USERNAME_PATTERN``); a ClassroomError otherwise."""
    if not re.fullmatch(USERNAME_PATTERN, name):
        raise ClassroomError(
            f"username {name!r} cannot name a home folder: use lower-case letters, digits, '.', '_' or '-' "
            "(40 at most, not starting with '.')"
        )
    return name


def copy_course(
    home: str | Path, source: str | Path = COURSE_NOTEBOOKS, owner: tuple[int, int] | None = None
) -> list[str]:
    """Give a student the course's learner notebooks, never touching what they already have.

    Args:
        home: the student's home folder (made if missing).
        source: the folder of learner notebooks (``notebooks/`` of the course).
        owner: ``(uid, gid)`` that should own the new folder and files, when the hub copies as root
            for a student who is a user of the machine; None leaves them to the hub's own user.

    Returns:
        the names of the notebooks copied now, sorted: all of them on the first login, the course's new
        ones on a later login, none when the student has them all (edited or not).
    """
    source = Path(source)
    notebooks = sorted(source.glob("*.ipynb"))
    if not notebooks:
        raise ClassroomError(f"no learner notebooks (*.ipynb) in {source}: run the classroom from the course folder")
    target = Path(home) / STUDENT_FOLDER
    for folder in (Path(home), target):
        if not folder.is_dir():
            folder.mkdir(mode=0o755, parents=True, exist_ok=True)
            _give(folder, owner)
    copied = []
    for notebook in notebooks:
        if _copy_new(notebook, target / notebook.name, owner):
            copied.append(notebook.name)
    return copied


def _copy_new(source: Path, path: Path, owner: tuple[int, int] | None) -> bool:
    """Copy ``source`` to ``path`` only if ``path`` does not exist; readers never see half a file."""
    if path.exists():
        return False
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out)
        os.chmod(temp, 0o644)
        _give(Path(temp), owner)
        # A hard link fails where the name exists, so a notebook the student saved meanwhile stays theirs.
        os.link(temp, path)
    except FileExistsError:
        return False
    finally:
        os.unlink(temp)
    return True


def _give(path: Path, owner: tuple[int, int] | None) -> None:
    if owner is not None:
        os.chown(path, *owner)


def course_folders(repo: str | Path = REPO_DIR) -> tuple[Path, Path]:
    """The course's data and checkpoint folders, as ``pixelcourse.settings`` defines them.

    ``settings.py`` is read on its own, without importing the package (and torch) into the hub.
    """
    spec = importlib.util.spec_from_file_location("_pixelcourse_settings", Path(repo) / "pixelcourse" / "settings.py")
    settings = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(settings)
    return Path(settings.DATA_DIR), Path(settings.CHECKPOINT_DIR)


def course_environment(data: str | Path, checkpoints: str | Path) -> dict[str, str]:
    """The variables that point a student's kernel at the shared datasets and checkpoints.

    A missing folder is an error here, at the hub's start, rather than in every student's notebook.
    """
    for what, folder, fix in (
        ("datasets", Path(data), "run `bash tools/setup.sh` (it fetches them) or set PIXELCOURSE_DATA"),
        ("checkpoints", Path(checkpoints), "set PIXELCOURSE_CHECKPOINTS to the folder of the shipped *.pt files"),
    ):
        if not folder.is_dir():
            raise ClassroomError(f"the shared {what} folder {folder} does not exist: {fix}")
    return {"PIXELCOURSE_DATA": str(Path(data).resolve()), "PIXELCOURSE_CHECKPOINTS": str(Path(checkpoints).resolve())}
