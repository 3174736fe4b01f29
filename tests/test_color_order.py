"""color_order="independent": grey masks on colour images, proven by input gradients; samplers agree; clear errors."""

import pytest
import torch

import pixelcourse
from conftest import tiny_model


def earlier_pixels(config, i, j):
    """Bool (C, H, W): True at every sub-pixel of the pixels strictly before (i, j) in raster order."""
    rows = torch.arange(config.height)[:, None]
    cols = torch.arange(config.width)[None, :]
    before = (rows * config.width + cols) < (i * config.width + j)  # (H, W)
    return before.expand(config.channels, -1, -1)


@pytest.mark.parametrize("arch", ["pixelcnn", "gated"])
@pytest.mark.parametrize("position", [(0, 0), (5, 9), (8, 2), (11, 11)])
def test_independent_colours_are_causal_and_blind_to_the_current_pixel(arch, position):
    model = tiny_model("cifar10", arch=arch, color_order="independent", height=12, width=12)
    c = model.config
    assert c.color_groups == 1
    i, j = position
    for ch in range(3):
        grad = pixelcourse.receptive_field(model, (ch, i, j))  # (3, H, W)
        assert (grad[~earlier_pixels(c, i, j)] == 0).all(), f"colour {ch} sees the current pixel or the future"
        if (i, j) != (0, 0):
            assert (grad[:, i, j - 1] != 0).all() if j else (grad[:, i - 1, j] != 0).all()


@pytest.mark.parametrize("arch", ["pixelcnn", "gated"])
def test_rgb_colours_see_the_earlier_colours_of_their_pixel(arch):
    model = tiny_model("cifar10", arch=arch, color_order="rgb", height=12, width=12)
    assert model.config.color_groups == 3
    i, j = 9, 9
    for ch in range(3):
        grad = pixelcourse.receptive_field(model, (ch, i, j))[:, i, j]  # (3,): the current pixel's colours
        assert (grad[:ch] != 0).all() and (grad[ch:] == 0).all()


def test_independent_and_rgb_have_the_same_parameters():
    rgb, independent = (tiny_model("cifar10", color_order=order) for order in ("rgb", "independent"))
    assert [p.shape for p in rgb.parameters()] == [p.shape for p in independent.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(rgb.parameters(), independent.parameters()))  # same seed


@pytest.mark.parametrize("arch", ["pixelcnn", "gated"])
def test_fast_and_naive_sampling_agree_for_independent_colours(arch):
    model = tiny_model("cifar10", arch=arch, color_order="independent", height=5, width=4)
    naive, fast = (
        pixelcourse.sample(model, 2, generator=torch.Generator().manual_seed(3), method=method)
        for method in ("naive", "fast")
    )
    assert naive.shape == (2, 3, 5, 4)
    assert torch.equal(naive, fast)


@pytest.mark.parametrize("bad", ["bgr", "RGB", "", None])
def test_bad_color_order_is_a_clear_error(bad):
    with pytest.raises(ValueError, match="color_order must be one of"):
        pixelcourse.build_model("cifar10", color_order=bad)
