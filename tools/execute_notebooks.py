"""Execute solution notebooks in full (no quick mode), in place, and regenerate notebooks/.

The committed outputs of solutions/ come from such a full run of the current code, from scratch: the
learner's training run that notebook 03 writes (and 06 samples) is removed before 03 runs, or 03 would resume it;
CI then compares every text output with strict nbval in quick mode (cells marked
``# NBVAL_IGNORE_OUTPUT`` excepted).

    python tools/execute_notebooks.py 03 05     # solutions/03_*.ipynb and solutions/05_*.ipynb
    python tools/execute_notebooks.py all
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"


def execute(path: Path) -> float:
    """Run ``path`` top to bottom from its own folder and write it back; returns the seconds taken.

    The kernel inherits this process's environment: ``main`` sets it up once (full mode, this repository first).
    """
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=None, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("numbers", nargs="+", help='notebook numbers such as 03, or "all"')
    args = parser.parse_args(argv)
    os.environ.pop("PIXELCOURSE_QUICK", None)
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    paths = sorted(SOLUTIONS.glob("*.ipynb"))
    if args.numbers != ["all"]:
        paths = [p for p in paths if p.name[:2] in args.numbers]
    if not paths:
        print(f"No solution notebooks match {args.numbers}.", file=sys.stderr)
        return 2
    if any(p.name.startswith("03") for p in paths):  # notebook 03 resumes its training run: start it afresh
        for stale in sorted((SOLUTIONS / "my_pixelcnn").glob("*.pt")):
            stale.unlink()
    for path in paths:
        print(f"{path.name}: {execute(path):.0f} s", flush=True)
    return subprocess.call([sys.executable, str(REPO / "tools" / "make_notebooks.py")])


if __name__ == "__main__":
    sys.exit(main())
