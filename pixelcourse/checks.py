"""Checks for the course's exercises: each prints one line and never stops the notebook.

Every exercise in the notebooks is a function (or class) with a fixed contract,
followed by a check cell such as ``pixelcourse.checks.check_causal_mask(causal_mask)``.
A check prints exactly one line::

    ✅ Masks A and B by hand: passed
    ⏳ Masks A and B by hand: not implemented yet
    ❌ Masks A and B by hand: wrong — mask A must be 0 at the centre ...

The check cells are marked ``# NBVAL_CHECK_OUTPUT`` and keep the "passed" line in
the learner notebooks, so ``pytest --nbval-lax notebooks/...`` passes exactly when
the exercises of that notebook are solved. Checks run on small inputs in a forked
random state, so they never change the random numbers of the notebook around them.
"""

from __future__ import annotations

import contextlib
import io
import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ResidualBlock, gated_activation
from .masks import MaskedConv2d, make_mask

PASSED = "passed"
NOT_IMPLEMENTED = "not implemented yet"
WRONG = "wrong"
SYMBOLS = {PASSED: "✅", NOT_IMPLEMENTED: "⏳", WRONG: "❌"}
LN2 = math.log(2.0)
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
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            status, reason = WRONG, f"your code raised {type(err).__name__}" + (f": {first}" if first else "")
    line = f"{SYMBOLS[status]} {exercise.name}: {status}"
    if status == WRONG:
        line += f" — {reason}"
    return status, line


def _register(check_name: str, name: str, notebook: str, example: Callable[[Any], Any]):
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


def _close(a, b, tol: float = 1e-5) -> bool:
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    return a.shape == b.shape and torch.allclose(a, b, rtol=tol, atol=tol)


def _number(value, what: str) -> float:
    if isinstance(value, torch.Tensor):
        if value.numel() != 1:
            raise Wrong(f"{what} must be one number, got a tensor of shape {tuple(value.shape)}")
        return float(value)
    if isinstance(value, (int, float)):
        return float(value)
    raise Wrong(f"{what} must be a number, got {type(value).__name__}")


# --------------------------------------------------------------------------- 01 masks A and B


@_register("check_causal_mask", "Masks A and B by hand", "01", example=lambda fn: fn(3, "A"))
def check_causal_mask(causal_mask):
    for k in (1, 3, 5, 7):
        for kind in ("A", "B"):
            mask = _tensor(causal_mask(k, kind), f"causal_mask({k}, {kind!r})")
            _shape(mask, (k, k), f"causal_mask({k}, {kind!r})")
            if not mask.is_floating_point():
                raise Wrong(f"the mask must be a float tensor, got {mask.dtype} (use .float() or torch.zeros(...))")
            want = make_mask(1, 1, k, kind)[0, 0]
            if torch.equal(mask.cpu(), want):
                continue
            c = k // 2
            where = f"causal_mask({k}, {kind!r})"
            if not ((mask == 0) | (mask == 1)).all():
                raise Wrong(f"{where} must hold only 0s and 1s")
            if kind == "A" and mask[c, c] != 0:
                raise Wrong(f"{where}: mask A must be 0 at the centre (a pixel must not see its own value)")
            if kind == "B" and mask[c, c] != 1:
                raise Wrong(f"{where}: mask B must be 1 at the centre (later layers may use the centre's features)")
            if not (mask[:c] == 1).all():
                raise Wrong(f"{where}: every row above the centre must be 1 (those pixels come earlier)")
            if not (mask[c + 1 :] == 0).all():
                raise Wrong(f"{where}: every row below the centre must be 0 (those pixels come later)")
            raise Wrong(f"{where}: in the centre row, pixels left of the centre must be 1 and pixels right of it 0")


# --------------------------------------------------------------------------- 02 the residual block


def _masked(layer, name: str, shape: tuple, kind: str) -> None:
    if not isinstance(layer, nn.Conv2d):
        raise Wrong(f"{name} must be a convolution (MaskedConv2d), got {type(layer).__name__}")
    if tuple(layer.weight.shape) != shape:
        raise Wrong(f"{name} must have a weight of shape (out, in, kh, kw) = {shape}, got {tuple(layer.weight.shape)}")
    if not isinstance(layer, MaskedConv2d):
        if shape[-1] > 1:
            raise Wrong(f"{name} must be a MaskedConv2d of type B: a plain Conv2d lets a pixel see the future")
        return
    if shape[-1] > 1 and layer.mask_type != kind:
        raise Wrong(f"{name} must use mask type {kind}, got type {layer.mask_type} (type A is for the first layer only)")


def _residual_example(cls):
    return cls(8)


@_register("check_residual_block", "The residual block", "02", example=_residual_example)
def check_residual_block(block_class):
    block = block_class(8, 3)
    if not isinstance(block, nn.Module):
        raise Wrong(f"the block must be an nn.Module, got {type(block).__name__}")
    missing = [n for n in ("reduce", "conv", "expand") if not hasattr(block, n)]
    if missing:
        raise Wrong(f"the block needs the attributes reduce, conv and expand; missing {', '.join(missing)}")
    _masked(block.reduce, "reduce", (4, 8, 1, 1), "B")
    _masked(block.conv, "conv", (4, 4, 3, 3), "B")
    _masked(block.expand, "expand", (8, 4, 1, 1), "B")

    reference = ResidualBlock(8, 3)
    with torch.no_grad():
        for name in ("reduce", "conv", "expand"):
            mine, ref = getattr(block, name), getattr(reference, name)
            ref.weight.copy_(mine.weight)
            if mine.bias is not None:
                ref.bias.copy_(mine.bias)
            else:
                ref.bias.zero_()
    x = torch.randn(2, 8, 6, 6, requires_grad=True)
    out = _tensor(block(x), "block(x)")
    _shape(out, (2, 8, 6, 6), "block(x) for x of shape (2, 8, 6, 6)")
    # Causality: output (3, 3) may depend on input (3, 3) itself (the skip) and on the past only.
    out[:, :, 3, 3].pow(2).sum().backward()
    future = x.grad[:, :, 4:].abs().sum() + x.grad[:, :, 3, 4:].abs().sum()
    if future > 0:
        raise Wrong("the output at a pixel depends on later pixels: conv must be a MaskedConv2d of type B")
    with torch.no_grad():
        want = reference(x)
        got = block(x)
        if _close(got, want, 1e-4):
            return
        if _close(got + x, want, 1e-4):
            raise Wrong("the skip connection is missing: return x + expand(...)")
        raise Wrong("the output differs from x + expand(relu(conv(relu(reduce(relu(x)))))): check the ReLUs and their order")


# --------------------------------------------------------------------------- 03 bits per dimension


def _logits_example(fn):
    """Call an exercise that takes (logits, x) on a tiny input (used to tell "not implemented" apart)."""
    return fn(torch.zeros(1, 4, 1, 2, 2), torch.zeros(1, 1, 2, 2, dtype=torch.long))


@_register("check_bits_per_dim", "Bits per dimension", "03", example=_logits_example)
def check_bits_per_dim(batch_bits_per_dim):
    for shape, levels in (((2, 1, 3, 3), 4), ((3, 3, 2, 2), 256)):
        logits = torch.randn(shape[0], levels, *shape[1:]) * 2  # (B, levels, C, H, W)
        x = torch.randint(0, levels, shape)
        got = _number(batch_bits_per_dim(logits, x), "batch_bits_per_dim(logits, x)")
        nats = F.cross_entropy(logits, x).item()
        want = nats / LN2
        if math.isclose(got, want, rel_tol=1e-4):
            continue
        dims = x.numel()
        per_image = dims // shape[0]
        if math.isclose(got, nats, rel_tol=1e-4):
            raise Wrong("that is nats per dimension: divide by ln 2 (math.log(2)) to get bits")
        if math.isclose(got, want * dims, rel_tol=1e-4) or math.isclose(got, nats * dims, rel_tol=1e-4):
            raise Wrong("that is the sum over the batch: average over all B * C * H * W sub-pixels")
        if math.isclose(got, want * per_image, rel_tol=1e-4) or math.isclose(got, nats * per_image, rel_tol=1e-4):
            raise Wrong("that is per image: divide by the C * H * W sub-pixels of an image too")
        if math.isclose(got, -want, rel_tol=1e-4):
            raise Wrong("the sign is flipped: the loss is the negative log-likelihood, a positive number")
        raise Wrong(f"expected {want:.4f} bits/dim for a test batch, got {got:.4f}")


# --------------------------------------------------------------------------- 04 the gated activation


@_register("check_gated_activation", "The gated activation", "04", example=lambda fn: fn(torch.zeros(1, 4, 2, 2)))
def check_gated_activation(my_gated_activation):
    x = torch.randn(2, 6, 3, 4) * 2  # (B, 2h, H, W) with h = 3
    out = _tensor(my_gated_activation(x), "my_gated_activation(x)")
    _shape(out, (2, 3, 3, 4), "the output for x of shape (2, 6, 3, 4)")
    want = gated_activation(x)
    if _close(out, want):
        return
    a, b = x[:, :3], x[:, 3:]
    if _close(out, torch.sigmoid(a) * torch.tanh(b)):
        raise Wrong("the halves are swapped: tanh goes on the first half of the channels, sigmoid on the second")
    if _close(out, torch.tanh(x[:, 0::2]) * torch.sigmoid(x[:, 1::2])):
        raise Wrong("the first h channels are a and the last h are b (use x.chunk(2, dim=1)), not alternate channels")
    raise Wrong("expected tanh(a) * sigmoid(b) with a, b the first and second half of the channels")


# --------------------------------------------------------------------------- 05 colour masks


def _group_rule(kind: str, g_out: int, g_in: int) -> bool:
    return g_in < g_out if kind == "A" else g_in <= g_out


@_register("check_color_mask", "The R→G→B colour masks", "05", example=lambda fn: fn(3, 6, 3, "A"))
def check_color_mask(color_mask):
    for c_in, c_out, k, kind in ((3, 6, 3, "A"), (6, 6, 3, "B"), (6, 9, 5, "A"), (9, 6, 1, "B"), (3, 3, 1, "A")):
        where = f"color_mask({c_in}, {c_out}, {k}, {kind!r})"
        mask = _tensor(color_mask(c_in, c_out, k, kind), where)
        _shape(mask, (c_out, c_in, k, k), where)
        if not mask.is_floating_point():
            raise Wrong(f"the mask must be a float tensor, got {mask.dtype}")
        want = make_mask(c_in, c_out, k, kind, color_channels=3)
        if torch.equal(mask.cpu(), want):
            continue
        c = k // 2
        off_centre = torch.ones(k, k, dtype=torch.bool)
        off_centre[c, c] = False
        if not torch.equal(mask[:, :, off_centre], want[:, :, off_centre]):
            raise Wrong(f"{where}: away from the centre pixel every channel pair has the grey mask of notebook 01")
        for o in range(c_out):
            for i in range(c_in):
                if mask[o, i, c, c] != want[o, i, c, c]:
                    g_out, g_in = COLOURS[o % 3], COLOURS[i % 3]
                    sees = _group_rule(kind, o % 3, i % 3)
                    rule = "earlier colours only" if kind == "A" else "earlier colours and its own"
                    raise Wrong(
                        f"{where}: at the centre, output channel {o} (colour {g_out}) must {'' if sees else 'not '}"
                        f"see input channel {i} (colour {g_in}); mask {kind} shows {rule}"
                    )


# --------------------------------------------------------------------------- 06 one sampling step


def _sample_example(fn):
    return fn(torch.zeros(2, 4), torch.Generator().manual_seed(0))


@_register("check_sample_step", "One sampling step", "06", example=_sample_example)
def check_sample_step(sample_level):
    logits = torch.randn(5, 10)
    out = _tensor(sample_level(logits, torch.Generator().manual_seed(1)), "sample_level(logits, generator)")
    _shape(out, (5,), "the levels drawn for logits of shape (5, 10)")
    if out.dtype != torch.long:
        raise Wrong(f"return the levels as torch.long, got {out.dtype}")
    if int(out.min()) < 0 or int(out.max()) >= 10:
        raise Wrong("the levels must lie in [0, levels)")
    again = sample_level(logits, torch.Generator().manual_seed(1))
    if not torch.equal(out, again):
        raise Wrong("two generators with the same seed gave different levels: draw your random numbers with the generator")

    probs = torch.tensor([0.1, 0.6, 0.3])
    n = 20_000
    many = sample_level(probs.log().expand(n, 3).clone(), torch.Generator().manual_seed(3))  # (n,)
    freq = torch.bincount(many.long().flatten(), minlength=3)[:3].double() / n
    if (freq - probs.double()).abs().max() >= 0.02:
        if freq[1] > 0.99:
            raise Wrong("it always picks the most likely level: draw a level at random with probabilities softmax(logits)")
        if (freq - 1 / 3).abs().max() < 0.02:
            raise Wrong("every level came up equally often: use the probabilities softmax(logits)")
        shown = ", ".join(f"{v:.2f}" for v in freq.tolist())
        raise Wrong(f"for probabilities (0.10, 0.60, 0.30) the levels came up with frequencies ({shown})")

    peaked = torch.full((4, 6), -50.0)
    peaked[:, 4] = 50.0
    if not (sample_level(peaked, torch.Generator().manual_seed(2)) == 4).all():
        raise Wrong("with all probability on level 4 the sample must be 4")


# --------------------------------------------------------------------------- 07 temperature


@_register("check_temperature", "Temperature", "07", example=lambda fn: fn(torch.zeros(2, 4), 1.0))
def check_temperature(tempered_probs):
    logits = torch.randn(3, 8) * 2
    for t in (1.0, 0.5, 2.0, 0.1):
        probs = _tensor(tempered_probs(logits, t), f"tempered_probs(logits, {t})")
        _shape(probs, (3, 8), f"tempered_probs(logits, {t}) for logits of shape (3, 8)")
        want = torch.softmax(logits / t, dim=-1)
        if _close(probs, want, 1e-4):
            continue
        if not _close(probs.sum(-1), torch.ones(3), 1e-4):
            raise Wrong("each row must be probabilities that sum to 1: apply softmax over the levels (last dim)")
        if _close(probs, torch.softmax(logits * t, dim=-1), 1e-4):
            raise Wrong("divide the logits by T (you multiplied): small T must sharpen the distribution")
        if _close(probs, torch.softmax(logits, dim=-1) / t, 1e-4) or _close(probs, torch.softmax(logits, -1), 1e-4):
            raise Wrong("scale the logits before the softmax: softmax(logits / T)")
        raise Wrong(f"at T = {t} the probabilities differ from softmax(logits / T)")


# --------------------------------------------------------------------------- 08 per-pixel NLL


@_register("check_nll_map", "Per-pixel NLL map", "08", example=_logits_example)
def check_nll_map(nll_map):
    for shape, levels in (((2, 1, 3, 4), 5), ((2, 3, 2, 2), 256)):
        logits = torch.randn(shape[0], levels, *shape[1:]) * 2  # (B, levels, C, H, W)
        x = torch.randint(0, levels, shape)
        got = _tensor(nll_map(logits, x), "nll_map(logits, x)")
        _shape(got, shape, f"nll_map(logits, x) for x of shape {shape}")
        want = F.cross_entropy(logits, x, reduction="none") / LN2  # (B, C, H, W)
        if _close(got, want, 1e-4):
            continue
        if _close(got, want * LN2, 1e-4):
            raise Wrong("those are nats: divide by ln 2 (math.log(2)) to get bits")
        if _close(got, -want, 1e-4) or _close(got, -want * LN2, 1e-4):
            raise Wrong("the sign is flipped: the NLL is minus the log-probability, so it is positive")
        raise Wrong("expected -log2 p(x[b, c, i, j]) at every sub-pixel, from log_softmax over the levels (dim 1)")
