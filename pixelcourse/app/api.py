"""The app's HTTP API, beside the page: ``POST /api/complete`` and ``GET /api/models``.

A request is one JSON object (``inputs.parse_request`` says which fields); the
answer is the result JSON the page shows too. Every problem gets one status and
one JSON message, never a traceback: 400 for a malformed request, 413 for a
body over ``MAX_BODY`` bytes, 503 when the queue is full ("busy, try again").
"""

from __future__ import annotations

import asyncio
import json
import time

import torch
from fastapi import FastAPI, Request as HttpRequest
from fastapi.responses import JSONResponse

from ..widget import prepare
from .batcher import Batcher, Busy, Job
from .inputs import MAX_COMPLETIONS, TEMPERATURE, BadRequest, parse_request

MAX_BODY = 256 * 1024  # bytes; a drawing as JSON is about 3 KB, its strokes rarely 30 KB


def make_result(job: Job, out: torch.Tensor, levels: int, seconds: float) -> dict:
    """The record of one completion, as the page's hidden JSON and the API give it.

    "drawing" (H x H levels) is the drawing as the model got it (zero below the kept rows),
    "completions" (n x H x W levels) what it made of it.
    """
    r = job.request
    images, _ = prepare(r.image, levels, r.keep)  # (1, 1, H, W)
    return {
        "model": r.model, "levels": levels, "temperature": r.temperature, "keep_rows": r.keep,
        "n_completions": r.n_completions, "seed": r.seed, "drawing": images[0, 0].tolist(),
        "completions": out.tolist(), "seconds": round(seconds, 4), "batch_images": job.batch_images,
    }


def error(status: int, message: str) -> JSONResponse:
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _no_constants(name: str):
    raise BadRequest(f"the body holds {name}, which is not a number JSON allows.")


async def read_json(http: HttpRequest):
    """The body as JSON; BadRequest for anything else, OverflowError for a body over MAX_BODY."""
    declared = http.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise OverflowError
    body = bytearray()
    async for chunk in http.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise OverflowError
    try:
        return json.loads(body, parse_constant=_no_constants)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise BadRequest("the body must be one JSON object (Content-Type: application/json).") from None


def add_api(app: FastAPI, batcher: Batcher, default: str) -> None:
    """Add the API's routes to ``app``; completions come from ``batcher``, its default model is ``default``."""
    models = batcher.models

    @app.get("/api/models")
    async def list_models() -> dict:
        return {"models": {label: m.config.levels for label, m in models.items()}, "default": default,
                "temperature": list(TEMPERATURE), "max_completions": MAX_COMPLETIONS}

    @app.post("/api/complete")
    async def complete(http: HttpRequest):
        start = time.monotonic()
        try:
            request = parse_request(await read_json(http), models, default)
            job = batcher.submit(request)
        except OverflowError:
            return error(413, f"the body is larger than {MAX_BODY} bytes; a drawing needs about 3 KB.")
        except (BadRequest, ValueError) as err:
            return error(400, str(err))
        except Busy as err:
            return error(503, str(err))
        try:
            out = await asyncio.wrap_future(job.future)
        except Exception as err:  # the sampler failed: say so, keep serving
            return error(500, f"the completion failed: {type(err).__name__}: {err}")
        levels = models[request.model].config.levels
        return JSONResponse(make_result(job, out, levels, time.monotonic() - start))
