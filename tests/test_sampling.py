"""The naive sampler: raster order, completion keeps what is known, labels and temperature checks."""

import math

import pytest
import torch

import pixelcourse
from conftest import tiny_model


def test_sample_shapes_and_range(preset):
    model = tiny_model(preset, hidden=6 if preset == "cifar10" else 4, layers=1, height=9, width=8)
    c = model.config
    labels = torch.arange(2) if c.num_classes else None
    x = pixelcourse.sample(model, 2, labels=labels, generator=torch.Generator().manual_seed(0), method="naive")
    assert x.shape == (2, c.channels, c.height, c.width) and x.dtype == torch.long
    assert 0 <= int(x.min()) and int(x.max()) < c.levels


def test_same_seed_same_samples():
    model = tiny_model("mnist_binary", layers=1, height=10, width=9)
    a = pixelcourse.sample(model, 2, generator=torch.Generator().manual_seed(5), method="naive")
    b = pixelcourse.sample(model, 2, generator=torch.Generator().manual_seed(5), method="naive")
    assert torch.equal(a, b)


def test_complete_keeps_known_pixels_and_fills_the_rest():
    model = tiny_model("mnist", layers=1)
    images = torch.randint(0, 256, (2, 1, 28, 28))
    known = torch.zeros_like(images, dtype=torch.bool)
    known[:, :, :26] = True
    known[1, 0, 27, 5] = True
    rows = []
    out = pixelcourse.complete(model, images, known, n_per_image=3, generator=torch.Generator().manual_seed(1),
                               method="naive", callback=lambda row, x: rows.append(row))
    assert out.shape == (6, 1, 28, 28)
    expanded = images.repeat_interleave(3, 0)
    k = known.repeat_interleave(3, 0)
    assert torch.equal(out[k], expanded[k])
    assert rows == list(range(28))
    # different completions of the same image differ in the unknown part
    assert not torch.equal(out[0, :, 26:], out[1, :, 26:])


def test_sample_step_is_the_softmax_of_logits_over_t():
    logits = torch.tensor([[0.0, math.log(3.0)]]).repeat(20000, 1)  # p = (1/4, 3/4)
    draws = pixelcourse.sample_step(logits, 1.0, torch.Generator().manual_seed(0))
    assert abs(draws.float().mean().item() - 0.75) < 0.015
    cold = pixelcourse.sample_step(logits, 0.05, torch.Generator().manual_seed(0))
    assert cold.float().mean().item() > 0.999


@pytest.mark.parametrize("t", [0, -1, float("nan"), float("inf"), "hot"])
def test_bad_temperature(t):
    model = tiny_model("mnist_binary", layers=1)
    with pytest.raises(ValueError, match="temperature must be a"):
        pixelcourse.sample(model, 1, temperature=t)


def test_bad_completion_input():
    model = tiny_model("mnist_binary", layers=1)
    cond = tiny_model("fashion_mnist", layers=1)
    images = torch.zeros(2, 1, 28, 28, dtype=torch.long)
    with pytest.raises(ValueError, match="known must have the shape"):
        pixelcourse.complete(model, images, torch.zeros(2, 1, 28, 27, dtype=torch.bool))
    with pytest.raises(TypeError, match="torch.bool"):
        pixelcourse.complete(model, images, torch.zeros(2, 1, 28, 28))
    with pytest.raises(ValueError, match="unconditional"):
        pixelcourse.sample(model, 2, labels=[1, 2])
    with pytest.raises(ValueError, match="class-conditional"):
        pixelcourse.sample(cond, 2)
    with pytest.raises(ValueError, match="method must be one of"):
        pixelcourse.sample(model, 1, method="quick")
