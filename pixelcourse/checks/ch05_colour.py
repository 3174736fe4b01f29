"""Checks of notebook 05: colour masks and the discretised logistic."""

from __future__ import annotations

import math
import warnings

import torch

from .core import COLOURS, Wrong, register, _shape, _tensor
from ..masks import make_mask
from ..mixture import logistic_bin_log_prob


# --------------------------------------------------------------------------- 05 colour masks


def _group_rule(kind: str, g_out: int, g_in: int) -> bool:
    return g_in < g_out if kind == "A" else g_in <= g_out


def _centre(c_in: int, c_out: int, kind: str, colour=lambda k, n: k % 3, flip: bool = False) -> torch.Tensor:
    """The centre table (c_out, c_in) of 0s and 1s with the given colour of channel k of n, or with the rule flipped."""
    g_out = colour(torch.arange(c_out), c_out)[:, None]  # (out, 1)
    g_in = colour(torch.arange(c_in), c_in)[None, :]  # (1, in)
    if flip:
        g_out, g_in = g_in, g_out
    return (g_in < g_out if kind == "A" else g_in <= g_out).float()


def _blocks(k: torch.Tensor, n: int) -> torch.Tensor:
    return k * 3 // n  # the first third of the channels red, the next green, the last blue


# (in_channels, out_channels, kernel_size, mask_type): channel counts that are and are not multiples of 3,
# kernel sizes 1 to 7, both types.
_MASK_CASES = ((3, 6, 3, "A"), (6, 6, 3, "B"), (6, 9, 5, "A"), (9, 6, 1, "B"), (3, 3, 1, "A"), (4, 8, 3, "B"),
               (8, 5, 7, "A"), (7, 4, 5, "B"))


def _explain_centre(mask: torch.Tensor, c_in: int, c_out: int, k: int, kind: str, where: str) -> None:
    """Raise Wrong with what went wrong at the centre of ``mask``, whose other entries are right."""
    got = mask[:, :, k // 2, k // 2].float()  # (out, in)
    other = "B" if kind == "A" else "A"
    if torch.equal(got, torch.full_like(got, 0.0 if kind == "A" else 1.0)):
        raise Wrong(f"{where}: at the centre you used the grey rule of notebook 01 (mask A hides the whole centre, "
                    "mask B shows all of it); with colours the centre depends on the colours of the two channels")
    if torch.equal(got, _centre(c_in, c_out, other)):
        own = "includes" if other == "B" else "leaves out"
        raise Wrong(f"{where}: your centre is mask {other}'s, which {own} a colour's own channels; mask {kind} "
                    f"lets colour o % 3 read input colours i % 3 {'<' if kind == 'A' else '<='} o % 3")
    if torch.equal(got, _centre(c_in, c_out, kind, colour=_blocks)):
        raise Wrong(f"{where}: you gave the channels their colours in blocks (the first third R, the next G, the "
                    "last B); the colour of channel k is k % 3: R, G, B, R, G, B, ...")
    if torch.equal(got, _centre(c_in, c_out, kind, flip=True)):
        raise Wrong(f"{where}: the rule runs the wrong way round: output colour o reads the input colours before "
                    "it (R is read by G and B), not the ones after it")
    for o in range(c_out):
        for i in range(c_in):
            if got[o, i] != _group_rule(kind, o % 3, i % 3):
                g_out, g_in = COLOURS[o % 3], COLOURS[i % 3]
                sees = _group_rule(kind, o % 3, i % 3)
                rule = "earlier colours only" if kind == "A" else "earlier colours and its own"
                raise Wrong(
                    f"{where}: at the centre, output channel {o} (colour {g_out}) must {'' if sees else 'not '}"
                    f"see input channel {i} (colour {g_in}); mask {kind} shows {rule}"
                )


@register("check_color_mask", "The R→G→B colour masks", "05", example=lambda fn: fn(3, 6, 3, "A"))
def check_color_mask(color_mask):
    for c_in, c_out, k, kind in _MASK_CASES:
        where = f"color_mask({c_in}, {c_out}, {k}, {kind!r})"
        mask = _tensor(color_mask(c_in, c_out, k, kind), where)
        _shape(mask, (c_out, c_in, k, k), where)
        if not mask.is_floating_point():
            raise Wrong(f"{where} is a {mask.dtype} tensor: the mask multiplies float weights, so return a float "
                        "tensor of 0s and 1s")
        mask = mask.detach().cpu()
        want = make_mask(c_in, c_out, k, kind, color_channels=3)
        if torch.equal(mask, want):
            continue
        c = k // 2
        off_centre = torch.ones(k, k, dtype=torch.bool)
        off_centre[c, c] = False
        if not torch.equal(mask[:, :, off_centre], want[:, :, off_centre]):
            row = torch.cat([mask[:, :, c, :c], mask[:, :, c, c + 1 :]], dim=-1)  # the centre row without the centre
            wanted = torch.cat([want[:, :, c, :c], want[:, :, c, c + 1 :]], dim=-1)
            part = "the rows above the centre" if not torch.equal(mask[:, :, :c], want[:, :, :c]) else \
                "the centre row" if not torch.equal(row, wanted) else "the rows below the centre"
            raise Wrong(f"{where}: away from the centre pixel every channel pair has the grey mask of notebook 01 "
                        f"(1 above the centre and left of it in its row, 0 right of it and below); {part} differ")
        _explain_centre(mask, c_in, c_out, k, kind, where)


# --------------------------------------------------------------------------- 05 the discretised logistic


def _bins(mean, log_scale, level, levels, *, inv_scale=None, centre=None, half=None, flip=False, add_mean=False,
          extend=True, swap=False, last=None):
    """log P(bin) by the direct formula, with one usual mistake switched on by a keyword (float64).

    log(sigmoid(upper) - sigmoid(lower)) is exact enough where the check compares it: log P > -10.
    """
    half = 1.0 / (levels - 1) if half is None else half
    centre = level * (2.0 / (levels - 1)) - 1.0 if centre is None else centre
    inv_scale = torch.exp(-log_scale) if inv_scale is None else inv_scale
    sign = -1.0 if flip else 1.0  # flip: (mean - edge) / s
    upper = sign * (centre + half - (-mean if add_mean else mean)) * inv_scale
    lower = sign * (centre - half - (-mean if add_mean else mean)) * inv_scale
    if swap:
        upper, lower = lower, upper
    cdf_upper, cdf_lower = torch.sigmoid(upper), torch.sigmoid(lower)
    if extend:
        cdf_upper = torch.where(level == (levels - 1 if last is None else last), 1.0, cdf_upper)
        cdf_lower = torch.where(level == 0, 0.0, cdf_lower)
    return torch.log(cdf_upper - cdf_lower)


def _logistic_mistakes(mean, log_scale, level, levels):
    """(wrong log-probabilities, reason) of the usual mistakes, on the check's ordinary inputs."""
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield (_bins(mean, log_scale, level, levels, extend=False),
               "the two outer bins must reach out to infinity: level 0 holds all the mass below its upper edge, "
               "P = sigmoid(upper), and the last level all the mass above its lower edge, P = 1 - sigmoid(lower); "
               "as it is, the probabilities of all levels sum to less than 1")
        yield (_bins(mean, log_scale, level, levels, inv_scale=1.0 / log_scale),
               "log_scale is the logarithm of the scale: divide by s = exp(log_scale), that is multiply by "
               "exp(-log_scale); you divided by log_scale itself")
        yield (_bins(mean, log_scale, level, levels, inv_scale=torch.exp(log_scale)),
               "you multiplied by exp(log_scale) = s; the edges in units of the scale are (edge - mean) / s, "
               "a factor exp(-log_scale)")
        yield (_bins(mean, log_scale, level, levels, centre=level / (levels - 1)),
               "the centre of level v lies in [-1, 1], like the means: centre = v * 2 / (levels - 1) - 1, "
               "so level 0 is at -1 and the last level at +1; you mapped the levels to [0, 1]")
        yield (_bins(mean, log_scale, level, levels, centre=level * (2.0 / levels) - 1.0),
               "the centre of level v is v * 2 / (levels - 1) - 1 (the last level sits at +1), "
               "not v * 2 / levels - 1")
        for half in (2.0 / (levels - 1), 1.0 / levels, 0.5 / (levels - 1)):
            yield (_bins(mean, log_scale, level, levels, half=half),
                   f"wrong bin width: neighbouring centres are 2 / (levels - 1) apart, so half a bin is "
                   f"1 / (levels - 1) = {1 / (levels - 1):.5f} here (you used {half:.5f}); the edges are centre ± that")
        yield (_bins(mean, log_scale, level, levels, flip=True),
               "sign error: the edges in units of the scale are (edge - mean) / s, not (mean - edge) / s")
        yield (_bins(mean, log_scale, level, levels, add_mean=True),
               "sign error: subtract the mean, upper = (centre + half - mean) / s, not (centre + half + mean) / s")
        yield (_bins(mean, log_scale, level, levels, swap=True),
               "sign error: upper and lower are swapped; P = sigmoid(upper) - sigmoid(lower) with "
               "upper = (centre + half - mean) / s > lower = (centre - half - mean) / s")


# (mean, log_scale, level, levels): far in a tail, where log(sigmoid(upper) - sigmoid(lower)) loses everything
# (both sigmoids round to 1, or to 0) although the true log-probability is finite; the fifth case is nearer,
# where the direct formula is still finite but wrong in the second decimal.
_TAILS = (
    (-0.9, -7.0, 200, 256),  # an inner bin far right of a narrow logistic
    (0.9, -7.0, 10, 256),  # an inner bin far left
    (-0.9, -7.0, 255, 256),  # the last bin, far right
    (0.9, -7.0, 0, 256),  # the first bin, far left
    (0.0, math.log(0.02), 210, 256),  # 33 scales right of the mean: 1 - sigmoid rounds
    (-0.9, -7.0, 12, 16),  # an inner bin far right, 16 levels
    (-0.9, -7.0, 1, 2),  # 2 levels: the last bin, far right
)


def _logistic_example(fn):
    zero = torch.zeros(1, dtype=torch.float64)
    return fn(zero, zero, zero, 256)


def _grid(dtype=torch.float64):
    """The check's ordinary inputs: means (5, 1, 1) and log-scales (1, 4, 1), broad to narrower than a bin."""
    mean = torch.tensor([-0.95, -0.3, 0.0, 0.42, 0.9], dtype=dtype).view(5, 1, 1)
    log_scale = torch.log(torch.tensor([0.4, 0.05, 0.01, 0.002], dtype=dtype)).view(1, 4, 1)
    return mean, log_scale


def _check_ordinary(fn, levels: int) -> None:
    """Every level of ``levels`` for the grid of means and scales, in float64, where log P > -10."""
    mean, log_scale = _grid()
    level = torch.arange(levels, dtype=torch.float64)  # (levels,)
    where = f"discretised_logistic_log_prob(mean (5, 1, 1), log_scale (1, 4, 1), level ({levels},), levels={levels})"
    got = _tensor(fn(mean, log_scale, level, levels), where)
    _shape(got, (5, 4, levels), where)
    if got.dtype != torch.float64:
        raise Wrong(f"{where} returned {got.dtype} for float64 inputs: keep the dtype of the inputs "
                    "(no .float(); Python numbers mix with any dtype)")
    got = got.detach()
    want = logistic_bin_log_prob(mean, log_scale, level, levels)  # (5, 4, levels)
    near = want > -10.0  # where P > 4.5e-5; the far tails come later
    if torch.isfinite(got[near]).all() and torch.allclose(got[near], want[near], rtol=1e-6, atol=1e-8):
        return
    mistakes = list(_logistic_mistakes(mean, log_scale, level, levels))
    if levels != 256:
        mistakes.append((_bins(mean, log_scale, level * (255 / (levels - 1)), 256),
                         f"with levels={levels} you still cut [-1, 1] into 256 bins: use the argument levels"))
        mistakes.append((_bins(mean, log_scale, level, levels, last=255),
                         f"with levels={levels} the last level is {levels - 1}, not 255: the bin that reaches up to "
                         "+infinity is level levels - 1"))
    for wrong, reason in mistakes:
        both = near & ~(wrong <= -10.0)  # where the direct formula is exact for the mistake too (NaN kept)
        if both.any() and torch.allclose(got[both], wrong[both], rtol=1e-6, atol=1e-8, equal_nan=True):
            raise Wrong(reason)
    bad = near & ~(torch.isclose(got, want, rtol=1e-6, atol=1e-8) & torch.isfinite(got))
    m, s, v = (int(k) for k in bad.nonzero()[0])
    at = (f"for mean {float(mean[m]):g}, scale {math.exp(float(log_scale[0, s])):g} (log_scale "
          f"{float(log_scale[0, s]):.3f}) and level {v} of {levels} you return {float(got[m, s, v]):.6g}, "
          f"the bin's log-probability is {float(want[m, s, v]):.6g}")
    if torch.isnan(got).any():
        raise Wrong(f"NaN: {at}; a NaN is the log of a negative number: check the signs, "
                    "upper = (centre + half - mean) / s, lower = (centre - half - mean) / s")
    total = got.exp().sum(-1)  # (5, 4)
    if not torch.allclose(total, torch.ones_like(total), rtol=0, atol=1e-6):
        raise Wrong(f"the probabilities of all {levels} levels sum to {float(total[m, s]):.4f}, not 1: the bins "
                    "must touch (edges centre ± 1 / (levels - 1)) and the outer two reach to -inf and +inf; "
                    f"check the signs too, P = sigmoid(upper) - sigmoid(lower); {at}")
    raise Wrong(f"{at}; check the signs and that s = exp(log_scale)")


def _check_tails(fn) -> None:
    for m, s, v, levels in _TAILS:
        mean, log_scale, level = (torch.tensor([value], dtype=torch.float64) for value in (m, s, v))
        want = float(logistic_bin_log_prob(mean, log_scale, level, levels))
        got = float(_tensor(fn(mean, log_scale, level, levels), "your answer")[0])
        if math.isclose(got, want, rel_tol=1e-6):
            continue
        case = (f"far in the tail (mean {m:g}, scale {math.exp(s):.3g}, level {v} of {levels}) log P is {want:.6g}, "
                f"you return {got:.6g}")
        if math.isinf(got) or math.isnan(got):
            raise Wrong(f"{case}: log(sigmoid(upper) - sigmoid(lower)) fails once both sigmoids round to 1 (or to 0). "
                        "Work in log space: P = sigmoid(upper) * sigmoid(-lower) * (1 - exp(lower - upper)), "
                        "with F.logsigmoid for the first two factors and torch.log(-torch.expm1(lower - upper)) "
                        "for the third")
        raise Wrong(f"{case}: not accurate far from the mean (subtracting two sigmoids near 1 cancels, and a floor "
                    "such as log(p + 1e-12) hides the true value). Work in log space: "
                    "P = sigmoid(upper) * sigmoid(-lower) * (1 - exp(lower - upper))")


def _check_float32(fn) -> None:
    """Float32 inputs, as the model gives them, give float32 log-probabilities."""
    mean, log_scale = _grid(torch.float32)
    level = torch.arange(256, dtype=torch.float32)
    where = "discretised_logistic_log_prob(mean, log_scale, level, 256) for float32 inputs"
    got = _tensor(fn(mean, log_scale, level, 256), where)
    if got.dtype != torch.float32:
        raise Wrong(f"{where} returned {got.dtype}: keep the dtype of the inputs (float32 in, float32 out; no "
                    "float64 constants such as torch.tensor(..., dtype=torch.float64))")
    want = logistic_bin_log_prob(mean.double(), log_scale.double(), level.double(), 256)
    near = want > -10.0
    if not torch.allclose(got.detach().double()[near], want[near], rtol=1e-4, atol=1e-4):
        raise Wrong(f"{where} differs from the float64 result by more than float32 rounding")


@register("check_discretised_logistic", "The discretised logistic: log P(bin)", "05", example=_logistic_example)
def check_discretised_logistic(discretised_logistic_log_prob):
    for levels in (256, 16, 2):
        _check_ordinary(discretised_logistic_log_prob, levels)
    _check_tails(discretised_logistic_log_prob)
    _check_float32(discretised_logistic_log_prob)
