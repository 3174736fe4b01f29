"""The course as the grader sees it: for each notebook, the cells to run, in order, to grade its exercises.

A notebook's steps are the ids of the course's own setup cells (imports, the given layers an exercise
builds on, the ``use`` cells that hand a checked part to the next exercise) and its exercises, in the
order of the notebook. Nothing here trains or loads data: every exercise and its check run on small
inputs, so a notebook grades in seconds. ``tests/test_grade.py`` proves that this registry matches
``solutions/``: every exercise cell is listed, with the name it defines and the check that follows it.

``FORMER`` lists exercises of earlier versions of the course (same notebook, replaced since), so that a
notebook from an older version gets a clear row instead of a puzzling one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..checks import EXERCISES
from ..settings import REPO_DIR

COURSE_DIR = REPO_DIR / "notebooks"  # the learner notebooks: the course's setup cells are read from here


@dataclass(frozen=True)
class Task:
    """One exercise as the grader runs it."""

    cell: str  # the id of the exercise cell
    answer: str  # the name the cell defines (the function or class the check is given)
    check: str  # its check in pixelcourse.checks
    check_cell: str  # the id of the check cell after it (tells a deleted cell from an older notebook)

    @property
    def title(self) -> str:
        """The exercise's name as its check prints it."""
        return EXERCISES[self.check].name


@dataclass(frozen=True)
class Former:
    """An exercise of an earlier version of the course, replaced since by ``now``."""

    cell: str
    answer: str
    check: str
    now: str  # the answer of the exercise that took its place


Step = str | Task  # a setup cell id, or an exercise

STEPS: dict[str, tuple[Step, ...]] = {
    "01": ("01-02", "01-03",
           Task("01-09", "causal_mask", "check_causal_mask", "01-10"),
           Task("63f4acbc", "masked_conv2d", "check_masked_conv", "41d3d9fb")),
    "02": ("02-01", "02-parts", "02-layer",
           Task("02-03", "MyResidualBlock", "check_residual_block", "02-04"),
           "02-block-use",
           Task("02-model", "MyPixelCNN", "check_pixelcnn", "02-model-check")),
    "03": ("03-01",
           Task("03-08", "training_step", "check_training_step", "03-09"),
           Task("f3976b8a", "train_loop", "check_train_loop", "d14d6ffd")),
    "04": ("04-01", "04-parts",
           Task("04-vconv", "vertical_conv2d", "check_vertical_conv", "04-vconv-check"),
           "04-vlayer", "04-vlayer-use",
           Task("04-09", "MyGatedBlock", "check_gated_block", "04-10"),
           "04-block-use",
           Task("04-model", "MyGatedPixelCNN", "check_gated_pixelcnn", "04-model-check")),
    "05": ("05-01",
           Task("05-03", "color_mask", "check_color_mask", "05-04"),
           Task("05-ex2", "discretised_logistic_log_prob", "check_discretised_logistic", "05-ex2-check")),
    "06": ("06-01",
           Task("06-07", "sample_level", "check_sample_step", "06-08"),
           Task("85a57b4f", "my_complete", "check_complete_loop", "9816217a")),
    "07": ("07-01", Task("07-05", "nucleus_probs", "check_nucleus", "07-06")),
    "08": ("08-01", Task("da518f33", "effective_field", "check_effective_field", "ab8f1f7a")),
    "09": (),  # the drawing pad: nothing to grade
    "10": ("nb10-01", Task("nb10-20", "marginal_bits", "check_marginal_bits", "nb10-21")),
}

FORMER: dict[str, tuple[Former, ...]] = {
    "03": (Former("03-08", "batch_bits_per_dim", "check_bits_per_dim", "training_step"),),
    "04": (Former("04-09", "my_gated_activation", "check_gated_activation", "MyGatedBlock"),),
    "07": (Former("07-05", "tempered_probs", "check_temperature", "nucleus_probs"),),
    "08": (Former("08-15", "nll_map", "check_nll_map", "effective_field"),),
}


def tasks(number: str) -> list[Task]:
    """The exercises of notebook ``number`` in course order."""
    return [step for step in STEPS[number] if isinstance(step, Task)]


ALL_TASKS: list[tuple[str, Task]] = [(number, task) for number in STEPS for task in tasks(number)]


def column(number: str, task: Task) -> str:
    """The column of an exercise in the grade table, e.g. ``01 causal_mask``."""
    return f"{number} {task.answer}"


class CourseError(RuntimeError):
    """The course's own notebooks are missing or do not match this registry."""


@dataclass(frozen=True)
class CourseNotebook:
    """A course notebook as the grader needs it: its file name, every cell id, and the code of each cell."""

    number: str
    name: str  # e.g. "01_masked_convolutions.ipynb"
    ids: frozenset[str]  # every cell's id, markdown included (to recognise a submission)
    code: dict[str, str]  # cell id -> source, code cells only


def load_course(folder: Path = COURSE_DIR) -> dict[str, CourseNotebook]:
    """The course notebooks in ``folder``, by number; raises CourseError naming what is missing."""
    course = {}
    for number, steps in STEPS.items():
        found = sorted(folder.glob(f"{number}_*.ipynb"))
        if not found:
            raise CourseError(f"the course notebook {number}_*.ipynb is not in {folder}: "
                              "run the grader from a complete copy of the course")
        cells = json.loads(found[0].read_text(encoding="utf-8"))["cells"]
        code = {cell["id"]: cell_text(cell["source"]) for cell in cells if cell["cell_type"] == "code"}
        missing = [step if isinstance(step, str) else step.cell for step in steps
                   if (step if isinstance(step, str) else step.cell) not in code]
        if missing:
            raise CourseError(f"{found[0].name} has no cell {', '.join(missing)}: "
                              "the grader's registry (pixelcourse/grade/exercises.py) is out of date")
        course[number] = CourseNotebook(number, found[0].name, frozenset(cell["id"] for cell in cells), code)
    return course


def cell_text(source: str | list[str]) -> str:
    """A cell's source as one string (notebook files may store it as a list of lines)."""
    return source if isinstance(source, str) else "".join(source)
