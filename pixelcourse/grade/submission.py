"""Reading one learner notebook: which course notebook it is, and the code of each of its exercises.

Everything here is decided without running the submission: a file that is not a notebook, a notebook of
another course, an exercise cell that is missing, from an older version of the course, or does not parse.
What is left runs in a kernel (``run``). Exercise cells are found by cell id, then by the name they must
define (a cell pasted back gets a new id), never by position.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from ..checks import EXERCISES
from .exercises import FORMER, STEPS, CourseNotebook, Task, cell_text, tasks

PASS, WRONG, NOT_DONE, ERROR = "pass", "wrong", "not done", "error"
CHECK_CALL = re.compile(r"pixelcourse\.checks\.(check_\w+)\s*\(")
PYTHON_CELL_MAGICS = ("%%mine", "%%time", "%%capture")  # cell magics whose body is Python


@dataclass(frozen=True)
class Outcome:
    """One exercise's grade: PASS, WRONG (the check's message), NOT_DONE or ERROR (a short reason)."""

    status: str
    detail: str = ""

    def text(self) -> str:
        """The cell of the grade table, e.g. ``wrong: mask A must be 0 at the centre``."""
        return f"{self.status}: {self.detail}" if self.detail else self.status


@dataclass
class Attempt:
    """A submission's work on one exercise: the code to run, or the outcome already known."""

    task: Task
    source: str | None = None  # the exercise cell's code (None: nothing to run)
    outcome: Outcome | None = None  # decided without running it
    defines: list[str] = field(default_factory=list)  # the names the cell defines, for the message on a rename


@dataclass
class Submission:
    """One file handed in, read and matched to the course."""

    path: Path
    number: str | None = None  # the course notebook it is ("01" ... "10"), None if not recognised
    problem: str | None = None  # why the whole file cannot be graded
    notes: list[str] = field(default_factory=list)  # what the teacher should know about the row
    attempts: list[Attempt] = field(default_factory=list)


def read_submission(path: Path, course: dict[str, CourseNotebook]) -> Submission:
    """Read ``path`` and match it to the course; never raises on a bad file (see ``Submission.problem``)."""
    try:
        return _read_submission(Path(path), course)
    except Exception as err:  # a file odder than any case above: one row, not the end of the class's grading
        return Submission(Path(path), problem=f"the grader could not read it ({type(err).__name__}: {err})"[:200])


def _read_submission(path: Path, course: dict[str, CourseNotebook]) -> Submission:
    sub = Submission(path)
    nb, sub.problem = _read_notebook(sub.path)
    if nb is None:
        return sub
    cells = [cell for cell in nb.cells if cell.get("cell_type") in ("code", "markdown", "raw")]
    sub.number, how = _identify(cells, course, sub.path.name)
    if sub.number is None:
        sub.problem = ("not a notebook of this course: none of its cells is one of the course's "
                       "and it calls none of the course's checks")
        return sub
    if how:
        sub.notes.append(how)
    called = {m for cell in cells if cell.cell_type == "code" for m in CHECK_CALL.findall(cell_text(cell.source))}
    gone = sorted(name for name in called if name not in EXERCISES)
    if gone:
        sub.notes.append(f"older version of the course: it calls {', '.join(gone)}, which the course no longer has")
    if not STEPS[sub.number]:
        sub.notes.append(f"notebook {sub.number} has no exercises")
    sub.attempts = [_attempt(task, cells, sub.number) for task in tasks(sub.number)]
    if any(a.outcome and "older version" in a.outcome.detail for a in sub.attempts) and not gone:
        sub.notes.append("older version of the course: see the exercises marked so")
    return sub


def _read_notebook(path: Path):
    """(notebook, None) or (None, why it is not one)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except OSError as err:
        return None, f"cannot read the file ({err.strerror or err})"
    except UnicodeDecodeError:
        return None, "not a notebook: the file is not text (hand in the .ipynb file that Jupyter saves)"
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        return None, (f"not a notebook: the file is not JSON ({err.msg}, line {err.lineno}); "
                      "hand in the .ipynb file that Jupyter saves")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cells without ids (older nbformat) are matched by content below
            nb = nbformat.reads(text, as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("it has no list of cells")
        for cell in nb.cells:
            cell.source = cell_text(cell.get("source", ""))
            cell.setdefault("cell_type", "raw")
            if not isinstance(cell.get("id", ""), str):
                del cell["id"]  # a hand-edited id that is no string: match the cell by its content
    except Exception as err:  # any malformed structure: one line, never a traceback
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        return None, f"not a Jupyter notebook ({first[:120]})"
    return nb, None


def _identify(cells, course: dict[str, CourseNotebook], filename: str) -> tuple[str | None, str]:
    """The course notebook these cells come from, and how it was told when not by cell ids."""
    ids = {cell.get("id") for cell in cells} - {None}
    overlap = {number: len(ids & notebook.ids) for number, notebook in course.items()}
    best = max(overlap, key=overlap.get)
    if overlap[best] >= 2:
        return best, ""
    votes = Counter()
    formers = {f.check: number for number, fs in FORMER.items() for f in fs}
    answers = {task.answer: number for number in STEPS for task in tasks(number)}
    answers.update({f.answer: number for number, fs in FORMER.items() for f in fs})
    for cell in cells:
        if cell.cell_type != "code":
            continue
        for check in CHECK_CALL.findall(cell.source):
            number = EXERCISES[check].notebook if check in EXERCISES else formers.get(check)
            votes.update([number] if number else [])
        votes.update(answers[name] for name in _defined(cell.source)[0] if name in answers)
    if votes:
        return votes.most_common(1)[0][0], "recognised by its exercises: its cell ids are not the course's"
    match = re.match(r"(\d\d)_", filename)
    if match and match.group(1) in course and any(c.cell_type == "code" and "pixelcourse" in c.source for c in cells):
        return match.group(1), "recognised by its file name: its cell ids are not the course's"
    return None, ""


def _attempt(task: Task, cells, number: str) -> Attempt:
    """Find the submission's cell for ``task`` and decide what can be decided without running it."""
    code = [cell for cell in cells if cell.cell_type == "code"]
    by_id = {cell["id"]: cell for cell in code if cell.get("id")}
    defines = {id(cell): _defined(cell.source)[0] for cell in code}
    formers = [f for f in FORMER.get(number, ()) if f.now == task.answer]
    cell = by_id.get(task.cell)
    if cell is None:  # pasted back, or ids lost on the way: look for the definition itself
        named = [c for c in code if task.answer in defines[id(c)] and not CHECK_CALL.search(c.source)]
        cell = named[-1] if named else None
    if cell is not None:
        names, error = _defined(cell.source)
        if error:
            return Attempt(task, outcome=Outcome(ERROR, error), defines=names)
        old = [f for f in formers if f.answer in names and task.answer not in names]
        if old:
            return Attempt(task, outcome=_outdated(old[0], task), defines=names)
        return Attempt(task, source=cell.source, defines=names)
    old = [f for f in formers if f.cell in by_id or any(f.answer in names for names in defines.values())]
    if old:
        return Attempt(task, outcome=_outdated(old[0], task))
    if task.check_cell in by_id or any(f"checks.{task.check}(" in c.source for c in code):
        return Attempt(task, outcome=Outcome(ERROR, f"the exercise cell is missing (no cell {task.cell} and none "
                                                    f"that defines {task.answer}); was it deleted?"))
    return Attempt(task, outcome=Outcome(ERROR, f"not in this notebook: neither the exercise nor its check is there "
                                                f"(an older version of the course?); {task.answer} is asked for "
                                                f"in the current notebook {number}"))


def _outdated(former, task: Task) -> Outcome:
    return Outcome(ERROR, f"older version of the course: this notebook has {former.answer} (cell {former.cell}), "
                          f"which the course has replaced by {task.answer}; move the work into the current notebook")


def _defined(source: str) -> tuple[list[str], str]:
    """(names the cell defines at top level, "" or the syntax error); magics are understood, not parsed."""
    lines = source.split("\n")
    offset = 0
    if lines and lines[0].startswith("%%"):
        if lines[0].split()[0] not in PYTHON_CELL_MAGICS:
            return [], ""  # another language: the kernel will tell
        lines, offset = lines[1:], 1
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        code = TransformerManager().transform_cell("\n".join(lines))
        tree = ast.parse(code)
    except SyntaxError as err:
        where = f" in line {err.lineno + offset} of the exercise cell" if err.lineno else ""
        return [], f"SyntaxError{where}: {err.msg}"
    except Exception as err:  # the transformer itself failed on odd input
        return [], f"the exercise cell cannot be read ({type(err).__name__})"
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [target.id for target in node.targets if isinstance(target, ast.Name)]
    return names, ""


