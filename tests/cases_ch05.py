"""Answers for the checks of notebook 05: a right one and wrong ones with the words their reason must contain."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

import pixelcourse
from pixelcourse.mixture import logistic_bin_log_prob


# --------------------------------------------------------------------------- the discretised logistic


def edges(mean, log_scale, level, levels):
    """Bin edges in units of the scale: (upper, lower), each of the broadcast shape."""
    half = 1.0 / (levels - 1)
    centre = level * (2.0 * half) - 1.0
    inv_scale = torch.exp(-log_scale)
    return (centre + half - mean) * inv_scale, (centre - half - mean) * inv_scale


def log_space(mean, log_scale, level, levels=256):  # right: the reference's formula, written out
    upper, lower = edges(mean, log_scale, level, levels)
    first, last = level == 0, level == levels - 1
    log_p = torch.where(last, 0.0, F.logsigmoid(upper)) + torch.where(first, 0.0, F.logsigmoid(-lower))
    return log_p + torch.where(first | last, 0.0, torch.log(-torch.expm1(lower - upper)))


def naive(mean, log_scale, level, levels=256):  # the outer bins are right, but both tails give -inf
    upper, lower = edges(mean, log_scale, level, levels)
    cdf_upper = torch.where(level == levels - 1, 1.0, torch.sigmoid(upper))
    cdf_lower = torch.where(level == 0, 0.0, torch.sigmoid(lower))
    return torch.log(cdf_upper - cdf_lower)


def naive_with_floor(mean, log_scale, level, levels=256):  # finite, but wrong far from the mean
    upper, lower = edges(mean, log_scale, level, levels)
    cdf_upper = torch.where(level == levels - 1, 1.0, torch.sigmoid(upper))
    cdf_lower = torch.where(level == 0, 0.0, torch.sigmoid(lower))
    return torch.log((cdf_upper - cdf_lower).clamp(min=1e-12))


def pdf_in_the_tails(mean, log_scale, level, levels=256):  # PixelCNN++'s code: the density at the centre far out
    upper, lower = edges(mean, log_scale, level, levels)
    centre = (upper + lower) / 2
    delta = torch.sigmoid(upper) - torch.sigmoid(lower)
    log_pdf = centre - log_scale - 2 * F.softplus(centre) + math.log(2.0 / (levels - 1))
    inner = torch.where(delta > 1e-5, torch.log(delta.clamp(min=1e-12)), log_pdf)
    inner = torch.where(level == 0, F.logsigmoid(upper), inner)
    return torch.where(level == levels - 1, F.logsigmoid(-lower), inner)


def edges_not_extended(mean, log_scale, level, levels=256):
    upper, lower = edges(mean, log_scale, level, levels)
    return torch.log(torch.sigmoid(upper) - torch.sigmoid(lower))


def scale_not_log(mean, log_scale, level, levels=256):  # divides by log_scale itself
    half = 1.0 / (levels - 1)
    centre = level * (2.0 * half) - 1.0
    upper, lower = (centre + half - mean) / log_scale, (centre - half - mean) / log_scale
    first, last = level == 0, level == levels - 1
    log_p = torch.where(last, 0.0, F.logsigmoid(upper)) + torch.where(first, 0.0, F.logsigmoid(-lower))
    return log_p + torch.where(first | last, 0.0, torch.log(-torch.expm1(lower - upper)))


def times_scale(mean, log_scale, level, levels=256):
    return logistic_bin_log_prob(mean, -log_scale, level, levels)  # multiplies by exp(log_scale)


def _shifted(mean, log_scale, level, levels, *, centre=None, half=None):
    half = 1.0 / (levels - 1) if half is None else half
    centre = level * (2.0 / (levels - 1)) - 1.0 if centre is None else centre
    upper = (centre + half - mean) * torch.exp(-log_scale)
    lower = (centre - half - mean) * torch.exp(-log_scale)
    first, last = level == 0, level == levels - 1
    return torch.log(torch.where(last, 1.0, torch.sigmoid(upper)) - torch.where(first, 0.0, torch.sigmoid(lower)))


def mean_minus_edge(mean, log_scale, level, levels=256):  # (mean - edge) / s
    upper, lower = edges(mean, log_scale, level, levels)
    upper, lower = -upper, -lower
    first, last = level == 0, level == levels - 1
    return torch.log(torch.where(last, 1.0, torch.sigmoid(upper)) - torch.where(first, 0.0, torch.sigmoid(lower)))


def plus_mean(mean, log_scale, level, levels=256):
    return logistic_bin_log_prob(-mean, log_scale, level, levels)


def swapped(mean, log_scale, level, levels=256):
    upper, lower = edges(mean, log_scale, level, levels)
    first, last = level == 0, level == levels - 1
    return torch.log(torch.where(last, 1.0, torch.sigmoid(lower)) - torch.where(first, 0.0, torch.sigmoid(upper)))


def stable_with_wrong_sign(mean, log_scale, level, levels=256):  # logsigmoid(lower) for log(1 - sigmoid(lower))
    upper, lower = edges(mean, log_scale, level, levels)
    first, last = level == 0, level == levels - 1
    log_p = torch.where(last, 0.0, F.logsigmoid(upper)) + torch.where(first, 0.0, F.logsigmoid(lower))
    return log_p + torch.where(first | last, 0.0, torch.log(-torch.expm1(lower - upper)))


def hard_coded_256(mean, log_scale, level, levels=256):
    return logistic_bin_log_prob(mean, log_scale, level * (255 / (levels - 1)), 256)


def in_float32(mean, log_scale, level, levels=256):
    return logistic_bin_log_prob(mean.float(), log_scale.float(), level.float(), levels)


def last_is_255(mean, log_scale, level, levels=256):  # the top bin hard-coded as level 255
    upper, lower = edges(mean, log_scale, level, levels)
    cdf_upper = torch.where(level == 255, 1.0, torch.sigmoid(upper))
    cdf_lower = torch.where(level == 0, 0.0, torch.sigmoid(lower))
    return torch.log(cdf_upper - cdf_lower)


def always_float64(mean, log_scale, level, levels=256):
    return logistic_bin_log_prob(mean.double(), log_scale.double(), level.double(), levels)


# --------------------------------------------------------------------------- the colour masks


def colour_mask(i, o, k, t, colour=lambda n: torch.arange(n) % 3, centre=None, flip=False, dtype=torch.float32):
    """The colour mask by hand, with switches for the usual mistakes."""
    mask = torch.zeros(o, i, k, k, dtype=dtype)
    c = k // 2 if centre is None else centre
    mask[:, :, :c, :] = 1
    mask[:, :, c, :c] = 1
    g_out, g_in = colour(o)[:, None], colour(i)[None, :]
    if flip:
        g_out, g_in = g_in, g_out
    mask[:, :, c, c] = (g_in < g_out if t == "A" else g_in <= g_out).to(dtype)
    return mask


# check name -> (right answer, [(wrong answer, words the reason must contain), ...])
CASES = {
    "check_color_mask": (
        lambda i, o, k, t: pixelcourse.make_mask(i, o, k, t, color_channels=3),
        [
            (lambda i, o, k, t: pixelcourse.make_mask(i, o, k, t, color_channels=1), "grey rule"),
            (lambda i, o, k, t: pixelcourse.make_mask(i, o, k, "B" if t == "A" else "A", color_channels=3), "mask B's"),
            (lambda i, o, k, t: torch.ones(o, i, k, k), "away from the centre"),
            (lambda i, o, k, t: colour_mask(i, o, k, t, colour=lambda n: torch.arange(n) * 3 // n), "in blocks"),
            (lambda i, o, k, t: colour_mask(i, o, k, t, flip=True), "wrong way round"),
            (lambda i, o, k, t: colour_mask(i, o, k, t, dtype=torch.bool), "float tensor"),
            (lambda i, o, k, t: colour_mask(i, o, k, t, dtype=torch.long), "float tensor"),
            (lambda i, o, k, t: colour_mask(i, o, k, t, centre=1), "rows above the centre differ"),
            (lambda i, o, k, t: colour_mask(i, o, k, t).transpose(0, 1), "must have shape"),
            (lambda i, o, k, t: colour_mask(i, o, k, t) if k < 5 else colour_mask(i, o, k, t).flip(-1), "centre row"),
            (lambda i, o, k, t: colour_mask(i, o, k, t) if i % 3 == 0 and o % 3 == 0 else
             pixelcourse.make_mask(i, o, k, t), "grey rule"),
        ],
    ),
    "check_discretised_logistic": (
        log_space,
        [
            (naive, "fails once both sigmoids round to 1"),
            (naive_with_floor, "not accurate far from the mean"),
            (pdf_in_the_tails, "not accurate far from the mean"),
            (edges_not_extended, "outer bins must reach out to infinity"),
            (scale_not_log, "you divided by log_scale itself"),
            (times_scale, "you multiplied by exp(log_scale)"),
            (lambda m, s, v, levels=256: _shifted(m, s, v, levels, centre=v / (levels - 1)), "mapped the levels to [0, 1]"),
            (lambda m, s, v, levels=256: _shifted(m, s, v, levels, centre=v * 2 / levels - 1), "not v * 2 / levels - 1"),
            (lambda m, s, v, levels=256: _shifted(m, s, v, levels, half=2 / (levels - 1)), "wrong bin width"),
            (lambda m, s, v, levels=256: _shifted(m, s, v, levels, half=1 / levels), "wrong bin width"),
            (mean_minus_edge, "not (mean - edge) / s"),
            (swapped, "upper and lower are swapped"),
            (plus_mean, "subtract the mean"),
            (stable_with_wrong_sign, "check the signs"),
            (hard_coded_256, "use the argument levels"),
            (last_is_255, "not 255"),
            (in_float32, "keep the dtype"),
            (always_float64, "float32 in, float32 out"),
            (lambda m, s, v, levels=256: logistic_bin_log_prob(m, s, v, levels)[..., 0], "must have shape"),
        ],
    ),
}
