"""Answers for the checks of notebook 01: a right one and wrong ones with the words their reason must contain."""

from __future__ import annotations


import torch
import torch.nn.functional as F

import pixelcourse

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
}


def masked_conv2d(mask_type_for=lambda t: t, padding=lambda kh, kw: (kh // 2, kw // 2), use_bias=True, square=False):
    """The reference masked convolution, with one usual mistake switched in."""

    def conv(x, weight, bias, mask_type):
        kh, kw = weight.shape[-2:]
        if square:  # the mask and padding of a kw x kw kernel
            kh = kw
        mask = torch.zeros(weight.shape[0], weight.shape[1], kh, kw)
        mask[:, :, : kh // 2, :] = 1
        mask[:, :, kh // 2, : kw // 2] = 1
        if mask_type_for(mask_type) == "B":
            mask[:, :, kh // 2, kw // 2] = 1
        return F.conv2d(x, weight * mask, bias if use_bias else None, padding=padding(kh, kw))

    return conv


def conv_unmasked(x, weight, bias, mask_type):
    kh, kw = weight.shape[-2:]
    return F.conv2d(x, weight, bias, padding=(kh // 2, kw // 2))


def conv_masked_output(x, weight, bias, mask_type):
    kh, kw = weight.shape[-2:]
    out = F.conv2d(x, weight, bias, padding=(kh // 2, kw // 2))  # (B, out, H, W)
    return out * torch.tril(torch.ones(out.shape[-2:]))  # a "causal" mask on the output


def conv_in_place(x, weight, bias, mask_type):
    kh, kw = weight.shape[-2:]
    with torch.no_grad():
        weight *= pixelcourse.make_mask(weight.shape[1], weight.shape[0], (kh, kw), mask_type)
    return F.conv2d(x, weight, bias, padding=(kh // 2, kw // 2))


def conv_padded_top_left(x, weight, bias, mask_type):
    kh, kw = weight.shape[-2:]
    mask = pixelcourse.make_mask(weight.shape[1], weight.shape[0], (kh, kw), mask_type)
    return F.conv2d(F.pad(x, (kw - 1, 0, kh - 1, 0)), weight * mask, bias)  # shifts the output


def conv_no_rows_above(x, weight, bias, mask_type):
    kh, kw = weight.shape[-2:]
    mask = pixelcourse.make_mask(weight.shape[1], weight.shape[0], (kh, kw), mask_type)
    mask[:, :, : kh // 2] = 0
    return F.conv2d(x, weight * mask, bias, padding=(kh // 2, kw // 2))


def conv_sees_below(x, weight, bias, mask_type):
    kh, kw = weight.shape[-2:]
    mask = pixelcourse.make_mask(weight.shape[1], weight.shape[0], (kh, kw), mask_type)
    mask[:, :, kh // 2 + 1 :] = 1
    return F.conv2d(x, weight * mask, bias, padding=(kh // 2, kw // 2))


CASES["check_masked_conv"] = (
    masked_conv2d(),
    [
        (conv_unmasked, "mask was not applied"),
        (conv_masked_output, "not the output"),
        (masked_conv2d(mask_type_for=lambda t: "B"), "mask A must hide the centre"),
        (masked_conv2d(mask_type_for=lambda t: "A"), "mask B must keep the centre"),
        (masked_conv2d(mask_type_for=lambda t: "A" if t == "B" else "B"), "A and B are swapped"),
        (masked_conv2d(padding=lambda kh, kw: 0), "needs padding=(kh // 2, kw // 2)"),
        (masked_conv2d(padding=lambda kh, kw: (kh - 1, kw - 1)), "must have shape"),
        (conv_padded_top_left, "shifted"),
        (masked_conv2d(use_bias=False), "bias is missing"),
        (conv_in_place, "in place"),
        (conv_no_rows_above, "rows above the centre"),
        (conv_sees_below, "is not earlier"),
        (masked_conv2d(square=True), "take kh and kw from weight.shape separately"),
        (lambda x, weight, bias, mask_type: F.conv2d(x, weight, bias, padding=1).detach(), "no gradient"),
    ],
)
