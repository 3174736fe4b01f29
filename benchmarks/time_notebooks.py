"""Time the course notebooks against their budgets and print the figures.

    python benchmarks/time_notebooks.py              # both measurements
    python benchmarks/time_notebooks.py --quick      # only nbval in quick mode
    python benchmarks/time_notebooks.py --full 03 05 # only the full runs of some notebooks
    python benchmarks/time_notebooks.py --full --folder notebooks   # Run All of the learner notebooks

1. nbval over solutions/ (strict) and notebooks/ (lax) in quick mode (PIXELCOURSE_QUICK=1),
   as CI runs them; budget 6 minutes for both folders together. The learner notebooks
   fail on their open exercises by design, so only the time is reported for them.
2. Every notebook of --folder (solutions/, or notebooks/ as a learner gets them, exercises open)
   executed top to bottom in full mode (no quick mode) in a fresh kernel, as Run All does: on a
   copy, so the committed outputs stay as they are, and with the learner's parts and training run
   in a temporary folder shared by the notebooks of the run (PIXELCOURSE_PARTS_DIR), so that
   nobody's my_pixelcnn/ is touched. A cell that raises stops the run, as it stops Run All in
   JupyterLab; the script names it. Budget: 3 minutes a notebook, with the pretrained checkpoints present.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pixelcourse.machine import cpu_name  # the CPU's model name as lscpu prints it

REPO = Path(__file__).resolve().parent.parent
QUICK_BUDGET_S = 6 * 60
FULL_BUDGET_S = 3 * 60


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


def full_run_time(notebook: Path, parts: Path) -> tuple[float, str, list[tuple[float, str]]]:
    """Seconds to execute a copy of ``notebook`` in full mode from its own folder, "" or the error that
    stopped it, and the three slowest cells as (seconds, cell id)."""
    import nbclient
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    env = {**_env(quick=False), "PIXELCOURSE_PARTS_DIR": str(parts)}
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    start = time.perf_counter()
    try:
        nbclient.NotebookClient(nb, timeout=None, kernel_name="python3",
                                resources={"metadata": {"path": str(notebook.parent)}}).execute()
        error = ""
    except nbclient.exceptions.CellExecutionError as err:
        error = f"stopped: {err.ename}: {err.evalue}"[:300]
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return time.perf_counter() - start, error, _slowest_cells(nb)


def _slowest_cells(nb, count: int = 3) -> list[tuple[float, str]]:
    """The cells that took longest, from the timings nbclient records in each cell's metadata."""
    from datetime import datetime

    times = []
    for cell in nb.cells:
        timing = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in timing and "shell.execute_reply" in timing:
            began, ended = (datetime.fromisoformat(timing[k].replace("Z", "+00:00"))
                            for k in ("iopub.execute_input", "shell.execute_reply"))
            times.append(((ended - began).total_seconds(), cell.get("id", "?")))
    return sorted(times, reverse=True)[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="only time nbval in quick mode")
    parser.add_argument("--full", nargs="*", metavar="NN", help="only time full runs (of these notebook numbers)")
    parser.add_argument("--folder", choices=["solutions", "notebooks"], default="solutions",
                        help="the full runs' notebooks: solved, or the learner versions with their exercises open")
    args = parser.parse_args(argv)
    do_quick = args.quick or args.full is None
    do_full = args.full is not None or not args.quick

    print(f"machine: {cpu_name()}, {os.cpu_count()} CPU cores")
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
        notebooks = [p for p in sorted((REPO / args.folder).glob("*.ipynb")) if not wanted or p.name[:2] in wanted]
        print(f"\nfull runs ({args.folder}/, executed on a copy, a fresh kernel each)")
        total = 0.0
        with tempfile.TemporaryDirectory() as parts:
            for notebook in notebooks:
                seconds, error, slowest = full_run_time(notebook, Path(parts) / "my_pixelcnn")
                total += seconds
                verdict = "ok" if seconds <= FULL_BUDGET_S else f"OVER the {FULL_BUDGET_S // 60} min budget"
                cells = ", ".join(f"{cell} {t:.0f} s" for t, cell in slowest)
                print(f"  {notebook.name:<32} {seconds:7.1f} s  {verdict}{'  ' + error if error else ''}"
                      f"  (slowest cells: {cells})", flush=True)
        print(f"  {'all':<32} {total:7.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
