"""The grade table and the class summary: CSV for spreadsheets, an HTML page and a Markdown page to read.

One row per submission, one column per exercise of the course (16), each cell one of ``pass``,
``wrong: <the check's message>``, ``not done``, ``error: <a short reason>``, or empty where the
submission's notebook does not hold that exercise. The summary gives, per exercise, how many passed and
the most common wrong message: what the class got wrong.
"""

from __future__ import annotations

import csv
import html
import io
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..util import atomic_write
from .exercises import ALL_TASKS, column
from .run import Graded
from .submission import ERROR, NOT_DONE, PASS, WRONG

STATUSES = (PASS, WRONG, NOT_DONE, ERROR)
COLUMNS = [column(number, task) for number, task in ALL_TASKS]
TITLES = {column(number, task): task.title for number, task in ALL_TASKS}
FILES = ("grades.csv", "summary.csv", "report.html", "report.md")


@dataclass(frozen=True)
class ExerciseSummary:
    """One exercise across the class."""

    column: str
    title: str
    counts: dict[str, int]  # status -> submissions
    common_wrong: str  # the most common wrong message ("" if none)
    common_count: int

    @property
    def graded(self) -> int:
        return sum(self.counts.values())


def label(graded: Graded) -> str:
    """The submission's path as the teacher knows it: relative to the working directory when inside it."""
    path = graded.submission.path
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def note(graded: Graded) -> str:
    sub = graded.submission
    return "; ".join(([sub.problem] if sub.problem else []) + graded.notes)


def rows(graded: list[Graded]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of the grade table."""
    header = ["submission", "notebook", "note", *COLUMNS, "seconds"]
    table = []
    for g in graded:
        number = g.submission.number or ""
        cells = [g.outcomes[c].text() if c in g.outcomes else "" for c in COLUMNS]
        table.append([label(g), number, note(g), *cells, f"{g.seconds:.1f}"])
    return header, table


def summarise(graded: list[Graded]) -> list[ExerciseSummary]:
    """Per exercise that at least one submission holds: the counts and the most common wrong message."""
    found = []
    for col in COLUMNS:
        outcomes = [g.outcomes[col] for g in graded if col in g.outcomes]
        if not outcomes:
            continue
        counts = Counter(o.status for o in outcomes)
        wrong = Counter(o.detail for o in outcomes if o.status == WRONG).most_common(1)
        message, count = wrong[0] if wrong else ("", 0)
        found.append(ExerciseSummary(col, TITLES[col], {s: counts.get(s, 0) for s in STATUSES}, message, count))
    return found


def _csv(header: list[str], table: list[list[str]]) -> bytes:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(table)
    return text.getvalue().encode("utf-8")


def _summary_table(summary: list[ExerciseSummary]) -> tuple[list[str], list[list[str]]]:
    header = ["exercise", "title", "passed", "wrong", "not done", "error", "most common wrong message", "times"]
    return header, [[s.column, s.title, f"{s.counts[PASS]}/{s.graded}", str(s.counts[WRONG]), str(s.counts[NOT_DONE]),
                     str(s.counts[ERROR]), s.common_wrong, str(s.common_count or "")] for s in summary]


def _status(cell: str) -> str:
    return cell.partition(":")[0] if cell else "none"


def _html(graded: list[Graded], summary: list[ExerciseSummary], isolation: str) -> bytes:
    header, table = rows(graded)
    used = [i for i, name in enumerate(header) if name not in COLUMNS or any(row[i] for row in table)]
    e = html.escape
    head = "".join(f"<th title='{e(TITLES.get(header[i], ''))}'>{e(header[i])}</th>" for i in used)
    body = "".join("<tr>" + "".join(f"<td class='{_status(row[i]).replace(' ', '-')}'>{e(row[i])}</td>"
                                    if header[i] in COLUMNS else f"<td>{e(row[i])}</td>" for i in used) + "</tr>\n"
                   for row in table)
    s_header, s_rows = _summary_table(summary)
    s_head = "".join(f"<th>{e(h)}</th>" for h in s_header)
    s_body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>\n" for row in s_rows)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>PixelCNN course: grades</title>
<style>
body {{ font-family: sans-serif; margin: 1.5em; }} table {{ border-collapse: collapse; margin-bottom: 2em; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.5em; font-size: 0.9em; vertical-align: top; max-width: 22em; }}
th {{ background: #f3f3f3; }} td.pass {{ background: #d9f2d9; }} td.wrong {{ background: #f8d7d7; }}
td.not-done {{ background: #eee; color: #555; }} td.error {{ background: #fde7c4; }}
</style></head><body>
<h1>Grades</h1>
<p>{len(graded)} submissions. Isolation: {e(isolation)}.</p>
<table><tr>{head}</tr>
{body}</table>
<h2>Per exercise</h2>
<table><tr>{s_head}</tr>
{s_body}</table>
</body></html>
"""
    return page.encode("utf-8")


def _markdown(graded: list[Graded], summary: list[ExerciseSummary], isolation: str) -> bytes:
    def table(header, body):
        clean = [[str(c).replace("|", "\\|").replace("\n", " ") for c in row] for row in [header, *body]]
        lines = ["| " + " | ".join(clean[0]) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in clean[1:]])

    header, body = rows(graded)
    used = [i for i, name in enumerate(header) if name not in COLUMNS or any(row[i] for row in body)]
    grades = table([header[i] for i in used], [[row[i] for i in used] for row in body])
    text = (f"# Grades\n\n{len(graded)} submissions. Isolation: {isolation}.\n\n{grades}\n\n"
            f"## Per exercise\n\n{table(*_summary_table(summary))}\n")
    return text.encode("utf-8")


def write_report(graded: list[Graded], out: Path, isolation: str) -> list[Path]:
    """Write the four files of the report into ``out`` (each atomically); returns their paths."""
    summary = summarise(graded)
    contents = {
        "grades.csv": _csv(*rows(graded)),
        "summary.csv": _csv(*_summary_table(summary)),
        "report.html": _html(graded, summary, isolation),
        "report.md": _markdown(graded, summary, isolation),
    }
    return [atomic_write(out / name, lambda file, data=data: file.write(data)) for name, data in contents.items()]


def terminal_summary(graded: list[Graded], seconds: float, isolation: str, written: list[Path]) -> str:
    """A few lines for the terminal: the class per exercise, the rows to look at, and where the report is."""
    mean = sum(g.seconds for g in graded) / len(graded) if graded else 0.0
    lines = [f"Graded {len(graded)} submission{'s' * (len(graded) != 1)} in {seconds:.1f} s "
             f"({mean:.1f} s each on average).",
             f"Isolation: {isolation}.", ""]
    summary = summarise(graded)
    if summary:
        lines.append(f"{'exercise':<38} {'passed':>7} {'wrong':>6} {'not done':>9} {'error':>6}  most common wrong message")
        for s in summary:
            common = f"{s.common_wrong[:70]} ({s.common_count}x)" if s.common_count else ""
            lines.append(f"{s.column:<38} {f'{s.counts[PASS]}/{s.graded}':>7} {s.counts[WRONG]:>6} "
                         f"{s.counts[NOT_DONE]:>9} {s.counts[ERROR]:>6}  {common}")
        lines.append("")
    looks = [(label(g), note(g)) for g in graded if note(g)]
    for name, text in looks:
        lines.append(f"look at {name}: {text}")
    if looks:
        lines.append("")
    folder = os.path.commonpath([str(p.parent) for p in written]) if written else ""
    lines.append(f"Report: {', '.join(str(Path(folder) / p.name) for p in written)}")
    return "\n".join(lines)
