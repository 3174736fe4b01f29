"""Write the learner notebooks in notebooks/ from the solution notebooks in solutions/.

solutions/ is the only source. In every code cell, each block

    ### BEGIN SOLUTION
    ...
    ### END SOLUTION

becomes a stub at the same indentation:

    # YOUR CODE HERE
    raise NotImplementedError("Exercise: ...")

The outputs of those exercise cells are cleared, and so are the outputs of the
cells that show the learner's own work (they load ``pixelcourse.mine.use(...)`` parts,
or carry the tag ``shows-your-work``): a learner notebook never shows the solved run's
results as the learner's. Every other cell keeps its outputs, so figures show on GitHub and the check cells (``# NBVAL_CHECK_OUTPUT``)
keep the "passed" line that nbval compares against. Each check cell gets a comment
saying so: the stored line is the expected result once solved, not the learner's own.

    python tools/make_notebooks.py           # (re)write notebooks/
    python tools/make_notebooks.py --check   # exit 1 if notebooks/ is not what this script would write
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
NOTEBOOKS = REPO / "notebooks"

BEGIN = re.compile(r"^(\s*)### BEGIN SOLUTION\s*$")
END = re.compile(r"^\s*### END SOLUTION\s*$")
STUB = ["# YOUR CODE HERE", 'raise NotImplementedError("Exercise: replace this line with your code.")']
CHECK_CALL = re.compile(r"^pixelcourse\.checks\.check_\w+\(", re.M)
YOUR_WORK = re.compile(r"pixelcourse\.mine\.use\(")
YOUR_WORK_TAG = "shows-your-work"
EXPECTED_NOTE = "# The output stored below is what this check prints once your solution is right. Run the cell to check yours."


class SolutionMarkerError(ValueError):
    """A solution cell whose BEGIN/END markers do not pair up."""


def stub_source(source: str, where: str = "cell") -> str:
    """Replace every BEGIN/END SOLUTION block of ``source`` by the stub, keeping the block's indentation."""
    out, inside, indent = [], False, ""
    for number, line in enumerate(source.split("\n"), start=1):
        begin = BEGIN.match(line)
        if begin:
            if inside:
                raise SolutionMarkerError(f"{where}, line {number}: BEGIN SOLUTION inside another solution block.")
            inside, indent = True, begin.group(1)
            out.extend(indent + stub for stub in STUB)
        elif END.match(line):
            if not inside:
                raise SolutionMarkerError(f"{where}, line {number}: END SOLUTION without a BEGIN SOLUTION above it.")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise SolutionMarkerError(f"{where}: BEGIN SOLUTION is never closed by ### END SOLUTION.")
    return "\n".join(out)


def is_exercise(cell) -> bool:
    """A code cell holding at least one solution block."""
    return cell.cell_type == "code" and any(BEGIN.match(line) for line in cell.source.split("\n"))


def shows_your_work(cell) -> bool:
    """A code cell whose output comes from the learner's own parts or training (cleared in the learner version)."""
    return cell.cell_type == "code" and (YOUR_WORK.search(cell.source) is not None
                                         or YOUR_WORK_TAG in cell.get("metadata", {}).get("tags", []))


def learner_version(nb, name: str = "notebook"):
    """The learner notebook of the solution notebook ``nb`` (a new object; ``nb`` is unchanged)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    for index, cell in enumerate(nb.cells):
        if "id" not in cell:  # older notebooks: a stable id, never a random one
            cell["id"] = hashlib.sha1(f"{name}:{index}".encode()).hexdigest()[:12]
            nb.nbformat_minor = max(nb.nbformat_minor, 5)
        exercise = is_exercise(cell)
        if exercise:
            cell.source = stub_source(cell.source, f"{name}, cell {index}")
        if exercise or shows_your_work(cell):
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "code" and CHECK_CALL.search(cell.source) and EXPECTED_NOTE not in cell.source:
            first, _, rest = cell.source.partition("\n")  # the first line stays the nbval marker
            cell.source = f"{first}\n{EXPECTED_NOTE}\n{rest}"
    return nb


def render(solution: Path) -> str:
    """The exact text of the learner notebook for ``solution``."""
    nb = nbformat.read(solution, as_version=4)
    text = nbformat.writes(learner_version(nb, solution.name), version=4)
    return text if text.endswith("\n") else text + "\n"


def plan(solutions: Path = SOLUTIONS, notebooks: Path = NOTEBOOKS) -> dict[Path, str]:
    """Every learner notebook path and the text it must hold."""
    sources = sorted(solutions.glob("*.ipynb"))
    if not sources:
        raise SystemExit(f"No solution notebooks in {solutions}.")
    return {notebooks / path.name: render(path) for path in sources}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only check that notebooks/ is up to date")
    args = parser.parse_args(argv)
    try:
        wanted = plan()
    except SolutionMarkerError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    extra = sorted(set(NOTEBOOKS.glob("*.ipynb")) - set(wanted))
    if args.check:
        stale = [p for p, text in wanted.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
        for path in stale:
            print(f"out of date: notebooks/{path.name}")
        for path in extra:
            print(f"no source in solutions/: notebooks/{path.name}")
        if stale or extra:
            print("Run `python tools/make_notebooks.py` to regenerate notebooks/ from solutions/.")
            return 1
        print(f"notebooks/ is up to date ({len(wanted)} notebooks).")
        return 0
    NOTEBOOKS.mkdir(exist_ok=True)
    for path, text in wanted.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote notebooks/{path.name}")
    for path in extra:
        print(f"note: notebooks/{path.name} has no source in solutions/; delete it or add the solution.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
