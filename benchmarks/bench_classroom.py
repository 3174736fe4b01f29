"""Memory of the classroom per logged-in student: the hub, its proxy, each student's server and kernel.

    python benchmarks/bench_classroom.py                 # 3 students
    python benchmarks/bench_classroom.py --students 5

Starts the course's JupyterHub (``classroom/jupyterhub_config.py``) on free ports of 127.0.0.1 with a state
folder of its own, logs the students in through the login form, and in each student's kernel runs the first
code cells of notebook 01 as the learner has them (the versions, the imports, the raster-order figure, the
16 images, the first exercise still open and its check). Then it prints the memory of every process: RSS
(resident), PSS (shared pages split among the processes that share them) and USS (pages of this process
only: what a student who leaves gives back). The sum of PSS over all processes is what the class takes.
Stops the hub and everything it started before it exits.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from classroom.local_hub import LocalHub, Memory  # noqa: E402
from classroom.student import Student  # noqa: E402
from bench_app import cpu_name  # noqa: E402  (the lscpu model name and logical CPUs)

PASSWORD = "bench-classroom"
NOTEBOOK = "notebooks/01_masked_convolutions.ipynb"
FIRST_CELLS = 6  # code cells of notebook 01: versions, imports, raster order, 16 images, exercise 1, its check
MIB = 2**20


def machine() -> str:
    """The CPU (bench_app's lscpu reading), its logical CPUs and the machine's memory."""
    return f"{cpu_name()}, {psutil.virtual_memory().total / 2**30:.0f} GiB"


def run_first_cells(student: Student) -> float:
    """Run notebook 01's first code cells in a new kernel of the student; returns the seconds it took."""
    notebook = student.read_notebook(NOTEBOOK)
    code = [c["source"] for c in notebook["cells"] if c["cell_type"] == "code"][:FIRST_CELLS]
    kernel = student.start_kernel("notebooks")
    start = time.perf_counter()
    for source in code:
        done = student.run(kernel, source if isinstance(source, str) else "".join(source))
        if done.error and "NotImplementedError" not in done.error:
            raise RuntimeError(f"{student.name}: a cell of notebook 01 failed: {done.error}")
    return time.perf_counter() - start


def mib(value: int | None) -> str:
    return "—" if value is None else f"{value / MIB:,.0f}"


def print_table(roles: dict[str, list[tuple[psutil.Process, Memory]]], students: int) -> None:
    print("\n| process | RSS MiB | PSS MiB | USS MiB |")
    print("|---|---:|---:|---:|")
    totals = {"rss": 0, "pss": 0, "uss": 0}
    for role, processes in roles.items():
        for _, memory in processes:
            print(f"| {role} | {mib(memory.rss)} | {mib(memory.pss)} | {mib(memory.uss)} |")
            for key in totals:
                totals[key] += getattr(memory, key) or 0
    print(f"| all {sum(len(p) for p in roles.values())} processes | {mib(totals['rss'])} | {mib(totals['pss'])} | "
          f"{mib(totals['uss'])} |")
    for kind in ("server", "kernels"):
        rows = [m for role, ps in roles.items() if role.startswith(kind) for _, m in ps]
        if rows:
            means = [sum(getattr(m, key) or 0 for m in rows) / students for key in ("rss", "pss", "uss")]
            print(f"per student, {kind}: RSS {mib(means[0])}, PSS {mib(means[1])}, USS {mib(means[2])} MiB")
    shared = sum(m.pss or 0 for role in ("hub", "proxy") for _, m in roles.get(role, []))
    print(f"hub + proxy (once per class): PSS {mib(shared)} MiB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=3, help="students who log in (default 3)")
    args = parser.parse_args(argv)
    print(f"CPU: {machine()}; {args.students} students; torch threads per kernel: "
          f"{os.environ.get('OMP_NUM_THREADS', 'default')}")
    with tempfile.TemporaryDirectory(prefix="bench-classroom-") as state, LocalHub(state, PASSWORD) as hub:
        for i in range(args.students):
            student = Student(hub.url, f"student{i + 1}", PASSWORD)
            start = time.perf_counter()
            student.log_in()
            student.start_server()
            login = time.perf_counter() - start
            cells = run_first_cells(student)
            print(f"{student.name}: logged in and server ready in {login:.1f} s, first cells of notebook 01 in {cells:.1f} s")
            student.close()
        print_table(hub.processes(), args.students)


if __name__ == "__main__":
    main()
