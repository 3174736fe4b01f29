"""``python -m pixelcourse.grade SUBMISSION... [--out report]``: grade learner notebooks into a report.

Exit status: 0 when the report was written, whatever the grades; 2 for a usage error (no submission found,
a path that does not exist, a bad option, ``--isolation sealed`` where sealing is not possible); 1 when the
grader could not do its job (the course's notebooks missing, the report folder not writable).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

from .exercises import CourseError, load_course
from .report import label, terminal_summary, write_report
from .run import Graded, Limits, grade_all
from .sandbox import Isolation, isolation
from .submission import read_submission


def say(text: str) -> None:
    """Print to the terminal; if its reader went away (``... | head``), go on grading silently."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


class UsageError(ValueError):
    """The command line asks for something the grader cannot do; the message says what to give instead."""


def find_submissions(paths: list[str]) -> list[Path]:
    """The files to grade: each file as given, and every *.ipynb under each folder (checkpoints skipped)."""
    found: dict[Path, Path] = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            notebooks = sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and p.is_file())
            if not notebooks:
                raise UsageError(f"no notebooks (*.ipynb) in the folder {given}")
            found.update((p.resolve(), p) for p in notebooks)
        elif path.is_file():
            found.setdefault(path.resolve(), path)
        else:
            raise UsageError(f"{given}: no such file or folder")
    if not found:
        raise UsageError("no submissions given: name learner notebooks (.ipynb) or folders that hold them")
    return list(found.values())


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text} must be above 0")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m pixelcourse.grade", description="Grade learner notebooks into a report.",
                                epilog=__doc__.split("\n\n")[1])
    p.add_argument("submissions", nargs="+", metavar="SUBMISSION", help="learner notebooks, or folders searched for *.ipynb")
    p.add_argument("--out", default="report", help="folder of the report (default: report/)")
    p.add_argument("--timeout", type=_positive, default=Limits.notebook,
                   help=f"seconds for one submission in all (default {Limits.notebook:.0f})")
    p.add_argument("--exercise-timeout", type=_positive, default=Limits.exercise,
                   help=f"seconds for one exercise cell, and again for its check (default {Limits.exercise:.0f})")
    p.add_argument("--jobs", type=int, default=max(1, min(4, (os.cpu_count() or 2) // 2)),
                   help="submissions graded at once, one kernel each (default: half the CPU cores, at most 4)")
    p.add_argument("--isolation", choices=("auto", "sealed", "folders"), default="auto",
                   help="sealed: Linux namespaces (read-only file system, no network); folders: temporary folders "
                        "only; auto (default): sealed where this machine allows it")
    return p


def _isolation(choice: str) -> Isolation:
    found = isolation() if choice != "folders" else None
    if choice == "sealed" and not found.sealed:
        raise UsageError(f"--isolation sealed is not possible here: {found.detail}")
    if found is None:
        return Isolation(False, "folders only (chosen): a submission's own files stay in its temporary folder; "
                                "absolute paths are not guarded")
    return found


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.jobs < 1:
            raise UsageError(f"--jobs must be 1 or more, not {args.jobs}")
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {args.out} is a file: name a folder for the report")
        paths = find_submissions(args.submissions)
        sealed = _isolation(args.isolation)
    except UsageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    try:
        course = load_course()
    except CourseError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    subs = [read_submission(path, course) for path in paths]
    say(f"Grading {len(subs)} submission{'s' * (len(subs) != 1)}, {args.jobs} at a time...")
    done = []

    def progress(graded: Graded) -> None:
        done.append(graded)
        counts = {}
        for outcome in graded.outcomes.values():
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        text = ", ".join(f"{n} {status}" for status, n in counts.items()) or graded.submission.problem or "nothing to grade"
        say(f"[{len(done)}/{len(subs)}] {label(graded)}: {text} ({graded.seconds:.1f} s)")

    start = time.perf_counter()
    limits = Limits(notebook=args.timeout, exercise=args.exercise_timeout)
    try:
        graded = asyncio.run(grade_all(subs, course, limits, sealed.sealed, args.jobs, progress))
    except KeyboardInterrupt:
        print("interrupted: no report written", file=sys.stderr)
        return 130
    try:
        written = write_report(graded, out, sealed.detail)
    except OSError as err:
        print(f"error: cannot write the report into {out}: {err.strerror or err}", file=sys.stderr)
        return 1
    say(terminal_summary(graded, time.perf_counter() - start, sealed.detail, written))
    return 0
