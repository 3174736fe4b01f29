"""The teachers' grader: real learner notebooks (made with nbformat from notebooks/ and solutions/), real kernels.

One run of the command grades every submission below at once (three kernels at a time, short time limits);
each test then reads its row of the report. The registry is checked against solutions/ without a kernel.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

import pixelcourse.checks
from pixelcourse.grade import ALL_TASKS, STEPS, load_course, read_submission
from pixelcourse.grade.cli import main
from pixelcourse.grade.exercises import FORMER, tasks
from pixelcourse.grade.kernel import MIME
from pixelcourse.grade.sandbox import isolation

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS, NOTEBOOKS = REPO / "solutions", REPO / "notebooks"
NB01 = "01_masked_convolutions.ipynb"
SLEEP = "987.654"  # a background process the submission starts: it must not outlive the grading


def load(folder: Path, name: str = NB01):
    return nbformat.read(folder / name, as_version=4)


def cell(nb, cell_id: str):
    return next(c for c in nb.cells if c.get("id") == cell_id)


def edit(nb, cell_id: str, old: str, new: str):
    target = cell(nb, cell_id)
    assert old in target.source, f"{old!r} not in cell {cell_id}"
    target.source = target.source.replace(old, new)
    return nb


WRONG_LINE = ("mask[centre, :centre] = 1  # left of the centre", "mask[centre, :centre + 1] = 1  # and the centre")
STUBBORN = '''import time
while True:
    try:
        time.sleep(0.05)
    except KeyboardInterrupt:
        pass  # ignores the interrupt: only a fresh kernel ends this
'''


def escapes(outside: Path) -> str:
    """A cell that tries to leave traces outside its folder (after a remount), then defines causal_mask correctly."""
    solved = cell(load(SOLUTIONS), "01-09").source
    return f'''import os, subprocess
subprocess.Popen(["sleep", "{SLEEP}"])
subprocess.run(["mount", "-o", "remount,rw", "/"], capture_output=True)  # refused when sealed
for path in [{str(outside)!r}, os.path.expanduser("~/trace.txt"), "trace.txt"]:
    try:
        open(path, "w").write("left behind")
    except OSError:
        pass
{solved}'''


def cheat(nb):
    """Check cells that print a pass, a fake grader result, and a swapped evaluate and check."""
    for check in ("01-10", "41d3d9fb"):
        cell(nb, check).source = 'print("✅ Masks A and B by hand: passed")'
    cell(nb, "01-09").source = (
        "from IPython.display import display\n"
        f'display({{"{MIME}": {{"status": "passed", "nonce": "0" * 16}}}}, raw=True)\n'
        "import pixelcourse.checks, pixelcourse.checks.core as core\n"
        'pixelcourse.checks.evaluate = core.evaluate = lambda name, answer: ("passed", "✅ passed")\n'
        + cell(nb, "01-09").source)
    cell(nb, "63f4acbc").source += (
        "\nimport dataclasses, pixelcourse.checks.core as core\n"
        'core.EXERCISES["check_masked_conv"] = dataclasses.replace(core.EXERCISES["check_masked_conv"], test=lambda a: None)\n')
    return nb


def older_08():
    """Notebook 08 as an earlier version of the course had it: the exercise nll_map in cell 08-15."""
    nb = load(NOTEBOOKS, "08_visualisation.ipynb")
    at = nb.cells.index(cell(nb, "da518f33"))
    nb.cells[at] = nbformat.v4.new_code_cell("def nll_map(model, x):\n    raise NotImplementedError", id="08-15")
    nb.cells[at + 1] = nbformat.v4.new_code_cell("pixelcourse.checks.check_nll_map(nll_map)", id="08-16")
    return nb


def submissions(outside: Path) -> dict[str, object]:
    """name -> notebook (or raw text) of every submission the class hands in (ten of them need a kernel)."""
    solved, unsolved = load(SOLUTIONS), load(NOTEBOOKS)
    deleted_renamed = edit(load(SOLUTIONS), "63f4acbc", "def masked_conv2d(", "def my_conv(")
    deleted_renamed.cells.remove(cell(deleted_renamed, "01-09"))
    reordered = load(SOLUTIONS)
    reordered.cells.reverse()
    foreign = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Linear regression"),
                                              nbformat.v4.new_code_cell("import numpy as np\nprint(np.ones(3))")])
    return {
        "solved": solved,
        "unsolved": unsolved,
        "wrong": edit(load(SOLUTIONS), "01-09", *WRONG_LINE),
        "not_json": "this is not a notebook {",
        "foreign": foreign,
        "deleted_renamed": deleted_renamed,
        "reordered": reordered,
        "cheat": cheat(load(NOTEBOOKS)),
        "loop": edit(load(SOLUTIONS), "01-09", "def causal_mask(", "while True:\n    pass\n\ndef causal_mask("),
        "stubborn": edit(load(SOLUTIONS), "01-09", "def causal_mask(", STUBBORN + "\ndef causal_mask("),
        "syntax": edit(edit(load(SOLUTIONS), "63f4acbc", "def masked_conv2d(x", "def masked_conv2d(:x"),
                       "01-09", "mask_type: str)", "mask_type: str"),
        "raises": edit(edit(load(SOLUTIONS), "01-09", "def causal_mask(", "import not_a_course_module\n\ndef causal_mask("),
                       "63f4acbc", "def masked_conv2d(", 'raise RuntimeError("boom")\n\ndef masked_conv2d('),
        "older": older_08(),
        "escapes": edit(load(SOLUTIONS), "01-09", cell(load(SOLUTIONS), "01-09").source, escapes(outside)),
    }


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the whole class once with the command itself; returns (rows by name, stdout, paths)."""
    root = tmp_path_factory.mktemp("class")
    folder, out, temp = root / "handed_in", root / "report", root / "tmp"
    folder.mkdir(), temp.mkdir()
    outside = root / "outside.txt"
    for name, nb in submissions(outside).items():
        path = folder / f"{name}.ipynb"
        path.write_text(nb) if isinstance(nb, str) else nbformat.write(nb, path)
    env = {**os.environ, "TMPDIR": str(temp), "PIXELCOURSE_QUICK": "1"}
    done = subprocess.run([sys.executable, "-m", "pixelcourse.grade", str(folder), "--out", str(out),
                           "--exercise-timeout", "3", "--jobs", "3"],
                          capture_output=True, text=True, env=env, cwd=root, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    with open(out / "grades.csv", newline="", encoding="utf-8") as file:
        rows = {Path(row["submission"]).stem: row for row in csv.DictReader(file)}
    return rows, done.stdout, dict(root=root, out=out, temp=temp, outside=outside)


def expected_message(source: str, answer: str, check: str) -> str:
    """What the course's check says about ``source``, run here in this process."""
    namespace = {}
    exec("import torch\nimport torch.nn.functional as F\n" + source, namespace)
    status, line = pixelcourse.checks.evaluate(check, namespace[answer])
    assert status == pixelcourse.checks.WRONG
    return line.partition(" — ")[2]


def test_the_solved_notebook_passes_and_the_learner_notebook_is_not_done(graded):
    rows, _, _ = graded
    assert (rows["solved"]["01 causal_mask"], rows["solved"]["01 masked_conv2d"]) == ("pass", "pass")
    assert (rows["unsolved"]["01 causal_mask"], rows["unsolved"]["01 masked_conv2d"]) == ("not done", "not done")
    assert rows["solved"]["notebook"] == "01" and rows["solved"]["02 MyResidualBlock"] == ""


def test_a_wrong_answer_gets_the_checks_message(graded):
    rows, _, _ = graded
    source = edit(load(SOLUTIONS), "01-09", *WRONG_LINE)
    message = expected_message(cell(source, "01-09").source, "causal_mask", "check_causal_mask")
    assert rows["wrong"]["01 causal_mask"] == f"wrong: {message}"
    assert rows["wrong"]["01 masked_conv2d"] == "pass"


def test_files_that_are_not_this_courses_notebooks_get_a_clear_row(graded):
    rows, _, _ = graded
    assert "not a notebook: the file is not JSON" in rows["not_json"]["note"]
    assert "not a notebook of this course" in rows["foreign"]["note"]
    for name in ("not_json", "foreign"):
        assert not any(rows[name][col] for col in rows[name] if col[:2].isdigit()), name


def test_deleted_renamed_and_reordered_exercise_cells(graded):
    rows, _, _ = graded
    assert rows["deleted_renamed"]["01 causal_mask"] == (
        "error: the exercise cell is missing (no cell 01-09 and none that defines causal_mask); was it deleted?")
    assert rows["deleted_renamed"]["01 masked_conv2d"] == (
        "error: the exercise cell ran but defines no masked_conv2d (it defines my_conv): keep the name the exercise asks for")
    assert (rows["reordered"]["01 causal_mask"], rows["reordered"]["01 masked_conv2d"]) == ("pass", "pass")


def test_edited_check_cells_and_fake_results_never_pass(graded):
    rows, _, _ = graded
    assert rows["cheat"]["01 causal_mask"] == "not done"  # the course's evaluate, kept before the cell ran
    assert rows["cheat"]["01 masked_conv2d"] == "error: the submission's code replaced the course's check"


def test_an_endless_exercise_times_out_and_the_others_are_still_graded(graded):
    rows, _, _ = graded
    for name in ("loop", "stubborn"):  # stubborn ignores the interrupt: the kernel is restarted
        assert rows[name]["01 causal_mask"] == "error: timed out: the exercise cell ran over 3 s", name
        assert rows[name]["01 masked_conv2d"] == "pass", name
        assert rows[name]["note"] == "timed out: causal_mask"


def test_syntax_errors_and_exceptions_at_import_are_errors(graded):
    rows, _, _ = graded
    assert rows["syntax"]["01 masked_conv2d"] == "error: SyntaxError in line 2 of the exercise cell: invalid syntax"
    assert rows["syntax"]["01 causal_mask"].startswith("error: SyntaxError in line 1 of the exercise cell: ")
    assert rows["raises"]["01 causal_mask"] == (
        "error: the exercise cell raised ModuleNotFoundError: No module named 'not_a_course_module'")
    assert rows["raises"]["01 masked_conv2d"] == "error: the exercise cell raised RuntimeError: boom"


def test_a_notebook_from_an_older_version_of_the_course(graded):
    rows, _, _ = graded
    assert rows["older"]["notebook"] == "08"
    assert rows["older"]["08 effective_field"].startswith(
        "error: older version of the course: this notebook has nll_map (cell 08-15)")
    assert "check_nll_map, which the course no longer has" in rows["older"]["note"]


def test_nothing_a_submission_writes_or_starts_survives(graded):
    rows, _, paths = graded
    assert rows["escapes"]["01 causal_mask"] == "pass"
    assert list(paths["temp"].iterdir()) == []  # every temporary folder, with HOME and the working directory, is gone
    running = [p for p in Path("/proc").glob("[0-9]*") if SLEEP in _cmdline(p)]
    assert running == []
    if isolation().sealed:
        assert not paths["outside"].exists()


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def test_the_report_and_the_summary(graded):
    rows, stdout, paths = graded
    assert sorted(p.name for p in paths["out"].iterdir()) == ["grades.csv", "report.html", "report.md", "summary.csv"]
    with open(paths["out"] / "summary.csv", newline="", encoding="utf-8") as file:
        summary = {row["exercise"]: row for row in csv.DictReader(file)}
    causal = summary["01 causal_mask"]
    graded_01 = [r for r in rows.values() if r["01 causal_mask"]]
    assert causal["passed"] == f"{sum(r['01 causal_mask'] == 'pass' for r in graded_01)}/{len(graded_01)}"
    assert causal["most common wrong message"] == rows["wrong"]["01 causal_mask"].removeprefix("wrong: ")
    page = (paths["out"] / "report.html").read_text(encoding="utf-8")
    assert "<td class='wrong'>" in page and "Per exercise" in page
    assert re.search(r"Graded 14 submissions in [\d.]+ s \([\d.]+ s each on average\)", stdout)
    assert "01 causal_mask" in stdout and "look at " in stdout


def test_usage_errors_exit_with_status_2(tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main([str(empty)]) == 2
    assert "no notebooks (*.ipynb) in the folder" in capsys.readouterr().err
    assert main([str(tmp_path / "missing.ipynb")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    (tmp_path / "file").write_text("")
    assert main([str(SOLUTIONS / NB01), "--out", str(tmp_path / "file")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_the_registry_matches_the_solution_notebooks():
    """Every exercise cell of solutions/ is a task, in order, with its answer, check and check cell."""
    course = load_course()
    for number, notebook in course.items():
        nb = json.loads((SOLUTIONS / notebook.name).read_text(encoding="utf-8"))
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        sources = {c["id"]: "".join(c["source"]) for c in code}
        exercises = [c["id"] for c in code if "### BEGIN SOLUTION" in "".join(c["source"])]
        assert [t.cell for t in tasks(number)] == exercises, number
        order = [c["id"] for c in code]
        steps = [s if isinstance(s, str) else s.cell for s in STEPS[number]]
        assert steps == sorted(steps, key=order.index), f"{number}: steps out of the notebook's order"
        for task in tasks(number):
            assert re.search(rf"^(def|class) {task.answer}\b", sources[task.cell], re.M), task
            assert order[order.index(task.cell) + 1] == task.check_cell, task
            assert f"pixelcourse.checks.{task.check}({task.answer})" in sources[task.check_cell], task
        for step in STEPS[number]:  # setup cells are quick: nothing that loads data, trains or samples
            if isinstance(step, str):
                assert not re.search(r"\b(load_dataset|train_or_load|load_pretrained|fit|sample)\(", sources[step]), step
    assert sorted(task.check for _, task in ALL_TASKS) == sorted(pixelcourse.checks.EXERCISES)
    current = {task.answer for _, task in ALL_TASKS}
    for number, formers in FORMER.items():
        for former in formers:
            assert former.answer not in current and former.check not in pixelcourse.checks.EXERCISES
            assert former.now in {task.answer for task in tasks(number)}


def test_a_notebook_without_cell_ids_is_matched_by_its_exercises(tmp_path):
    nb = load(SOLUTIONS)
    nb.nbformat_minor = 4
    for c in nb.cells:
        c.pop("id", None)
    path = tmp_path / "downloaded.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    sub = read_submission(path, load_course())
    assert sub.number == "01" and sub.problem is None
    assert "recognised by its exercises" in sub.notes[0]
    assert [a.task.answer for a in sub.attempts if a.source and a.outcome is None] == ["causal_mask", "masked_conv2d"]


def test_a_former_exercise_in_its_old_cell_is_an_older_version(tmp_path):
    nb = load(NOTEBOOKS, "03_training_on_mnist.ipynb")
    cell(nb, "03-08").source = "def batch_bits_per_dim(logits, x):\n    raise NotImplementedError"
    path = tmp_path / "03.ipynb"
    nbformat.write(nb, path)
    sub = read_submission(path, load_course())
    outcome = next(a.outcome for a in sub.attempts if a.task.answer == "training_step")
    assert outcome.status == "error" and "older version of the course" in outcome.detail
