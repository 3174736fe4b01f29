"""The machinery of the exercise checks (see the package docstring for what a learner sees).

``register`` turns a test function into a public ``check_...`` that prints one line;
``evaluate`` runs a test in a forked random state with the answer's own prints and
warnings swallowed, and turns every outcome into passed, not implemented or wrong.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import torch

PASSED = "passed"
NOT_IMPLEMENTED = "not implemented yet"
WRONG = "wrong"
SYMBOLS = {PASSED: "✅", NOT_IMPLEMENTED: "⏳", WRONG: "❌"}
COLOURS = "RGB"


class Wrong(Exception):
    """Raised inside a check with the reason the learner's answer is wrong."""


@dataclass(frozen=True)
class Exercise:
    """One exercise: its name, its notebook, how to test it and how to call it once."""

    name: str  # shown in every check line
    notebook: str  # the notebook that holds it
    test: Callable[[Any], None]  # raises Wrong(reason) (or any error) unless the answer is right
    example: Callable[[Any], Any]  # calls the answer once with valid arguments (a stub raises NotImplementedError)


EXERCISES: dict[str, Exercise] = {}  # check function name -> Exercise


def evaluate(check_name: str, answer) -> tuple[str, str]:
    """Run the check ``check_name`` on ``answer``; returns (status, line) and never raises.

    status is PASSED, NOT_IMPLEMENTED or WRONG; line is what the check prints.
    """
    exercise = EXERCISES[check_name]
    reason = ""
    if not callable(answer):
        status, reason = WRONG, f"expected your function (or class), got {type(answer).__name__}"
    else:
        try:
            # A forked random state: the check's draws never shift the notebook's own random numbers.
            # Prints and warnings from the answer are swallowed so that a check shows exactly one line.
            with torch.random.fork_rng(devices=[]), warnings.catch_warnings(), \
                    contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                warnings.simplefilter("ignore")
                torch.manual_seed(0)
                exercise.test(answer)
            status = PASSED
        except NotImplementedError:
            status = NOT_IMPLEMENTED
        except Wrong as err:
            status, reason = WRONG, str(err)
        except Exception as err:  # the learner's code failed: report it, do not stop the notebook
            first = _first_line(err)
            status, reason = WRONG, f"your code raised {type(err).__name__}" + (f": {first}" if first else "")
    line = f"{SYMBOLS[status]} {exercise.name}: {status}"
    if status == WRONG:
        line += f" — {reason}"
    return status, line


def register(check_name: str, name: str, notebook: str, example: Callable[[Any], Any]):
    """Make ``check_name(answer)`` a public check that prints its one line."""

    def decorate(test: Callable[[Any], None]):
        EXERCISES[check_name] = Exercise(name, notebook, test, example)

        def check(answer) -> None:
            print(evaluate(check_name, answer)[1])

        check.__name__ = check.__qualname__ = check_name
        check.__doc__ = f"Check the exercise “{name}” (notebook {notebook}); prints one line, never raises."
        return check

    return decorate


# --------------------------------------------------------------------------- helpers


def _tensor(value, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise Wrong(f"{what} must be a torch.Tensor, got {type(value).__name__}")
    return value


def _shape(value: torch.Tensor, shape: tuple, what: str) -> None:
    if tuple(value.shape) != tuple(shape):
        raise Wrong(f"{what} must have shape {tuple(shape)}, got {tuple(value.shape)}")


def _first_line(err: BaseException) -> str:
    """The first line of an exception's message, or "" if it has none."""
    text = str(err).strip()
    return text.splitlines()[0] if text else ""


def _close(a, b, tol: float = 1e-5) -> bool:
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    return a.shape == b.shape and torch.allclose(a, b, rtol=tol, atol=tol)


