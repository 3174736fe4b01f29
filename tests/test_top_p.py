"""Nucleus (top-p) sampling: top_p = 1 changes nothing, fast equals naive for any top_p, bad values are refused."""

import pytest
import torch

import pixelcourse
from pixelcourse import sampling
from pixelcourse.sampling import nucleus_probs
from conftest import labels_for, tiny_model

SIZE = dict(height=7, width=6)  # small enough for the naive sampler on every preset, cifar10 included


def inverse_cdf_step(logits, temperature, generator):
    """The sampling step as it was before top_p existed: softmax(logits / T) in float64, one uniform per image."""
    probs = torch.softmax(logits.double() / temperature, dim=-1)  # (B, levels)
    u = torch.rand(logits.shape[0], 1, generator=generator, dtype=torch.float64)  # (B, 1)
    return (probs.cumsum(dim=-1) < u).sum(dim=-1).clamp(max=logits.shape[-1] - 1)  # (B,)


def test_nucleus_probs_keeps_the_crossing_level_in_level_order():
    probs = torch.tensor([[0.1, 0.5, 0.15, 0.25]])  # ranked: 0.5, 0.25, 0.15, 0.1
    logits = probs.log()
    torch.testing.assert_close(nucleus_probs(logits, 1.0, 0.6), torch.tensor([[0, 0.5, 0, 0.25]]) / 0.75)
    torch.testing.assert_close(nucleus_probs(logits, 1.0, 0.8), torch.tensor([[0, 0.5, 0.15, 0.25]]) / 0.9)
    torch.testing.assert_close(nucleus_probs(logits, 1.0, 0.3), torch.tensor([[0.0, 1, 0, 0]]))
    torch.testing.assert_close(nucleus_probs(logits, 1.0, 1.0), probs)
    # The temperature acts before the cut: at T = 0.5 the probabilities are (1, 25, 2.25, 6.25) / 34.5.
    torch.testing.assert_close(nucleus_probs(logits, 0.5, 0.9), torch.tensor([[0, 25, 0, 6.25]]) / 31.25)


def test_nucleus_probs_top_p_1_is_exactly_the_tempered_softmax():
    logits = torch.randn(5, 256, dtype=torch.float64) * 3
    for t in (0.3, 1.0, 1.7):
        assert torch.equal(nucleus_probs(logits, t, 1.0), torch.softmax(logits / t, dim=-1))


def test_sample_step_with_top_p_1_draws_what_it_drew_before():
    logits = torch.randn(50, 256) * 4
    for t in (0.1, 0.8, 1.0, 2.0):
        for top_p in ({}, {"top_p": 1.0}, {"top_p": 1}):
            new = pixelcourse.sample_step(logits, t, torch.Generator().manual_seed(7), **top_p)
            assert torch.equal(new, inverse_cdf_step(logits, t, torch.Generator().manual_seed(7)))


def test_samplers_with_top_p_1_give_todays_samples(preset):
    model = tiny_model(preset, **SIZE)
    labels = labels_for(model, 3)
    for method in ("naive", "fast"):
        before = pixelcourse.sample(model, 3, labels=labels, temperature=0.9, draw=inverse_cdf_step,
                                    generator=torch.Generator().manual_seed(3), method=method)  # the step as it was
        now = pixelcourse.sample(model, 3, labels=labels, temperature=0.9, top_p=1.0,
                                 generator=torch.Generator().manual_seed(3), method=method)
        assert torch.equal(now, before), method


def test_fast_equals_naive_with_top_p_below_1(preset):
    model = tiny_model(preset, **SIZE)
    labels = labels_for(model, 3)
    for temperature, top_p in ((1.0, 0.9), (0.8, 0.5)):
        naive, fast_ = (
            pixelcourse.sample(model, 3, labels=labels, temperature=temperature, top_p=top_p,
                               generator=torch.Generator().manual_seed(11), method=method)
            for method in ("naive", "fast")
        )  # fmt: skip
        assert torch.equal(naive, fast_)


def test_fast_completion_equals_naive_with_top_p_below_1():
    model = tiny_model("cifar10", **SIZE)
    g = torch.Generator().manual_seed(4)
    images = torch.randint(0, 256, (2, 3, 7, 6), generator=g)
    known = torch.zeros_like(images, dtype=torch.bool)
    known[:, :, :3] = True
    known[1, 0, 5, 2] = True
    naive, fast_ = (
        pixelcourse.complete(model, images, known, n_per_image=2, top_p=0.7,
                             generator=torch.Generator().manual_seed(2), method=method)
        for method in ("naive", "fast")
    )  # fmt: skip
    assert torch.equal(naive, fast_)
    k = known.repeat_interleave(2, 0)
    assert torch.equal(naive[k], images.repeat_interleave(2, 0)[k])


def test_tiny_top_p_is_greedy():
    logits = torch.randn(200, 256) * 2
    drawn = pixelcourse.sample_step(logits, 1.0, torch.Generator().manual_seed(0), top_p=1e-6)
    assert torch.equal(drawn, logits.argmax(dim=-1))

    model = tiny_model("mnist", **SIZE)
    greedy = [pixelcourse.sample(model, 2, top_p=1e-6, generator=torch.Generator().manual_seed(s)) for s in (0, 1)]
    assert torch.equal(greedy[0], greedy[1])  # no randomness left: every seed gives the same images
    with torch.no_grad():
        logits = model(greedy[0])  # (2, levels, 1, H, W): each level is the argmax given the levels before it
    assert torch.equal(greedy[0], logits.argmax(dim=1))


@pytest.mark.parametrize("top_p", [0, -0.1, 1.5, float("nan"), float("inf"), "most", None])
def test_bad_top_p_is_a_clear_error(top_p):
    model = tiny_model("mnist_binary", height=6, width=6)
    message = "top_p must be a number with 0 < top_p <= 1"
    for method in ("naive", "fast"):
        with pytest.raises(ValueError, match=message):
            pixelcourse.sample(model, 1, top_p=top_p, method=method)
    with pytest.raises(ValueError, match=message):
        pixelcourse.sample_step(torch.zeros(2, 4), 1.0, None, top_p=top_p)
    x = torch.zeros(1, 1, 6, 6, dtype=torch.long)
    with pytest.raises(ValueError, match=message):
        sampling.complete_fast(model, x, torch.zeros_like(x, dtype=torch.bool), None, 1.0, top_p=top_p)
