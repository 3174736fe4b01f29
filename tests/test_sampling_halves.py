"""The fast sampler's two halves (``fill_in_halves``): one thread per half of a batch of 16 or more.

The suite's workers run torch on one thread, where the sampler never splits; these tests allow two.
"""

import threading
import time

import pytest
import torch
from conftest import TINY, labels_for, tiny_model

import pixelcourse
from pixelcourse.sampling import fast
from pixelcourse.sampling.head import Head

SECOND = fast.SECOND_HALF


@pytest.fixture
def two_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(before)


def _threads_of_steps(monkeypatch) -> set:
    """The names of the threads that run the output head, recorded as the sampler runs."""
    names, head = set(), Head.__call__

    def recording(self, features, c):
        names.add(threading.current_thread().name)
        return head(self, features, c)

    monkeypatch.setattr(Head, "__call__", recording)
    return names


def _known(shape, seed=0):
    """Known sub-pixels that differ between the halves: whole rows, single pixels, one colour."""
    g = torch.Generator().manual_seed(seed)
    known = torch.rand(shape, generator=g) < 0.3
    known[:, :, :2] = True
    known[shape[0] // 2 :, :, 2] = True  # a row only the second half knows
    return known


def _one_thread_and_halves(run):
    """run(generator) with torch on one thread, then on two; both results and generator states."""
    out = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        g = torch.Generator().manual_seed(11)
        out.append((run(g), g.get_state()))
    return out


@pytest.mark.parametrize("preset", sorted(TINY))
def test_halves_draw_the_one_thread_walks_samples(preset, two_threads, monkeypatch):
    names = _threads_of_steps(monkeypatch)
    model = tiny_model(preset)
    n = fast.HALVES_FROM + 1  # odd: the halves differ in size
    images = pixelcourse.sample(model, n, labels=labels_for(model, n), generator=torch.Generator().manual_seed(0))
    known = _known(images.shape)

    def run(g):
        return pixelcourse.complete(model, images, known, labels=labels_for(model, n), temperature=0.7, top_p=0.9,
                                    generator=g, method="fast")  # fmt: skip

    (one, one_state), (halves, halves_state) = _one_thread_and_halves(run)
    assert SECOND in names, "a batch of HALVES_FROM images or more on two threads is split"
    assert torch.equal(halves, one), "the halves must draw exactly the one-thread walk's samples"
    assert torch.equal(halves[known], images[known])
    assert torch.equal(halves_state, one_state), "the generator must end where the one-thread walk leaves it"


def test_halves_sample_what_the_naive_sampler_draws(two_threads):
    model = tiny_model("mnist")
    n = fast.HALVES_FROM
    known = torch.ones(n, 1, 28, 28, dtype=torch.bool)
    known[:, :, 13, 20:] = False  # 8 sub-pixels: naive runs 8 forward passes
    images = torch.zeros(n, 1, 28, 28, dtype=torch.long)
    naive = pixelcourse.complete(model, images, known, generator=torch.Generator().manual_seed(2), method="naive")
    halves = pixelcourse.complete(model, images, known, generator=torch.Generator().manual_seed(2), method="fast")
    assert torch.equal(halves, naive)


def test_below_halves_from_and_on_one_thread_there_is_one_walk(monkeypatch):
    names = _threads_of_steps(monkeypatch)
    model = tiny_model("mnist")
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        pixelcourse.sample(model, fast.HALVES_FROM - 1)
        torch.set_num_threads(1)
        pixelcourse.sample(model, fast.HALVES_FROM)
    finally:
        torch.set_num_threads(before)
    assert names == {threading.main_thread().name}


def test_callback_runs_in_the_calling_thread_once_both_halves_finished_the_row(two_threads):
    model = tiny_model("mnist")
    seen = []

    def callback(row, x):
        time.sleep(0.02)  # time for a half that did not wait to write its next row
        later = x[:, :, row + 1 :]
        seen.append((row, threading.current_thread().name, x[:, :, row].clone(), int(later.count_nonzero())))

    out = pixelcourse.sample(model, fast.HALVES_FROM, generator=torch.Generator().manual_seed(4), callback=callback)
    assert [row for row, *_ in seen] == list(range(28))
    assert {name for _, name, *_ in seen} == {threading.main_thread().name}
    for row, _, values, later in seen:
        assert torch.equal(values, out[:, :, row]), f"row {row} of both halves is final when the callback sees it"
        assert later == 0, f"no half has written past row {row} while the callback runs"
    assert torch.get_num_threads() == 2, "the caller's thread count is restored"


def test_an_error_in_the_callback_stops_both_halves(two_threads):
    model = tiny_model("mnist")

    def callback(row, x):
        if row == 3:
            raise KeyboardInterrupt

    x = torch.zeros(fast.HALVES_FROM, 1, 28, 28, dtype=torch.long)
    known = torch.zeros_like(x, dtype=torch.bool)
    with pytest.raises(KeyboardInterrupt):
        fast.complete_fast(model, x, known, None, 1.0, callback=callback)
    assert not any(t.name == SECOND for t in threading.enumerate()), "the second half has stopped"
    assert x[:, :, 5:].count_nonzero() == 0, "neither half went on past the row after the interrupt"
    assert torch.get_num_threads() == 2


def test_an_error_in_the_second_half_reaches_the_caller(two_threads, monkeypatch):
    head = Head.__call__

    def failing(self, features, c):
        if threading.current_thread().name == SECOND:
            raise ValueError("broken head in the second half")
        return head(self, features, c)

    monkeypatch.setattr(Head, "__call__", failing)
    with pytest.raises(ValueError, match="second half"):
        pixelcourse.sample(tiny_model("mnist"), fast.HALVES_FROM, callback=lambda row, x: None)
    with pytest.raises(ValueError, match="second half"):
        pixelcourse.sample(tiny_model("mnist"), fast.HALVES_FROM)  # no callback: the halves never meet
    assert not any(t.name == SECOND for t in threading.enumerate())
    assert torch.get_num_threads() == 2
