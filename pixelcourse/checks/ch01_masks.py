"""Checks of notebook 01: masks and the masked convolution."""

from __future__ import annotations


import torch

from .core import Wrong, register, _shape, _tensor
from ..masks import make_mask


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
