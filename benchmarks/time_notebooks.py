"""Time the course notebooks against their budgets and print the figures.

    python benchmarks/time_notebooks.py              # both measurements
    python benchmarks/time_notebooks.py --quick      # only nbval in quick mode
    python benchmarks/time_notebooks.py --full 03 05 # only the full runs of some notebooks

1. nbval over solutions/ (strict) and notebooks/ (lax) in quick mode (PIXELCOURSE_QUICK=1),
   as CI runs them; budget 6 minutes for both folders together. The learner notebooks
   fail on their open exercises by design, so only the time is reported for them.
2. Every solution notebook executed top to bottom in full mode (no quick mode),
   on a copy, so the committed outputs stay as they are; budget 10 minutes each,
   with the pretrained checkpoints present.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUICK_BUDGET_S = 6 * 60
FULL_BUDGET_S = 10 * 60


def _env(quick: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    if quick:
        env["PIXELCOURSE_QUICK"] = "1"
    else:
        env.pop("PIXELCOURSE_QUICK", None)
    return env


def nbval_time(folder: str) -> tuple[float, str]:
    """Seconds for nbval over ``folder`` in quick mode, and pytest's summary line.

    solutions/ runs as CI runs it (strict nbval, from pyproject's addopts); notebooks/ in lax mode,
    since the learner versions fail on their open exercises by design.
    """
    mode = [] if folder == "solutions" else ["-o", "addopts=", "--nbval-lax", "--nbval-current-env", "-p", "no:cacheprovider"]
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", *mode, "-q", folder],
        cwd=REPO, env=_env(quick=True), capture_output=True, text=True,
    )
    seconds = time.perf_counter() - start
    lines = [line for line in result.stdout.strip().splitlines() if line.strip()]
    return seconds, (lines[-1] if lines else result.stderr.strip()[-200:])


def full_run_time(notebook: Path) -> tuple[float, bool]:
    """Seconds to execute a copy of ``notebook`` in full mode (from its own folder), and whether it ran clean."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / notebook.name
        shutil.copy(notebook, copy)
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute", "--inplace",
             "--ExecutePreprocessor.timeout=-1", f"--ExecutePreprocessor.cwd={notebook.parent}", str(copy)],
            cwd=REPO, env=_env(quick=False), capture_output=True, text=True,
        )
        return time.perf_counter() - start, result.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only time nbval in quick mode")
    parser.add_argument("--full", nargs="*", metavar="NN", help="only time full runs (of these notebook numbers)")
    args = parser.parse_args(argv)
    do_quick = args.quick or args.full is None
    do_full = args.full is not None or not args.quick

    print(f"machine: {os.cpu_count()} CPU cores")
    if do_quick:
        print("\nnbval in quick mode (PIXELCOURSE_QUICK=1)")
        total = 0.0
        for folder in ("solutions", "notebooks"):
            seconds, summary = nbval_time(folder)
            total += seconds
            print(f"  {folder + '/':<11} {seconds:6.1f} s   ({summary})")
        verdict = "within" if total <= QUICK_BUDGET_S else "OVER"
        print(f"  {'both':<11} {total:6.1f} s   {verdict} the budget of {QUICK_BUDGET_S / 60:.0f} min")
    if do_full:
        wanted = args.full or []
        notebooks = [p for p in sorted((REPO / "solutions").glob("*.ipynb")) if not wanted or p.name[:2] in wanted]
        print("\nfull runs (solutions/, executed on a copy)")
        for notebook in notebooks:
            seconds, ok = full_run_time(notebook)
            verdict = "ok" if seconds <= FULL_BUDGET_S else "OVER the 10 min budget"
            print(f"  {notebook.name:<32} {seconds:7.1f} s  {'' if ok else 'FAILED  '}{verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
