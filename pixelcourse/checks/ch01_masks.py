"""Checks of notebook 01: masks and the masked convolution."""

from __future__ import annotations


import torch
import torch.nn.functional as F

from .core import Wrong, register, _close, _first_line, _shape, _tensor
from ..masks import make_mask
from ..masks import masked_conv2d as _reference_conv


# --------------------------------------------------------------------------- 01 masks A and B


@register("check_causal_mask", "Masks A and B by hand", "01", example=lambda fn: fn(3, "A"))
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


# --------------------------------------------------------------------------- 01 the masked convolution


def _dependencies(masked_conv2d, weight, bias, mask_type, height: int, width: int) -> torch.Tensor:
    """Bool (H, W, H, W): entry (i, j, k, l) is True when output (i, j) has a gradient w.r.t. input (k, l).

    One backward pass: image n of a batch of H * W random images asks for the gradient of output
    position n (raster order), so x.grad[n] is that output's dependence on the input.
    """
    n = height * width
    x = torch.randn(n, weight.shape[1], height, width, requires_grad=True)  # (H*W, in, H, W)
    out = masked_conv2d(x, weight, bias, mask_type).reshape(n, -1, n)  # (H*W, out, H*W)
    if not out.requires_grad:
        return torch.zeros(height, width, height, width, dtype=torch.bool)
    out[torch.arange(n), :, torch.arange(n)].sum().backward()
    return (x.grad.abs().sum(dim=1) > 0).view(height, width, height, width)


def _shift(got: torch.Tensor, want: torch.Tensor, reach: int):
    """(di, dj) != (0, 0) such that got[i, j] == want[i - di, j - dj] away from the borders, else None."""
    h, w = got.shape[-2:]
    for di in range(-reach, reach + 1):
        for dj in range(-reach, reach + 1):
            if (di, dj) == (0, 0):
                continue
            a = got[..., max(di, 0) : h + min(di, 0), max(dj, 0) : w + min(dj, 0)]
            b = want[..., max(-di, 0) : h + min(-di, 0), max(-dj, 0) : w + min(-dj, 0)]
            if a.numel() and _close(a, b, 1e-4):
                return di, dj
    return None


def _explain_future(where: str, pad: str, got, want, other, unmasked, future, size: int) -> Wrong:
    """Why an output sees a later input: the most specific mistake first."""
    if _close(got, unmasked, 1e-4):
        return Wrong(f"{where} the output at (i, j) sees later pixels: the mask was not applied. "
                    "Multiply the weight by the mask, then convolve")
    zero = got.abs() < 1e-7
    if zero.any() and _close(got[~zero], unmasked[~zero], 1e-4):
        return Wrong(f"{where} the outputs you kept still see later pixels: mask the weight (out, in, kh, kw) "
                    "before the convolution, not the output after it")
    if _close(got, other, 1e-4):
        return Wrong(f"{where} the output at (i, j) depends on the input at (i, j): "
                    "mask A must hide the centre weight (A and B are swapped)")
    shift = _shift(got, want, size)
    if shift is not None:
        return Wrong(f"{where} the output is shifted by {shift} rows/columns and sees later pixels: "
                    f"pad the same on every side, {pad}")
    i, j, k, l = future.nonzero()[0].tolist()
    return Wrong(f"{where} the output at ({i}, {j}) depends on the input at ({k}, {l}), which is not earlier: "
                "the mask must keep every row above the centre, the pixels left of it "
                "(and the centre for mask B) and zero the rest")


def _test_masked_conv(masked_conv2d, kh: int, kw: int, mask_type: str) -> None:
    """Raise Wrong for one kernel shape and mask type."""
    where = f'with a {kh}×{kw} kernel and mask "{mask_type}"'
    pad = f"padding=(kh // 2, kw // 2) = ({kh // 2}, {kw // 2})"
    x = torch.randn(1, 2, 6, 7)  # (B, in, H, W)
    weight = torch.randn(3, 2, kh, kw)  # (out, in, kh, kw)
    bias = torch.randn(3)
    kept = weight.clone()
    out = _tensor(masked_conv2d(x, weight, bias, mask_type), "masked_conv2d(x, weight, bias, mask_type)")
    if not torch.equal(weight, kept):
        raise Wrong("you changed the weight in place: return F.conv2d(x, weight * mask, ...) and leave weight as it is")
    if tuple(out.shape) != (1, 3, 6, 7):
        if tuple(out.shape) == (1, 3, 6 - kh + 1, 7 - kw + 1):
            raise Wrong(f"{where} the output shrank from 6×7 to {out.shape[2]}×{out.shape[3]}: "
                        f"F.conv2d needs {pad} to keep H and W")
        _shape(out, (1, 3, 6, 7), f"{where}, the output for x of shape (1, 2, 6, 7) ({pad} keeps H and W)")
    with torch.no_grad():
        want = _reference_conv(x, weight, bias, mask_type)
        other = _reference_conv(x, weight, bias, "B" if mask_type == "A" else "A")
        unmasked = F.conv2d(x, weight, bias, padding=(kh // 2, kw // 2))
        got = out.detach()

    # Causality by gradient: output (i, j) may depend on inputs strictly before (i, j) (mask A),
    # or before and at (i, j) (mask B), in raster order.
    depends = _dependencies(masked_conv2d, weight, bias, mask_type, 6, 7)  # (H, W, H, W)
    if not depends.any():
        raise Wrong("the output has no gradient with respect to x: do not detach x or use torch.no_grad()")
    order = torch.arange(6 * 7).view(6, 7)
    later = order[None, None] > order[:, :, None, None]  # (H, W, H, W): input (k, l) after output (i, j)
    same = order[None, None] == order[:, :, None, None]
    future = depends & (later | same) if mask_type == "A" else depends & later
    if future.any():
        raise _explain_future(where, pad, got, want, other, unmasked, future, max(kh, kw))
    if mask_type == "B" and not depends[same].all():
        if _close(got, other, 1e-4):
            raise Wrong(f"{where} the output at (i, j) ignores the input at (i, j): "
                        "mask B must keep the centre weight (A and B are swapped)")
        shift = _shift(got, want, max(kh, kw))
        if shift is not None:
            raise Wrong(f"{where} the output is shifted by {shift} rows/columns: pad the same on every side, {pad}")
        raise Wrong(f"{where} the output at (i, j) must depend on the input at (i, j): mask B keeps the centre weight")
    if _close(got, want, 1e-4):
        return
    if _close(got + bias[None, :, None, None], want, 1e-4):
        raise Wrong("the bias is missing: pass it to F.conv2d(x, weight * mask, bias, padding=...)")
    shift = _shift(got, want, max(kh, kw))
    if shift is not None:
        raise Wrong(f"{where} the output is shifted by {shift} rows/columns: pad the same on every side, {pad}")
    raise Wrong(f"{where} the output differs from F.conv2d(x, weight * mask, bias, {pad}): "
                "keep every weight the mask allows (rows above the centre, left of it in the centre row)")


def _masked_conv_example(fn):
    return fn(torch.zeros(1, 1, 5, 5), torch.zeros(1, 1, 3, 3), None, "A")


@register("check_masked_conv", "The masked convolution", "01", example=_masked_conv_example)
def check_masked_conv(masked_conv2d):
    for kh, kw in ((3, 3), (5, 5)):
        for mask_type in ("A", "B"):
            _test_masked_conv(masked_conv2d, kh, kw, mask_type)
    x, weight = torch.randn(1, 2, 5, 5), torch.randn(3, 2, 3, 3)
    out = _tensor(masked_conv2d(x, weight, None, "B"), "masked_conv2d(x, weight, None, 'B')")
    if not _close(out, _reference_conv(x, weight, None, "B"), 1e-4):
        raise Wrong("with bias=None the result must be the convolution without a bias (F.conv2d accepts bias=None)")
    for kh, kw in ((3, 5), (1, 5), (5, 3)):
        for mask_type in ("A", "B"):
            try:
                _test_masked_conv(masked_conv2d, kh, kw, mask_type)
            except Wrong as err:
                raise Wrong(f"{err} (square kernels pass: take kh and kw from weight.shape separately)") from None
            except (IndexError, RuntimeError) as err:
                raise Wrong(f"with a {kh}×{kw} kernel your code raised {type(err).__name__} ({_first_line(err)}); square kernels "
                            "pass: take kh and kw from weight.shape separately") from None
