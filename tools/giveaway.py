"""Measure how much of each exercise's solution the learner notebook already shows.

An exercise is a code cell of solutions/ with ``### BEGIN SOLUTION`` / ``### END SOLUTION``
blocks. Its solution lines are the lines inside the blocks. A solution line is *given away*
when the learner can read it without opening a hint: somewhere in the learner version of
the same notebook (tools/make_notebooks.py), that is in any markdown cell, in any code cell
(the exercise's stub with its docstring and comments included) or in a text output, with
the collapsed hint blocks ``<details>...</details>`` of markdown cells left out: hints are
opened on purpose and may give the API.

The rule, line by line:

1. Normalise: drop the trailing comment (a ``#`` outside a string) and every whitespace
   character, so ``a * b  # why`` and ``a*b`` are the same line.
2. Skip lines that hold no code a learner writes: blank or comment-only lines, lines of
   brackets and punctuation only (``)``, ``],``), single keywords (``else:``, ``pass``,
   ``return``, ``try:``) and aliases, a name bound to another name or attribute
   (``c = model.config``): they compute nothing. They are not counted at all.
3. A *short* line, fewer than 12 characters after normalising (``return out``,
   ``x = x + h``), or a ``super().__init__(...)`` call, counts as a solution line but is given
   away only if it stands as a whole line of visible text, or as a whole inline code span:
   such fragments occur inside any text by chance.
4. Every other line is given away if its normalised text is a substring of the normalised
   text of one visible cell. This catches it in prose, in inline code, in code fences and
   in code cells alike, and also when the visible copy is wrapped over several lines.
5. The names a learner chooses give nothing away, the expression does: a line of the form
   ``target = expression`` (also ``+=`` and the like) or ``return expression`` is also given
   away when its expression alone is, by rule 3 or 4 according to the expression's length.

    python tools/giveaway.py              # the table for every notebook and the total
    python tools/giveaway.py 05 07 -v     # two notebooks, with the lines given away
    python tools/giveaway.py --max 5      # exit 1 if more than 5% of all solution lines are given away
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_notebooks import BEGIN, END, SOLUTIONS, is_exercise, learner_version  # noqa: E402

SHORT = 12  # normalised lines shorter than this are "short" (rule 3)
DETAILS = re.compile(r"<details\b.*?</details\s*>", re.S | re.I)
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.S)
KEYWORDS = {"else", "try", "finally", "pass", "return", "break", "continue", "raise", "yield"}
SUPER_INIT = re.compile(r"^super\(.*\)\.__init__\(")


def strip_comment(line: str) -> str:
    """``line`` without its trailing ``#`` comment; a ``#`` inside a string literal stays."""
    quote, k = None, 0
    while k < len(line):
        ch = line[k]
        if quote:
            if ch == "\\":
                k += 1
            elif line.startswith(quote, k):
                k += len(quote) - 1
                quote = None
        elif ch == "#":
            return line[:k]
        elif ch in "'\"":
            quote = ch * 3 if line.startswith(ch * 3, k) else ch
            k += len(quote) - 1
        k += 1
    return line


def normalise(text: str) -> str:
    """``text`` with every whitespace character removed."""
    return re.sub(r"\s+", "", text)


def normalise_line(line: str) -> str:
    """Rule 1: one source line without its comment and without whitespace."""
    return normalise(strip_comment(line))


def counts(line: str) -> bool:
    """Rule 2: does this solution line hold code a learner writes?"""
    normalised = normalise_line(line)
    if not re.search(r"\w", normalised) or normalised.rstrip(":") in KEYWORDS:
        return False
    value = assigned(line)
    return not (value is not None and NAME.match(value))


def is_short(normalised: str) -> bool:
    """Rule 3: a line too short or too generic to be matched inside other text."""
    return len(normalised) < SHORT or bool(SUPER_INIT.match(normalised))


NAME = re.compile(r"^[A-Za-z_][\w.]*$")  # a name or an attribute, nothing computed


def expression(line: str) -> str | None:
    """Rule 5: the normalised expression of an assignment or a return line, or None."""
    returned = re.match(r"(?:return|yield)\s+(.+)", strip_comment(line).strip())
    return normalise(returned.group(1)) if returned else assigned(line)


def assigned(line: str) -> str | None:
    """The normalised right-hand side of an assignment line (``=``, ``+=``, ...), or None."""
    text, depth, quote = normalise_line(line), 0, None
    for k, ch in enumerate(text):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "=" and depth == 0:
            if text[k + 1 : k + 2] == "=" or (k and text[k - 1] in "=!<>"):
                return None  # a comparison, not an assignment
            return text[k + 1 :] or None
    return None


def solution_lines(source: str) -> list[str]:
    """The raw lines inside the BEGIN/END SOLUTION blocks of a cell's source."""
    out, inside = [], False
    for line in source.split("\n"):
        if BEGIN.match(line):
            inside = True
        elif END.match(line):
            inside = False
        elif inside:
            out.append(line)
    return out


def visible_texts(learner) -> list[str]:
    """The raw text of every visible part of a learner notebook: cells without their <details> blocks, text outputs."""
    texts = []
    for cell in learner.cells:
        texts.append(DETAILS.sub("", cell.source) if cell.cell_type == "markdown" else cell.source)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "stream":
                texts.append(output.get("text", ""))
            elif "data" in output and "text/plain" in output["data"]:
                texts.append(output["data"]["text/plain"])
    return texts


@dataclass
class Visible:
    """What a learner sees, prepared for rules 3 and 4."""

    cells: list[str]  # normalised text of each visible part (rule 4: substring)
    lines: set[str]  # normalised whole lines and whole inline code spans (rule 3)

    @classmethod
    def of(cls, learner) -> "Visible":
        texts = visible_texts(learner)
        lines = {normalise_line(line) for text in texts for line in text.split("\n")}
        lines |= {normalise(m.group(2)) for text in texts for m in INLINE_CODE.finditer(text)}
        return cls([normalise(text) for text in texts], lines)

    def shows(self, normalised: str) -> bool:
        if is_short(normalised):
            return normalised in self.lines
        return any(normalised in text for text in self.cells)


@dataclass
class Exercise:
    """The count of one exercise cell."""

    cell: int  # index of the exercise cell in the notebook
    name: str  # the function or class the cell defines
    lines: list[str] = field(default_factory=list)  # its counted solution lines (stripped)
    given: list[str] = field(default_factory=list)  # those of them the learner can already read

    @property
    def percent(self) -> float:
        return 100.0 * len(self.given) / len(self.lines) if self.lines else 0.0


def exercise_name(source: str) -> str:
    match = re.search(r"^\s*(?:def|class)\s+(\w+)", source, re.M)
    return match.group(1) if match else "?"


def measure(nb, name: str = "notebook") -> list[Exercise]:
    """Every exercise of the solution notebook ``nb`` with its solution lines and those given away."""
    visible = Visible.of(learner_version(nb, name))
    found = []
    for index, cell in enumerate(nb.cells):
        if not is_exercise(cell):
            continue
        exercise = Exercise(index, exercise_name(cell.source))
        for line in solution_lines(cell.source):
            normalised = normalise_line(line)
            if not counts(line):
                continue
            exercise.lines.append(line.strip())
            tail = expression(line)
            if visible.shows(normalised) or (tail is not None and visible.shows(tail)):
                exercise.given.append(line.strip())
        found.append(exercise)
    return found


def percent(given: int, total: int) -> float:
    return 100.0 * given / total if total else 0.0


def report(paths: list[Path], verbose: bool = False) -> tuple[int, int]:
    """Print the table for ``paths``; returns (solution lines, given away) over all of them."""
    total = given = 0
    print(f"{'notebook':<32} {'exercise':<34} {'lines':>5} {'given':>5} {'%':>6}")
    for path in paths:
        exercises = measure(nbformat.read(path, as_version=4), path.name)
        lines = sum(len(e.lines) for e in exercises)
        away = sum(len(e.given) for e in exercises)
        for e in exercises:
            print(f"{path.stem:<32} {f'[{e.cell}] {e.name}':<34} {len(e.lines):5d} {len(e.given):5d} {e.percent:5.0f}%")
            if verbose:
                for line in e.given:
                    print(f"{'':<34} given away: {line}")
        if len(exercises) > 1:
            print(f"{path.stem:<32} {'(notebook)':<34} {lines:5d} {away:5d} {percent(away, lines):5.0f}%")
        total, given = total + lines, given + away
    print(f"{'total':<32} {'':<34} {total:5d} {given:5d} {percent(given, total):5.1f}%")
    return total, given


def main(argv: list[str] | None = None, solutions: Path = SOLUTIONS) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("numbers", nargs="*", help="notebook numbers such as 05 (default: every solution notebook)")
    parser.add_argument("--max", type=float, default=None, metavar="PERCENT",
                        help="exit 1 if more than PERCENT %% of all solution lines are given away")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the lines given away")
    args = parser.parse_args(argv)
    paths = [p for p in sorted(solutions.glob("*.ipynb")) if not args.numbers or p.name[:2] in args.numbers]
    if not paths:
        print(f"No solution notebooks match {args.numbers}.", file=sys.stderr)
        return 2
    total, given = report(paths, args.verbose)
    if args.max is not None and percent(given, total) > args.max:
        print(f"{percent(given, total):.1f}% of the solution lines are given away, more than {args.max:g}%.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
