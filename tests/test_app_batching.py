"""The app's parts without a server: the model menu, the checks of a request, and the batcher.

The batcher tests use a tiny MNIST model: a user's completions must depend on
their own drawing, controls and seed only, whoever else shares the sampler call.
"""

from __future__ import annotations

import json
import shutil
import threading

import numpy as np
import pytest
import torch
from conftest import tiny_model

from pixelcourse import complete, settings
from pixelcourse.app import (MODELS, BadRequest, Batcher, Busy, ModelEntry, Request, default_model, load_models,
                             parse_request)
from pixelcourse.app.batcher import Job, make_draw, run_batch
from pixelcourse.widget import rasterise, rows_to_keep

SEVEN = rasterise([[(60, 55), (215, 50), (175, 125)]])  # uint8 (28, 28), the top of a 7
LABEL = "MNIST, 256 levels"


@pytest.fixture(scope="module")
def models():
    return {LABEL: tiny_model("mnist", seed=1), "binary": tiny_model("mnist_binary", seed=2)}


def request(image=SEVEN, seed=7, temperature=1.0, n=3, keep=None, model=LABEL) -> Request:
    return Request(model, image, rows_to_keep(image, keep), temperature, n, seed)


# --------------------------------------------------------------------------- the model menu


def test_the_shipped_models_are_loaded_once_and_the_default_is_the_256_level_one():
    models = load_models()
    assert [e.checkpoint for e in MODELS if e.required] == ["mnist", "mnist_binary"]
    assert {m.config.levels for m in models.values()} == {256, 2}
    assert models[default_model(models)].config.levels == 256


def test_a_model_is_one_line_of_the_menu_and_the_best_256_level_one_is_the_default(tmp_path):
    for name in ("mnist", "mnist_binary"):
        shutil.copy(settings.CHECKPOINT_DIR / f"{name}.pt", tmp_path)
    manifest = json.loads((settings.CHECKPOINT_DIR / "manifest.json").read_text())
    manifest = {k: manifest[k] for k in ("mnist", "mnist_binary")}
    entries = (*MODELS[:2], ModelEntry("Better", "mnist_better"))
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    assert list(load_models(tmp_path, entries)) == [e.label for e in MODELS[:2]]  # not in the manifest: not offered
    manifest["mnist_better"] = {**manifest["mnist"], "test_bits_per_dim": manifest["mnist"]["test_bits_per_dim"] - 0.1}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    models = load_models(tmp_path, entries)
    assert list(models) == [e.label for e in entries]
    assert default_model(models, tmp_path, entries) == "Better"


# --------------------------------------------------------------------------- what a request may ask for


def test_a_request_gets_its_drawing_from_the_pads_functions(models):
    strokes = [{"points": [[60, 55], [215, 50], [175, 125]], "width": 2.0}]
    r = parse_request({"strokes": strokes, "temperature": 0.8, "n_completions": 2, "seed": 5}, models, LABEL)
    assert (r.image == SEVEN).all() and r.keep == rows_to_keep(SEVEN)
    assert (r.model, r.temperature, r.n_completions, r.seed) == (LABEL, 0.8, 2, 5)
    same = parse_request({"drawing": SEVEN.tolist(), "keep_rows": 3, "model": "mnist"}, models, LABEL)
    assert (same.image == SEVEN).all() and same.keep == 3 and same.n_completions == 4


def test_an_empty_request_completes_from_nothing(models):
    r = parse_request({}, models, LABEL)
    assert r.keep == 0 and not r.image.any() and r.model == LABEL


@pytest.mark.parametrize("fields, says", [
    ({"drawing": [[0] * 28] * 27}, "28 rows of 28"),
    ({"drawing": [[0] * 27] * 28}, "28 rows of 28"),
    ({"drawing": [[0.5] * 28] * 28}, "whole numbers from 0 to 255"),
    ({"drawing": [[256] * 28] * 28}, "whole numbers from 0 to 255"),
    ({"drawing": [["a"] * 28] * 28}, "whole numbers from 0 to 255"),
    ({"drawing": [[True] * 28] * 28}, "whole numbers from 0 to 255"),
    ({"temperature": float("nan")}, "temperature must be a number from 0.1 to 2.0"),
    ({"temperature": 3}, "temperature must be a number from 0.1 to 2.0"),
    ({"temperature": "hot"}, "temperature must be"),
    ({"keep_rows": 29}, "keep_rows must be null"),
    ({"n_completions": 0}, "n_completions must be a whole number from 1 to 8"),
    ({"n_completions": 9}, "n_completions must be"),
    ({"n_completions": True}, "n_completions must be"),
    ({"seed": -1}, "seed must be"),
    ({"model": "cifar10"}, "model must be one of"),
    ({"colour": 1}, "unknown field"),
    ({"drawing": [[0] * 28] * 28, "strokes": []}, "either drawing or strokes"),
    ({"strokes": [{"points": []}]}, "non-empty list of points"),
    ({"strokes": [{"points": [[1, float("inf")]]}]}, "finite numbers"),
    ({"strokes": [{"points": [[1, 2]], "width": 0}]}, "width"),
    ({"strokes": [{"points": [[1, 2]]}] * 501}, "at most 500 strokes"),
])
def test_a_malformed_request_is_one_clear_error(models, fields, says):
    with pytest.raises(BadRequest, match=says.replace("(", r"\(")):
        parse_request(fields, models, LABEL)


# --------------------------------------------------------------------------- the batcher


def test_a_users_completions_do_not_depend_on_who_else_is_in_the_batch(models):
    model = models[LABEL]
    alone = run_batch(model, [Job(request())])[0]  # (3, 28, 28)
    others = [Job(request(np.zeros((28, 28), np.uint8), seed=1, temperature=0.5)),
              Job(request(seed=2, keep=20, n=2))]
    together = run_batch(model, [others[0], Job(request()), others[1]])
    assert torch.equal(together[1], alone), "the same seed must give the same completions in a batch"
    keep = rows_to_keep(SEVEN)
    assert (alone[:, :keep] == torch.from_numpy(SEVEN[:keep].astype(np.int64))).all(), "the drawn rows are kept"
    assert len({c[keep:].numpy().tobytes() for c in alone}) == 3, "each completion has numbers of its own"
    assert not torch.equal(run_batch(model, [Job(request(seed=8))])[0], alone), "another seed, other completions"


def test_the_draw_hook_gives_every_image_its_own_number_and_temperature():
    known = torch.zeros(2, 1, 2, 2, dtype=torch.bool)
    known[0, :, 0] = True  # image 0 knows row 0: the calls still walk every sub-pixel, in order
    u = torch.tensor([[0.15, 0.25, 0.35, 0.45], [0.95, 0.95, 0.95, 0.95]], dtype=torch.float64)
    draw, left = make_draw(u, torch.tensor([[1.0], [0.1]], dtype=torch.float64), known)
    logits = torch.zeros(2, 10)  # image 0: uniform over 10 levels, the level is floor(10 u)
    logits[1, 3] = 1.0  # image 1 at temperature 0.1: level 3 holds 99.96% of the probability
    assert [draw(logits, 1.0).tolist() for _ in range(4)] == [[1, 3], [2, 3], [3, 3], [4, 3]]
    assert left() == 0
    with pytest.raises(RuntimeError, match="drew more sub-pixels"):
        draw(logits, 1.0)


class Gate:
    """A ``complete`` that waits for ``release`` before it runs: a test can fill the queue meanwhile."""

    def __init__(self):
        self.started, self.release, self.calls = threading.Event(), threading.Event(), []

    def __call__(self, model, images, known, **kwargs):
        self.calls.append(images.shape[0])
        self.started.set()
        assert self.release.wait(30)
        return complete(model, images, known, **kwargs)


def test_requests_that_arrive_together_share_one_call_and_a_full_queue_says_busy(models):
    gate = Gate()
    batcher = Batcher(models, max_images=6, window_s=0.05, max_waiting=2, complete=gate)
    try:
        first = batcher.submit(request(n=2))
        assert gate.started.wait(30)  # the first call runs alone, held at the gate
        waiting = [batcher.submit(request(seed=s, n=3)) for s in (1, 2)]
        with pytest.raises(Busy, match="busy"):
            batcher.submit(request(seed=3))
        gate.release.set()
        assert torch.equal(first.future.result(30), run_batch(models[LABEL], [Job(request(n=2))])[0])
        assert [job.future.result(30).shape[0] for job in waiting] == [3, 3]
        assert gate.calls == [2, 6] and waiting[0].batch_images == 6, "the two waiting clicks share one call"
    finally:
        gate.release.set()
        batcher.stop()


def test_a_failing_call_fails_its_jobs_only_and_the_worker_goes_on(models):
    def broken(model, images, known, **kwargs):
        if images.shape[0] == 1:
            raise RuntimeError("boom")
        return complete(model, images, known, **kwargs)

    batcher = Batcher(models, window_s=0.0, complete=broken)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            batcher.submit(request(n=1)).future.result(30)
        assert batcher.submit(request(n=2)).future.result(30).shape == (2, 28, 28)
    finally:
        batcher.stop()


def test_a_request_for_another_model_waits_for_its_own_call(models):
    batcher = Batcher(models, window_s=0.1)
    try:
        jobs = [batcher.submit(request(n=1)), batcher.submit(request(n=1, model="binary")), batcher.submit(request(n=2))]
        outs = [job.future.result(30) for job in jobs]
        assert [job.batch_images for job in jobs] == [3, 1, 3]
        assert outs[1].max() <= 1 and batcher.calls == 2
    finally:
        batcher.stop()
