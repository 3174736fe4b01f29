"""The exercise checks: passed for a right answer, not implemented for a stub, wrong (with the reason) otherwise."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import pixelcourse
from pixelcourse import checks


def stub(*args, **kwargs):
    raise NotImplementedError


class StubBlock(nn.Module):
    def __init__(self, hidden, kernel_size=3):
        super().__init__()
        raise NotImplementedError


def residual_block(skip: bool = True, conv_type: str = "B"):
    class Block(nn.Module):
        def __init__(self, hidden, kernel_size=3):
            super().__init__()
            self.reduce = pixelcourse.MaskedConv2d(hidden, hidden // 2, 1, "B")
            self.conv = pixelcourse.MaskedConv2d(hidden // 2, hidden // 2, kernel_size, conv_type)
            self.expand = pixelcourse.MaskedConv2d(hidden // 2, hidden, 1, "B")

        def forward(self, x):
            out = self.expand(F.relu(self.conv(F.relu(self.reduce(F.relu(x))))))
            return x + out if skip else out

    return Block


class UnmaskedBlock(residual_block()):
    def __init__(self, hidden, kernel_size=3):
        super().__init__(hidden, kernel_size)
        self.conv = nn.Conv2d(hidden // 2, hidden // 2, kernel_size, padding=kernel_size // 2)


def sample_level(logits, generator):
    return torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)[:, 0]


# check name -> (right answer, [(wrong answer, words the reason must contain), ...])
CASES = {
    "check_causal_mask": (
        lambda k, t: pixelcourse.make_mask(1, 1, k, t)[0, 0],
        [
            (lambda k, t: pixelcourse.make_mask(1, 1, k, "B")[0, 0], "mask A must be 0 at the centre"),
            (lambda k, t: pixelcourse.make_mask(1, 1, k, "A")[0, 0], "mask B must be 1 at the centre"),
            (lambda k, t: pixelcourse.make_mask(1, 1, k, t)[0, 0].flip(0), "row"),
            (lambda k, t: pixelcourse.make_mask(1, 1, k, t)[0, 0].long(), "float"),
            (lambda k, t: torch.ones(k + 1, k), "shape"),
        ],
    ),
    "check_residual_block": (
        residual_block(),
        [
            (residual_block(skip=False), "skip connection"),
            (residual_block(conv_type="A"), "mask type B"),
            (UnmaskedBlock, "MaskedConv2d"),
            (lambda hidden, kernel_size=3: nn.Identity(), "attributes"),
        ],
    ),
    "check_bits_per_dim": (
        lambda logits, x: F.cross_entropy(logits, x) / math.log(2),
        [
            (lambda logits, x: F.cross_entropy(logits, x), "ln 2"),
            (lambda logits, x: F.cross_entropy(logits, x, reduction="sum") / math.log(2), "average"),
            (lambda logits, x: F.cross_entropy(logits, x, reduction="none") / math.log(2), "one number"),
        ],
    ),
    "check_gated_activation": (
        lambda x: torch.tanh(x.chunk(2, 1)[0]) * torch.sigmoid(x.chunk(2, 1)[1]),
        [
            (lambda x: torch.sigmoid(x.chunk(2, 1)[0]) * torch.tanh(x.chunk(2, 1)[1]), "swapped"),
            (lambda x: torch.tanh(x[:, 0::2]) * torch.sigmoid(x[:, 1::2]), "alternate"),
            (lambda x: torch.tanh(x.chunk(2, -1)[0]) * torch.sigmoid(x.chunk(2, -1)[1]), "shape"),
        ],
    ),
    "check_color_mask": (
        lambda i, o, k, t: pixelcourse.make_mask(i, o, k, t, color_channels=3),
        [
            (lambda i, o, k, t: pixelcourse.make_mask(i, o, k, t, color_channels=1), "at the centre"),
            (lambda i, o, k, t: pixelcourse.make_mask(i, o, k, "B" if t == "A" else "A", color_channels=3), "at the centre"),
            (lambda i, o, k, t: torch.ones(o, i, k, k), "away from the centre"),
        ],
    ),
    "check_sample_step": (
        sample_level,
        [
            (lambda logits, generator: logits.argmax(-1), "most likely"),
            (lambda logits, generator: torch.randint(0, logits.shape[-1], logits.shape[:1], generator=generator), "equally"),
            (lambda logits, generator: torch.multinomial(torch.softmax(logits, -1), 1)[:, 0], "generator"),
            (lambda logits, generator: sample_level(logits, generator).float(), "torch.long"),
        ],
    ),
    "check_temperature": (
        lambda logits, t: torch.softmax(logits / t, -1),
        [
            (lambda logits, t: torch.softmax(logits * t, -1), "multiplied"),
            (lambda logits, t: logits / t, "sum to 1"),
            (lambda logits, t: torch.softmax(logits, -1), "before the softmax"),
        ],
    ),
    "check_nll_map": (
        lambda logits, x: F.cross_entropy(logits, x, reduction="none") / math.log(2),
        [
            (lambda logits, x: F.cross_entropy(logits, x, reduction="none"), "nats"),
            (lambda logits, x: -F.cross_entropy(logits, x, reduction="none") / math.log(2), "sign"),
            (lambda logits, x: F.cross_entropy(logits, x, reduction="none")[:, 0], "shape"),
        ],
    ),
}


def test_every_check_is_covered_here():
    assert set(CASES) == set(checks.EXERCISES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_reference_passes(name, capsys):
    right, _ = CASES[name]
    getattr(checks, name)(right)
    line = capsys.readouterr().out
    assert line == f"✅ {checks.EXERCISES[name].name}: passed\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_stub_is_not_implemented(name, capsys):
    answer = StubBlock if name == "check_residual_block" else stub
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
