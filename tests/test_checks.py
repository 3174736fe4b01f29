"""The exercise checks: passed for a right answer, not implemented for a stub, wrong (with the reason) otherwise."""

from __future__ import annotations

import pytest
import torch

import cases_ch01, cases_ch02, cases_ch03, cases_ch04, cases_ch05, cases_ch06, cases_ch07, cases_ch08, cases_ch10
from pixelcourse import checks

# One module of answers per notebook (tests/cases_chNN.py).
CASE_MODULES = (cases_ch01, cases_ch02, cases_ch03, cases_ch04, cases_ch05, cases_ch06, cases_ch07, cases_ch08,
                cases_ch10)
CASES = {name: case for module in CASE_MODULES for name, case in module.CASES.items()}
STUBS = {name: stub for module in CASE_MODULES for name, stub in getattr(module, "STUBS", {}).items()}
# Other ways of writing an exercise that are just as right (the checks must not reject them).
ALSO_RIGHT = [(name, answer) for module in CASE_MODULES for name, answers in getattr(module, "ALSO_RIGHT", {}).items()
              for answer in answers]


def stub(*args, **kwargs):
    raise NotImplementedError


def test_every_check_is_covered_here():
    assert set(CASES) == set(checks.EXERCISES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_passes(name, capsys):
    right, _ = CASES[name]
    getattr(checks, name)(right)
    line = capsys.readouterr().out
    assert line == f"✅ {checks.EXERCISES[name].name}: passed\n"


@pytest.mark.parametrize("name, answer", ALSO_RIGHT, ids=[f"{n}-{a.__name__}" for n, a in ALSO_RIGHT])
def test_other_right_answers_pass(name, answer):
    status, line = checks.evaluate(name, answer)
    assert status == checks.PASSED, line


@pytest.mark.parametrize("name", sorted(CASES))
def test_stub_is_not_implemented(name, capsys):
    answer = STUBS.get(name, stub)
    with pytest.raises(NotImplementedError):
        checks.EXERCISES[name].example(answer)
    getattr(checks, name)(answer)
    assert capsys.readouterr().out == f"⏳ {checks.EXERCISES[name].name}: not implemented yet\n"


@pytest.mark.parametrize("name, case", [(n, k) for n in sorted(CASES) for k in range(len(CASES[n][1]))])
def test_broken_answer_is_wrong_with_its_reason(name, case):
    answer, words = CASES[name][1][case]
    status, line = checks.evaluate(name, answer)
    assert status == checks.WRONG, line
    assert line.startswith(f"❌ {checks.EXERCISES[name].name}: wrong — ")
    assert words in line, line
    assert "\n" not in line


@pytest.mark.parametrize("answer, words", [
    (None, "expected your function"),
    (lambda *a: 1 / 0, "ZeroDivisionError"),
    (lambda *a: print("debug output") or None, "torch.Tensor"),
])
def test_checks_never_raise_and_print_one_line(answer, words, capsys):
    checks.check_causal_mask(answer)
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("❌") and words in out


def test_checks_leave_the_global_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    for name, (right, _) in CASES.items():
        checks.evaluate(name, right)
    assert torch.equal(torch.rand(3), expected)
