"""Checks of notebook 05: colour masks and the discretised logistic."""

from __future__ import annotations


import torch

from .core import COLOURS, Wrong, register, _shape, _tensor
from ..masks import make_mask


# --------------------------------------------------------------------------- 05 colour masks


def _group_rule(kind: str, g_out: int, g_in: int) -> bool:
    return g_in < g_out if kind == "A" else g_in <= g_out


@register("check_color_mask", "The R→G→B colour masks", "05", example=lambda fn: fn(3, 6, 3, "A"))
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
