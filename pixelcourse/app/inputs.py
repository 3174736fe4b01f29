"""What a click on Complete may ask for, checked once for the page and the HTTP API alike.

``parse_request`` turns the fields of a request (a drawing as 28x28 values or as
the pad's strokes, and the controls) into a ``batcher.Request`` or raises
``BadRequest`` with one sentence that says what is wrong. The drawing becomes
an image with the pad's own functions (``pixelcourse.widget``): ``rasterise``
for strokes, ``rows_to_keep`` for the kept rows.
"""

from __future__ import annotations

import math
import secrets

import numpy as np

from ..widget import CELL, GRID, Stroke, rasterise, rows_to_keep
from ..widget.pad import check_width
from .batcher import Request
from .models import MODELS

TEMPERATURE = (0.1, 2.0)  # the range of the temperature slider, as in notebook 09's pad
MAX_COMPLETIONS = 8  # completions per click
DEFAULT_COMPLETIONS = 4
MAX_STROKES, MAX_POINTS = 500, 20_000  # a drawing of a digit needs far fewer
MAX_SEED = 2**63 - 1
FIELDS = {"drawing", "strokes", "model", "temperature", "keep_rows", "n_completions", "seed"}


class BadRequest(ValueError):
    """A request the app cannot serve; the message says which field is wrong and what it accepts."""


def is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def is_number(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def check_drawing(drawing) -> np.ndarray:
    """A drawing given as GRID x GRID whole numbers 0..255 (255 = full ink) -> uint8 (GRID, GRID)."""
    if not isinstance(drawing, list) or len(drawing) != GRID or not all(isinstance(r, list) and len(r) == GRID
                                                                        for r in drawing):
        raise BadRequest(f"drawing must be {GRID} rows of {GRID} whole numbers from 0 to 255 (255 = full ink).")
    if not all(is_int(v) and 0 <= v <= 255 for row in drawing for v in row):
        raise BadRequest("drawing must hold whole numbers from 0 to 255 only (no fractions, text or NaN).")
    return np.array(drawing, dtype=np.uint8)


def check_strokes(strokes) -> np.ndarray:
    """The pad's strokes [{"points": [[x, y], ...], "width": cells, "erase": bool}] -> uint8 (GRID, GRID).

    Points are canvas pixels, CELL per cell (the pad is GRID * CELL pixels wide).
    """
    if not isinstance(strokes, list) or len(strokes) > MAX_STROKES:
        raise BadRequest(f"strokes must be a list of at most {MAX_STROKES} strokes.")
    total, parsed, limit = 0, [], 4 * GRID * CELL
    for k, s in enumerate(strokes):
        points = s.get("points") if isinstance(s, dict) else None
        if not isinstance(points, list) or not points:
            raise BadRequest(f"strokes[{k}] must be an object with a non-empty list of points [[x, y], ...].")
        total += len(points)
        if total > MAX_POINTS:
            raise BadRequest(f"strokes may hold at most {MAX_POINTS} points in all.")
        if not all(isinstance(p, list) and len(p) == 2 and all(is_number(v) and math.isfinite(v) and abs(v) <= limit
                                                               for v in p) for p in points):
            raise BadRequest(f"strokes[{k}].points must be pairs [x, y] of finite numbers (canvas pixels).")
        try:
            width = check_width(s.get("width", 2.5))
        except ValueError as err:
            raise BadRequest(f"strokes[{k}].width: {err}") from None
        if not isinstance(s.get("erase", False), bool):
            raise BadRequest(f"strokes[{k}].erase must be true or false.")
        parsed.append(Stroke([tuple(map(float, p)) for p in points], width=width, erase=s.get("erase", False)))
    return rasterise(parsed)


def check_controls(fields: dict, models: dict, default: str) -> tuple[str, float, int | None, int, int]:
    """(model label, temperature, keep_rows or None, n_completions, seed) from ``fields``; BadRequest if out of range."""
    model = fields.get("model", default)
    if isinstance(model, str):  # a label of the menu, or a checkpoint's name ("mnist")
        model = {entry.checkpoint: entry.label for entry in MODELS}.get(model, model)
    if model not in models:
        raise BadRequest(f"model must be one of {list(models)}, got {model!r}.")
    temperature = fields.get("temperature", 1.0)
    low, high = TEMPERATURE
    if not is_number(temperature) or not low <= temperature <= high:  # also refuses NaN
        raise BadRequest(f"temperature must be a number from {low} to {high}, got {temperature!r}.")
    keep = fields.get("keep_rows")
    if keep is not None and not (is_int(keep) and 0 <= keep <= GRID):
        raise BadRequest(f"keep_rows must be null (down to the last row with ink) or a whole number from 0 to {GRID}, "
                         f"got {keep!r}.")
    n = fields.get("n_completions", DEFAULT_COMPLETIONS)
    if not (is_int(n) and 1 <= n <= MAX_COMPLETIONS):
        raise BadRequest(f"n_completions must be a whole number from 1 to {MAX_COMPLETIONS}, got {n!r}.")
    seed = fields.get("seed")
    if seed is None:
        seed = secrets.randbelow(MAX_SEED)
    elif not (is_int(seed) and 0 <= seed <= MAX_SEED):
        raise BadRequest(f"seed must be null (a new one) or a whole number from 0 to 2**63 - 1, got {seed!r}.")
    return model, float(temperature), None if keep is None else int(keep), int(n), int(seed)


def parse_request(fields, models: dict, default: str) -> Request:
    """A checked ``Request`` from the fields of a request; an empty drawing completes from nothing.

    fields: a dict with at most one of "drawing" (GRID x GRID values 0..255) and "strokes" (the pad's),
    and "model", "temperature", "keep_rows", "n_completions", "seed" (all optional).
    """
    if not isinstance(fields, dict):
        raise BadRequest("the request must be a JSON object, e.g. {\"drawing\": [[0, ...], ...], \"temperature\": 1.0}.")
    unknown = set(fields) - FIELDS
    if unknown:
        raise BadRequest(f"unknown field(s) {sorted(unknown)}; the fields are {sorted(FIELDS)}.")
    if fields.get("drawing") is not None and fields.get("strokes") is not None:
        raise BadRequest("give either drawing or strokes, not both.")
    if fields.get("drawing") is not None:
        image = check_drawing(fields["drawing"])
    elif fields.get("strokes") is not None:
        image = check_strokes(fields["strokes"])
    else:
        image = np.zeros((GRID, GRID), dtype=np.uint8)
    model, temperature, keep, n, seed = check_controls(fields, models, default)
    return Request(model, image, rows_to_keep(image, keep), temperature, n, seed)
