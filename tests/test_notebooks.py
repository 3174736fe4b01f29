"""The course notebooks: one source, stubs for learners, solutions that pass, and nbval that names open exercises.

solutions/ is the source; tools/make_notebooks.py writes notebooks/. The last test
runs nbval over the learner notebooks in quick mode with a real kernel, as a learner
would, and checks that the failing cells are exactly the checks of the open exercises.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
import torch
import torch.nn.functional as F
from torch import nn

import pixelcourse
from pixelcourse import checks

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
NOTEBOOKS = REPO / "notebooks"
CHECK_MARK = "# NBVAL_CHECK_OUTPUT"
CHECK_CALL = re.compile(r"pixelcourse\.checks\.(check_\w+)\((\w+)\)")
COURSE = [f"{n:02d}" for n in (*range(1, 9), 10)]  # the notebooks written with exercises (09 is the drawing pad)


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_notebooks", REPO / "tools" / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make_notebooks = _load_generator()


def _read(path: Path):
    return nbformat.read(path, as_version=4)


def _code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def find_exercises(path: Path) -> list[dict]:
    """Every check call of a solution notebook with the exercise cell that defines its answer.

    Returns dicts: notebook, check (name), answer (name), cell (index of the exercise cell),
    check_cell (index among code cells, as nbval counts them).
    """
    nb = _read(path)
    found, code_index = [], -1
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        code_index += 1
        for check, answer in CHECK_CALL.findall(cell.source):
            defining = [
                k for k in range(index) if make_notebooks.is_exercise(nb.cells[k])
                and re.search(rf"^(def|class) {answer}\b", nb.cells[k].source, re.M)
            ]
            assert defining, f"{path.name}: no exercise cell above defines {answer} for {check}"
            found.append(dict(notebook=path.name, check=check, answer=answer, cell=defining[-1], check_cell=code_index))
    return found


ALL_EXERCISES = [ex for path in sorted(SOLUTIONS.glob("*.ipynb")) for ex in find_exercises(path)]


def _answer(path: Path, exercise: dict):
    """Run the exercise cell of ``path`` alone (with the course's usual imports) and return the answer."""
    source = _read(path).cells[exercise["cell"]].source
    source = re.sub(r"\A%%mine[^\n]*\n", "", source)  # the cell magic that saves the part; plain Python below it
    namespace = {"torch": torch, "nn": nn, "F": F, "pixelcourse": pixelcourse, "math": __import__("math"),
                 "time": __import__("time"),
                 # the earlier parts an exercise builds on, as the package's references (pixelcourse.mine.use)
                 "MyMaskedConv2d": pixelcourse.MaskedConv2d, "MyResidualBlock": pixelcourse.ResidualBlock,
                 "MyVerticalConv2d": pixelcourse.layers.VerticalConv2d, "MyGatedBlock": pixelcourse.GatedBlock}
    exec(compile(source, f"{path.name}[cell {exercise['cell']}]", "exec"), namespace)
    return namespace[exercise["answer"]]


def _ids(exercise: dict) -> str:
    return f"{exercise['notebook'][:2]}-{exercise['check']}"


# --------------------------------------------------------------------------- the generator


def test_notebooks_folder_is_what_the_generator_writes():
    wanted = make_notebooks.plan()
    stale = [p.name for p, text in wanted.items() if not p.exists() or p.read_text(encoding="utf-8") != text]
    extra = sorted(p.name for p in set(NOTEBOOKS.glob("*.ipynb")) - set(wanted))
    assert not stale and not extra, (
        f"notebooks/ differs from solutions/ (stale: {stale}, without source: {extra}); "
        "run `python tools/make_notebooks.py`."
    )


def test_generator_check_mode_agrees():
    result = subprocess.run([sys.executable, str(REPO / "tools" / "make_notebooks.py"), "--check"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr


def test_stub_keeps_indentation_and_code_around_it():
    source = (
        "def f(x):\n"
        '    """Doc."""\n'
        "    ### BEGIN SOLUTION\n"
        "    y = x + 1\n"
        "    return y\n"
        "    ### END SOLUTION\n"
        "\n"
        "class A:\n"
        "    def g(self):\n"
        "        ### BEGIN SOLUTION\n"
        "        return 2\n"
        "        ### END SOLUTION"
    )
    stub = make_notebooks.stub_source(source)
    assert "return y" not in stub and "return 2" not in stub and "SOLUTION" not in stub
    assert '    """Doc."""\n    # YOUR CODE HERE\n    raise NotImplementedError(' in stub
    assert "        # YOUR CODE HERE\n        raise NotImplementedError(" in stub
    namespace = {}
    exec(stub, namespace)
    with pytest.raises(NotImplementedError):
        namespace["f"](1)
    with pytest.raises(NotImplementedError):
        namespace["A"]().g()


@pytest.mark.parametrize("source, problem", [
    ("### BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n### END SOLUTION", "without a BEGIN"),
    ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
])
def test_stub_rejects_unpaired_markers(source, problem):
    with pytest.raises(make_notebooks.SolutionMarkerError, match=problem):
        make_notebooks.stub_source(source, "demo")


def test_learner_version_clears_only_exercise_outputs():
    nb = nbformat.v4.new_notebook()
    plain = nbformat.v4.new_code_cell("print(1)", execution_count=1, outputs=[nbformat.v4.new_output("stream", text="1\n")])
    exercise = nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
                                         execution_count=2, outputs=[nbformat.v4.new_output("stream", text="x\n")])
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"), plain, exercise]
    learner = make_notebooks.learner_version(nb)
    assert learner.cells[1].outputs == plain.outputs and learner.cells[1].execution_count == 1
    assert learner.cells[2].outputs == [] and learner.cells[2].execution_count is None
    assert "NotImplementedError" in learner.cells[2].source
    assert nb.cells[2].source.endswith("### END SOLUTION")  # the solution notebook is untouched


def test_learner_version_clears_the_outputs_that_show_your_own_work():
    nb = nbformat.v4.new_notebook()
    out = [nbformat.v4.new_output("stream", text="MyPixelCNN: yours\n")]
    loads = nbformat.v4.new_code_cell('MyPixelCNN = pixelcourse.mine.use("MyPixelCNN")', execution_count=1, outputs=out)
    tagged = nbformat.v4.new_code_cell("print(losses[-1])", execution_count=2, outputs=out,
                                       metadata={"tags": ["shows-your-work"]})
    other = nbformat.v4.new_code_cell("print(2)", execution_count=3, outputs=out)
    nb.cells = [loads, tagged, other]
    learner = make_notebooks.learner_version(nb)
    assert learner.cells[0].outputs == [] and learner.cells[1].outputs == [] and learner.cells[2].outputs == out


# --------------------------------------------------------------------------- the exercises


def test_every_course_notebook_has_an_exercise_with_a_marked_check_cell():
    names = {p.name for p in SOLUTIONS.glob("*.ipynb")}
    for number in COURSE:
        assert [n for n in names if n.startswith(number)], f"solutions/ has no notebook {number}"
    with_exercises = {ex["notebook"][:2] for ex in ALL_EXERCISES}
    assert set(COURSE) <= with_exercises
    assert {ex["check"] for ex in ALL_EXERCISES} == set(checks.EXERCISES), "every check is used exactly in the course"
    for path in SOLUTIONS.glob("*.ipynb"):
        for cell in _code_cells(_read(path)):
            if CHECK_CALL.search(cell.source):
                assert cell.source.startswith(CHECK_MARK), f"{path.name}: a check cell must start with {CHECK_MARK}"


@pytest.mark.parametrize("exercise", ALL_EXERCISES, ids=_ids)
def test_solution_cell_passes_its_check_and_kept_the_passed_line(exercise):
    answer = _answer(SOLUTIONS / exercise["notebook"], exercise)
    status, line = checks.evaluate(exercise["check"], answer)
    assert status == checks.PASSED, line
    cell = _code_cells(_read(SOLUTIONS / exercise["notebook"]))[exercise["check_cell"]]
    stored = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    assert stored == line + "\n", f"the solution notebook must store the passed line of {exercise['check']}"


@pytest.mark.parametrize("exercise", ALL_EXERCISES, ids=_ids)
def test_learner_stub_raises_not_implemented(exercise):
    answer = _answer(NOTEBOOKS / exercise["notebook"], exercise)
    with pytest.raises(NotImplementedError):
        checks.EXERCISES[exercise["check"]].example(answer)
    assert checks.evaluate(exercise["check"], answer)[0] == checks.NOT_IMPLEMENTED


# --------------------------------------------------------------------------- nbval over the learner notebooks

LEARNER_PARTS = re.compile(r"pixelcourse\.mine\b|^%%mine", re.M)  # the cells that save or load a learner's own parts


def _root_name(node: ast.AST) -> str | None:
    """The variable at the root of ``a.b[c].d``: the object that an item or attribute store or a method call changes."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def cell_names(source: str) -> tuple[set, set, set]:
    """(names the code cell may bind or change, names it reads, module names it imports).

    A cell magic's body (``%%mine``) is Python; line magics become calls. An item or
    attribute store, or a method call, counts as changing the object it starts from.
    """
    if source.startswith("%%"):
        source = source.partition("\n")[2]
    tree = ast.parse(TransformerManager().transform_cell(source))
    bound, read, modules = set(), set(), set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.alias):
            modules.add((node.asname or node.name).split(".")[0])
        elif isinstance(node, ast.Name):
            (bound if isinstance(node.ctx, (ast.Store, ast.Del)) else read).add(node.id)
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(_root_name(node))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            bound.add(_root_name(node.func.value))
    return bound - {None}, read, modules


def learner_cells(name: str) -> int:
    """How many leading code cells of the learner notebook ``name`` can behave otherwise than its solution's.

    A cell can when its code differs from the solution's (an exercise stub, a check),
    when it reads a name that such a cell bound or changed (a learner's function, what
    was computed with it), directly or through other cells, or when it saves or loads a
    learner's parts (``pixelcourse.mine``). Every later cell is the solution's code on
    the solution's names: the strict nbval of solutions/ runs it and compares its outputs.
    """
    learner, solved = (_code_cells(_read(folder / name)) for folder in (NOTEBOOKS, SOLUTIONS))
    assert len(learner) == len(solved), f"{name}: the learner notebook must have its solution's code cells"
    tainted, modules, end = set(), set(), 0
    for k, (mine, theirs) in enumerate(zip(learner, solved)):
        bound, read, imported = cell_names(mine.source)
        modules |= imported
        if mine.source != theirs.source or read & tainted or LEARNER_PARTS.search(mine.source):
            tainted |= bound - modules
            end = k + 1
        else:
            tainted -= bound  # bound afresh from the solution's names
    return end


def learner_copies(folder: Path) -> dict[str, int]:
    """Write into ``folder`` each learner notebook cut after its last cell that can behave otherwise (``learner_cells``).

    Returns {notebook: code cells kept}; a notebook with none (its code is its solution's) is not written.
    """
    kept = {}
    folder.mkdir(parents=True)
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        kept[path.name] = learner_cells(path.name)
        if kept[path.name]:
            nb, seen = _read(path), 0
            for index, cell in enumerate(nb.cells):
                seen += cell.cell_type == "code"
                if seen == kept[path.name]:
                    nb.cells = nb.cells[: index + 1]
                    break
            nbformat.write(nb, folder / path.name)
    return kept


def run_nbval_lax(notebooks: list[Path], root: Path, processes: int = 2) -> tuple[dict, dict, str]:
    """Run ``pytest --nbval-lax`` over ``notebooks`` (in ``root``/notebooks) in quick mode, split over ``processes`` runs.

    Returns {(notebook file, "Cell N"): failure text} of every failed or erroring cell, {notebook file: cells
    run}, and the runs' output.
    """
    env = {**os.environ, "PIXELCOURSE_QUICK": "1", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    runs = []
    sanitize = root / "nbval_sanitize.cfg"  # the strict run's sanitising, from inside root (nbval names cells by it)
    shutil.copyfile(REPO / "tools" / "nbval_sanitize.cfg", sanitize)
    for k in range(processes):
        env = {**env, "PIXELCOURSE_PARTS_DIR": str(root / f"my_pixelcnn-{k}")}  # never a learner's own parts
        report = root / f"nbval-{k}.xml"
        share = [str(p.relative_to(root)) for p in notebooks[k::processes]]
        command = [sys.executable, "-m", "pytest", "-o", "addopts=", "--nbval-lax", "--nbval-current-env",
                   "--nbval-sanitize-with", sanitize.name, "-p", "no:cacheprovider",
                   "-q", "--color=no", f"--junitxml={report}", *share]
        runs.append((report, subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                              cwd=root, env=env)))
    failed, ran, outputs = {}, {}, []
    for report, run in runs:
        output = run.communicate(timeout=1800)[0]
        outputs.append(output)
        assert report.exists(), output[-3000:]
        for case in ET.parse(report).getroot().iter("testcase"):
            notebook = case.get("classname", "").removeprefix("notebooks.")  # "notebooks.01_x.ipynb"
            ran[notebook] = ran.get(notebook, 0) + 1
            problem = case.find("failure")
            problem = problem if problem is not None else case.find("error")
            if problem is not None:
                failed[(notebook, case.get("name"))] = (problem.get("message") or "") + (problem.text or "")
    return failed, ran, "\n".join(outputs)


def test_learner_runs_keep_every_cell_that_can_differ():
    """The cut of ``learner_cells``: each exercise's cells stay in, and so does what uses a learner's parts."""
    for exercise in ALL_EXERCISES:
        assert learner_cells(exercise["notebook"]) > exercise["check_cell"], exercise
    assert learner_cells("09_draw_and_complete.ipynb") == 0  # the drawing pad has no exercise
    assert learner_cells("03_training_on_mnist.ipynb") == len(_code_cells(_read(NOTEBOOKS / "03_training_on_mnist.ipynb")))
    kept = learner_cells("10_likelihood_in_practice.ipynb")
    cells = _code_cells(_read(NOTEBOOKS / "10_likelihood_in_practice.ipynb"))
    assert kept < len(cells) and "marginal_bits(" not in "".join(c.source for c in cells[kept:])


def test_nbval_on_learner_notebooks_fails_exactly_on_open_exercises(tmp_path):
    """What a learner sees before solving anything: every check of an exercise fails, naming it, and nothing else.

    Each learner notebook runs up to its last cell that can behave otherwise than its solution's
    (``learner_copies``); the cells after it are run, and their outputs compared, by the strict
    nbval of solutions/.
    """
    kept = learner_copies(tmp_path / "notebooks")
    failed, ran, output = run_nbval_lax(sorted((tmp_path / "notebooks").glob("*.ipynb")), tmp_path)
    expected = {(ex["notebook"], f"Cell {ex['check_cell']}"): ex for ex in ALL_EXERCISES}
    assert set(failed) == set(expected), (
        f"unexpected failures: {sorted(set(failed) - set(expected))}, "
        f"checks that did not fail: {sorted(set(expected) - set(failed))}\n" + output[-4000:]
    )
    for key, exercise in expected.items():
        name = checks.EXERCISES[exercise["check"]].name
        assert f"⏳ {name}: not implemented yet" in failed[key], f"{key} must name its exercise"
    assert ran == {name: count for name, count in kept.items() if count}, "every kept cell must have run"
