"""The grader for teachers: ``python -m pixelcourse.grade SUBMISSION... [--out report]``.

Each learner notebook runs in a fresh kernel in a temporary folder (sealed with Linux namespaces where
the machine allows it): the course's own setup cells, the learner's exercise cells, found by cell id,
and the course's own checks. The result is a table, one row per submission and one column per exercise.

Modules, lowest first: ``exercises`` (the registry: each notebook's setup cells and exercises),
``submission`` (reading a notebook and matching it to the course), ``sandbox`` and ``seal`` (the
temporary folder and the sealed kernel), ``kernel`` (one cell at a time under a time limit), ``run``
(one submission), ``report`` (CSV, HTML, Markdown, the summary), ``cli`` (the command line).
"""

from .cli import main
from .exercises import ALL_TASKS, STEPS, Task, load_course
from .report import write_report
from .run import Graded, Limits, grade, grade_all
from .sandbox import isolation
from .submission import ERROR, NOT_DONE, PASS, WRONG, Outcome, read_submission
