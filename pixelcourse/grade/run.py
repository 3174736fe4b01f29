"""Grading one submission in a fresh kernel: the course's setup, the learner's exercise cells, the course's checks.

For each notebook the steps of ``exercises.STEPS`` run in the course's order: the course's own setup
cells, and for each exercise the submission's cell followed by the course's check, called by the grader
(``pixelcourse.checks.evaluate``), never the submission's copy of the check cell. The check's result comes
back as a display output of the grader's own type that carries a random nonce of this run, so nothing a
submission prints can pose as a result. An exercise that runs over its time is interrupted (the kernel is
restarted if it does not stop) and the notebook's other exercises are still graded.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from .exercises import STEPS, CourseNotebook, column
from .kernel import MIME, Kernel, Ran, results
from .sandbox import Box
from .submission import ERROR, NOT_DONE, PASS, WRONG, Attempt, Outcome, Submission

# Runs before any submission code: it keeps the course's evaluate and checks, so that a submission that
# swaps pixelcourse.checks.evaluate does not change what the grader calls (and one that swaps a check is told).
PREAMBLE = '''
def _grader_{nonce}():
    import pixelcourse.checks.core as core
    from IPython.display import display

    evaluate, exercises = core.evaluate, dict(core.EXERCISES)

    def verdict(check, answer, namespace):
        if answer not in namespace:
            result = {{"status": "missing"}}
        elif core.EXERCISES.get(check) is not exercises[check]:
            result = {{"status": "tampered"}}
        else:
            status, line = evaluate(check, namespace[answer])
            result = {{"status": status, "line": line}}
        display({{"{mime}": dict(result, nonce="{nonce}")}}, raw=True)

    return verdict


_grade_{nonce} = _grader_{nonce}()
del _grader_{nonce}
'''


@dataclass(frozen=True)
class Limits:
    """Time limits in seconds."""

    notebook: float = 120.0  # one submission in all: kernel start, setup, every exercise and check
    exercise: float = 30.0  # one exercise cell, and again its check (which runs the learner's code)


@dataclass
class Graded:
    """A graded submission: an outcome per exercise column, what the teacher should know, and the time."""

    submission: Submission
    outcomes: dict[str, Outcome]  # column (e.g. "01 causal_mask") -> outcome
    notes: list[str]
    seconds: float


class _Stop(Exception):
    """The kernel cannot go on: every exercise not yet graded gets this reason."""


class _Session:
    """The cells of one submission in one kernel (restarted when an exercise will not stop)."""

    def __init__(self, sub: Submission, notebook: CourseNotebook, limits: Limits, box: Box):
        self.sub, self.notebook, self.limits, self.box = sub, notebook, limits, box
        self.deadline = time.perf_counter() + limits.notebook
        self.nonce = secrets.token_hex(8)
        self.outcomes: dict[str, Outcome] = {}
        self.notes: list[str] = []
        self.replay: list[str] = []  # setup and exercise cells that ran, to run again after a restart
        self.kernel: Kernel | None = None

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    async def grade(self) -> None:
        attempts = {a.task.cell: a for a in self.sub.attempts}
        try:
            await self._start()
            for step in STEPS[self.notebook.number]:
                if isinstance(step, str):
                    await self._setup(step)
                elif attempts[step.cell].outcome is None:
                    await self._exercise(attempts[step.cell])
        except _Stop as stop:
            for attempt in self.sub.attempts:
                self._decide(attempt, Outcome(ERROR, str(stop)), only_if_open=True)
        finally:
            if self.kernel is not None:
                await self.kernel.stop()

    def _decide(self, attempt: Attempt, outcome: Outcome, only_if_open: bool = False) -> None:
        key = column(self.notebook.number, attempt.task)
        if attempt.outcome is None and not (only_if_open and key in self.outcomes):
            self.outcomes[key] = outcome

    async def _start(self) -> None:
        if self.left() < 1:
            raise _Stop(self._spent())
        self.kernel = Kernel(self.box)
        try:
            await self.kernel.start(min(60.0, self.left()))
        except RuntimeError as err:
            self.kernel = None
            raise _Stop(str(err)) from None
        ran = await self.kernel.run(PREAMBLE.format(nonce=self.nonce, mime=MIME), self.left(), history=False)
        if ran.state != "ok":
            raise _Stop(f"the grader could not prepare the kernel ({ran.error or ran.state})")
        for source in self.replay:
            ran = await self.kernel.run(source, self.left())
            if ran.state != "ok":
                raise _Stop(f"not graded: after a restart the notebook's earlier cells failed ({ran.error or ran.state})")

    async def _setup(self, cell_id: str) -> None:
        source = self.notebook.code[cell_id]
        learners = "mine.use(" in source  # checks the learner's saved part, so it runs the learner's code
        ran = await self.kernel.run(source, min(self.limits.exercise, self.left()) if learners else self.left())
        if ran.state == "timeout" and self.left() < 1:
            raise _Stop(self._spent())
        if learners and ran.state in ("timeout", "dead"):
            self.notes.append(f"timed out: the course's cell {cell_id}, which checks a part of the learner's")
            return await self._recover(ran)  # the next exercise is graded with what is defined
        if ran.state != "ok":
            raise _Stop(f"the course's setup cell {cell_id} failed ({ran.error or ran.state})")
        self.replay.append(source)

    async def _exercise(self, attempt: Attempt) -> None:
        if self.left() < 1:
            return self._decide(attempt, Outcome(ERROR, self._spent()))
        await self.kernel.run(f"globals().pop({attempt.task.answer!r}, None)", self.left(), history=False)
        limit = min(self.limits.exercise, self.left())
        ran = await self.kernel.run(attempt.source, limit)
        if ran.state in ("timeout", "dead"):
            self._decide(attempt, self._stopped(ran, limit, "the exercise cell", attempt))
            return await self._recover(ran)
        if ran.state == "error":
            return self._decide(attempt, Outcome(ERROR, f"the exercise cell raised {ran.error}"))
        self.replay.append(attempt.source)
        limit = min(self.limits.exercise, self.left())
        call = f"_grade_{self.nonce}({attempt.task.check!r}, {attempt.task.answer!r}, globals())"
        ran = await self.kernel.run(call, limit, history=False)
        if ran.state in ("timeout", "dead"):
            self._decide(attempt, self._stopped(ran, limit, "the check (running your code)", attempt))
            return await self._recover(ran)
        found = results(ran.outputs, self.nonce)
        if not found:
            why = f": {ran.error}" if ran.error else ""
            return self._decide(attempt, Outcome(ERROR, f"the check gave no result{why}"))
        self._decide(attempt, _verdict(found[-1], attempt))

    def _stopped(self, ran: Ran, limit: float, what: str, attempt: Attempt) -> Outcome:
        if ran.state == "dead":
            self.notes.append(f"{attempt.task.answer} ended the kernel")
            return Outcome(ERROR, f"{what} ended the kernel (exit or crash)")
        self.notes.append(f"timed out: {attempt.task.answer}")
        return Outcome(ERROR, f"timed out: {what} ran over {limit:.0f} s")

    async def _recover(self, ran: Ran) -> None:
        """Go on after a timeout (the interrupt usually stops it) or a dead kernel (a fresh one)."""
        if ran.state == "timeout" and self.left() >= 1 and await self.kernel.alive():
            return
        await self.kernel.stop()
        self.kernel = None
        await self._start()

    def _spent(self) -> str:
        return f"not graded: the notebook's time limit ({self.limits.notebook:.0f} s) was spent"


def _verdict(result: dict, attempt: Attempt) -> Outcome:
    status = result.get("status")
    if status == "passed":
        return Outcome(PASS)
    if status == "not implemented yet":
        return Outcome(NOT_DONE)
    if status == "wrong":
        return Outcome(WRONG, str(result.get("line", "")).partition(" — ")[2] or "wrong")
    if status == "missing":
        others = [name for name in attempt.defines if name != attempt.task.answer]
        hint = f" (it defines {', '.join(others)}): keep the name the exercise asks for" if others else ""
        return Outcome(ERROR, f"the exercise cell ran but defines no {attempt.task.answer}{hint}")
    if status == "tampered":
        return Outcome(ERROR, "the submission's code replaced the course's check")
    return Outcome(ERROR, f"the check gave an unknown result ({status})")


async def grade(sub: Submission, course: dict[str, CourseNotebook], limits: Limits, sealed: bool) -> Graded:
    """Grade one submission read by ``read_submission``; never raises for anything the submission does."""
    start = time.perf_counter()
    outcomes = {column(sub.number, a.task): a.outcome for a in sub.attempts if a.outcome is not None}
    notes = list(sub.notes)
    if any(a.outcome is None for a in sub.attempts):
        box = Box(sealed)
        try:
            session = _Session(sub, course[sub.number], limits, box)
            await session.grade()
            outcomes.update(session.outcomes)
            notes += [note for note in dict.fromkeys(session.notes) if note not in notes]
        finally:
            box.remove()
    return Graded(sub, outcomes, notes, time.perf_counter() - start)


async def grade_all(subs: list[Submission], course: dict[str, CourseNotebook], limits: Limits, sealed: bool,
                    jobs: int = 1, on_done: Callable[[Graded], None] | None = None) -> list[Graded]:
    """Grade every submission, ``jobs`` kernels at a time; results in the order of ``subs``."""
    gate = asyncio.Semaphore(max(1, jobs))

    async def one(sub: Submission) -> Graded:
        async with gate:
            try:
                graded = await grade(sub, course, limits, sealed)
            except Exception as err:  # the grader's own failure on one submission: its row says so, the rest go on
                why = Outcome(ERROR, f"the grader failed on this submission ({type(err).__name__}: {err})"[:200])
                graded = Graded(sub, {column(sub.number, a.task): a.outcome or why for a in sub.attempts},
                                sub.notes + ["the grader failed on this submission"], 0.0)
        if on_done is not None:
            on_done(graded)
        return graded

    return list(await asyncio.gather(*(one(sub) for sub in subs)))
