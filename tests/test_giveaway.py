"""The give-away meter (tools/giveaway.py): its rule on small notebooks, and the course's own figure."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

REPO = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("giveaway", REPO / "tools" / "giveaway.py")
giveaway = sys.modules["giveaway"] = importlib.util.module_from_spec(spec)  # dataclasses look their module up
spec.loader.exec_module(giveaway)

MAX_PERCENT = 5.0  # the most of all solution lines the learner notebooks may show


def exercise(*solution: str, docstring: str = "Return something.") -> str:
    body = "\n".join(f"    {line}" for line in solution)
    return f'def answer(a, b):\n    """{docstring}"""\n    ### BEGIN SOLUTION\n{body}\n    ### END SOLUTION\n'


def measure(*cells) -> giveaway.Exercise:
    """The count of the single exercise of a notebook made of ``cells`` (markdown strings or code cells)."""
    nb = new_notebook(cells=[new_markdown_cell(c) if isinstance(c, str) else c for c in cells])
    (found,) = giveaway.measure(nb)
    return found


def given(line: str, *cells) -> bool:
    found = measure(new_code_cell(exercise(line)), *cells)
    assert len(found.lines) == 1
    return bool(found.given)


def test_a_line_in_a_code_fence_is_given_away():
    assert given("total = torch.cumsum(a, dim=-1)", "Do this:\n\n```python\ntotal = torch.cumsum(a, dim=-1)\n```")


def test_a_line_in_inline_code_or_prose_is_given_away():
    assert given("total = torch.cumsum(a, dim=-1)", "Write `total = torch.cumsum(a, dim=-1)` and go on.")
    assert given("total = torch.cumsum(a, dim=-1)", "Then total = torch.cumsum(a, dim=-1) gives the sums.")


def test_a_line_only_inside_details_is_not_given_away():
    hint = "<details><summary>Hint 2: the API</summary>\n\n`total = torch.cumsum(a, dim=-1)`\n</details>"
    assert not given("total = torch.cumsum(a, dim=-1)", f"The contract.\n\n{hint}\n\nMore prose.")
    assert given("total = torch.cumsum(a, dim=-1)", f"{hint}\n\nBut here: `total = torch.cumsum(a, dim=-1)`.")


def test_whitespace_and_trailing_comments_are_normalised():
    assert given("total = torch.cumsum(a,dim=-1)  # (B, levels)", "`total  =  torch.cumsum( a, dim = -1 )`")
    assert given("total = torch.cumsum(a, dim=-1)", "Write\n```\ntotal = torch.cumsum(a,\n                     dim=-1)\n```")


def test_a_hash_inside_a_string_is_not_a_comment():
    assert giveaway.normalise_line('s = "#" + t  # note') == 's="#"+t'
    assert not given('label = f"#{count} of {total}"', "`label = f\"`")


def test_the_stub_and_its_docstring_are_visible():
    found = measure(new_code_cell(exercise("total = torch.cumsum(a, dim=-1)", docstring="Use total = torch.cumsum(a, dim=-1).")))
    assert found.given == ["total = torch.cumsum(a, dim=-1)"]


def test_the_solution_itself_is_not_visible():
    found = measure(new_code_cell(exercise("total = torch.cumsum(a, dim=-1)", "return total.flip(-1) * b")))
    assert len(found.lines) == 2 and found.given == []


def test_a_text_output_is_visible():
    cell = new_code_cell("print(code)", outputs=[nbformat.v4.new_output("stream", text="total = torch.cumsum(a, dim=-1)\n")])
    assert given("total = torch.cumsum(a, dim=-1)", cell)


def test_blank_comment_bracket_keyword_and_alias_lines_are_not_counted():
    lines = ("", "# a comment", "out = f(", "    a,", ")", "else:", "pass", "k = model.config.num_classes", "c = cfg")
    found = measure(new_code_cell(exercise(*lines)))
    assert found.lines == ["out = f(", "a,"]


def test_a_short_line_counts_only_as_a_whole_line():
    assert not given("return out", "The function should return outputs, here out = x.")
    assert given("return out", "```\nreturn out\n```")
    assert given("return out", "End with `return out`.")
    assert not given("super().__init__(a, b)", "class X(nn.Module): super().__init__(a, b) is needed, with self.w = ...")
    assert given("super().__init__()", "```\nsuper().__init__()\n```")


def test_the_expression_of_an_assignment_or_a_return_is_enough():
    assert given("mine = torch.cumsum(a, dim=-1)", "Use `torch.cumsum(a, dim=-1)`.")
    assert given("return torch.cumsum(a, dim=-1)", "It is torch.cumsum(a, dim=-1).")
    assert given("x += torch.cumsum(a, dim=-1)", "It is torch.cumsum(a, dim=-1).")
    assert not given("same = a == torch.cumsum(a, dim=-1)", "It is torch.cumsum(a, dim=-1).")  # no assignment


def test_max_fails_above_the_limit(tmp_path, capsys):
    nb = new_notebook(cells=[new_code_cell(exercise("total = torch.cumsum(a, dim=-1)", "return total.flip(-1) * b")),
                             new_markdown_cell("`total = torch.cumsum(a, dim=-1)`")])
    nbformat.write(nb, tmp_path / "01_x.ipynb")
    assert giveaway.main(["--max", "60"], solutions=tmp_path) == 0
    assert giveaway.main(["--max", "40"], solutions=tmp_path) == 1
    assert "50.0%" in capsys.readouterr().out


def test_the_course_gives_away_at_most_five_percent():
    figures, total, away = [], 0, 0
    for path in sorted((REPO / "solutions").glob("*.ipynb")):
        exercises = giveaway.measure(nbformat.read(path, as_version=4), path.name)
        lines, given_away = sum(len(e.lines) for e in exercises), sum(len(e.given) for e in exercises)
        total, away = total + lines, away + given_away
        if given_away:
            figures.append(f"{path.stem} {given_away}/{lines}")
    assert total > 0
    assert 100 * away / total <= MAX_PERCENT, (
        f"{away} of {total} solution lines ({100 * away / total:.1f}%) stand in the learner notebooks: "
        + ", ".join(figures) + "; run `python tools/giveaway.py -v` for the lines"
    )
