"""Masks and models: causality proven by input gradients, shapes, and clear errors."""

import math

import pytest
import torch

import pixelcourse
from pixelcourse.mixture import logistic_bin_log_prob, mixture_log_prob, mixture_logits
from pixelcourse.models import PRESETS
from conftest import TINY, earlier_than, tiny_model


@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_mask_a_and_b_grey(k):
    a = pixelcourse.make_mask(1, 1, k, "A")[0, 0]
    b = pixelcourse.make_mask(1, 1, k, "B")[0, 0]
    c = k // 2
    assert a[c, c] == 0 and b[c, c] == 1
    assert (a[:c] == 1).all() and (a[c, :c] == 1).all()
    assert (a[c + 1 :] == 0).all() and (a[c, c + 1 :] == 0).all()
    assert int(b.sum()) == int(a.sum()) + 1 == k * k // 2 + 1


def test_colour_mask_centre_follows_rgb_order():
    # 3 input colours -> 6 hidden channels (groups by channel % 3)
    a = pixelcourse.make_mask(3, 6, 3, "A", color_channels=3)[:, :, 1, 1]
    b = pixelcourse.make_mask(6, 6, 3, "B", color_channels=3)[:, :, 1, 1]
    expect_a = torch.tensor([[0, 0, 0], [1, 0, 0], [1, 1, 0]]).float()  # R sees nothing, G sees R, B sees R and G
    expect_b = torch.tensor([[1, 0, 0], [1, 1, 0], [1, 1, 1]]).float()
    for o in range(6):
        assert torch.equal(a[o], expect_a[o % 3])
        for i in range(6):
            assert b[o, i] == expect_b[o % 3, i % 3]
    # outside the centre, every colour sees every colour of earlier pixels
    full = pixelcourse.make_mask(6, 6, 3, "B", color_channels=3)
    assert (full[:, :, 0, :] == 1).all() and (full[:, :, 1, 0] == 1).all() and (full[:, :, 2, :] == 0).all()


def test_masked_conv_keeps_size_and_hides_future():
    conv = pixelcourse.MaskedConv2d(1, 4, 5, "A")
    x = torch.randn(2, 1, 9, 9, requires_grad=True)
    out = conv(x)
    assert out.shape == (2, 4, 9, 9)
    out[:, :, 4, 4].sum().backward()
    g = x.grad[0, 0]
    assert g[4, 4] == 0 and (g[5:] == 0).all() and (g[4, 5:] == 0).all()
    assert (g[2:4, 2:7] != 0).all() and (g[4, 2:4] != 0).all()


def test_bad_mask_arguments():
    with pytest.raises(ValueError, match="odd"):
        pixelcourse.MaskedConv2d(1, 1, 4)
    with pytest.raises(ValueError, match="mask_type"):
        pixelcourse.make_mask(1, 1, 3, "C")
    with pytest.raises(ValueError, match="color_channels"):
        pixelcourse.make_mask(3, 3, 3, "A", color_channels=2)


def test_every_preset_is_tested():
    assert set(TINY) == set(PRESETS), "add a tiny version of each new preset to tests/conftest.py"


def test_shapes_and_config(preset):
    model = tiny_model(preset)
    c = model.config
    x = torch.randint(0, c.levels, (2, c.channels, c.height, c.width))
    y = torch.tensor([1, 3]) if c.num_classes else None
    out = model(x, y)
    assert out.shape == (2, c.levels, c.channels, c.height, c.width)
    assert model.config is c and c.arch == PRESETS[preset].arch


@pytest.mark.parametrize("position", [(0, 0, 0), (0, 5, 9), (0, 27, 27), (2, 10, 3), (1, 0, 0), (1, 13, 20)])
def test_causality(preset, position):
    """The logits at one sub-pixel have zero gradient w.r.t. every input that is not strictly earlier."""
    model = tiny_model(preset)
    c = model.config
    ch, i, j = position
    if ch >= c.channels:
        ch = c.channels - 1
    i, j = min(i, c.height - 1), min(j, c.width - 1)
    grad = pixelcourse.receptive_field(model, (ch, i, j))
    assert grad.shape == (c.channels, c.height, c.width)
    future = ~earlier_than(c, ch, i, j)
    assert (grad[future] == 0).all(), "an output sees its own value or the future"


def test_gated_has_no_blind_spot():
    """Every earlier pixel in the Gated model's reach has a non-zero gradient; PixelCNN misses the upper right."""
    i, j = 14, 12
    for preset in ("fashion_mnist", "cifar10"):
        model = tiny_model(preset, layers=3)
        c = model.config
        for ch in range(c.channels):
            grad = pixelcourse.receptive_field(model, (ch, i, j))
            # rows above: input kernel reach 3 plus one per block; the current row: 3 plus one per block
            reach = 3 + c.layers
            assert (grad[:, i - reach : i, j - reach : j + reach + 1] != 0).all()
            assert (grad[:, i, j - reach : j] != 0).all()
            assert (grad[:ch, i, j] != 0).all()
    plain = tiny_model("mnist", layers=6)
    grad = pixelcourse.receptive_field(plain, (0, i, j))
    assert grad[0, i - 1, j + 4] == 0 and grad[0, i - 1, j + 6] == 0, "the blind spot of masked 3x3 stacks"
    assert grad[0, i - 1, j + 3] != 0


def test_colour_channel_order_inside_pixel():
    model = tiny_model("cifar10")
    grads = [pixelcourse.receptive_field(model, (ch, 9, 9))[:, 9, 9] for ch in range(3)]
    assert (grads[0] == 0).all()  # R sees no colour of its own pixel
    assert grads[1][0] != 0 and (grads[1][1:] == 0).all()  # G sees R
    assert (grads[2][:2] != 0).all() and grads[2][2] == 0  # B sees R and G


def test_build_model_presets_and_overrides():
    assert pixelcourse.build_model("mnist").config.levels == 256
    assert pixelcourse.build_model("mnist_binary", hidden=12, layers=1).config.levels == 2
    cond = pixelcourse.build_model("fashion_mnist", hidden=12, layers=1)
    assert isinstance(cond, pixelcourse.GatedPixelCNN) and cond.config.num_classes == 10
    colour = pixelcourse.build_model("cifar10", hidden=12, layers=1)
    assert colour.config.channels == 3 and (colour.config.height, colour.config.width) == (32, 32)
    assert isinstance(pixelcourse.build_model("mnist", hidden=12, layers=1), pixelcourse.PixelCNN)
    with pytest.raises(ValueError, match="Unknown preset 'svhn'"):
        pixelcourse.build_model("svhn")
    with pytest.raises(ValueError, match="Unknown config field"):
        pixelcourse.build_model("mnist", hiden=3)


@pytest.mark.parametrize("levels", [1, 257, 0])
def test_levels_out_of_range(levels):
    with pytest.raises(ValueError, match="levels must be an int in 2..256"):
        pixelcourse.build_model("mnist", levels=levels)


def test_bad_model_input_gives_clear_errors():
    model = tiny_model("mnist")
    cond = tiny_model("fashion_mnist")
    good = torch.zeros(2, 1, 28, 28, dtype=torch.long)
    with pytest.raises(TypeError, match="torch.long"):
        model(good.float())
    with pytest.raises(ValueError, match=r"shape \(B, 1, 28, 28\)"):
        model(torch.zeros(2, 28, 28, dtype=torch.long))
    with pytest.raises(ValueError, match=r"values must lie in \[0, 255\]"):
        model(good + 256)
    with pytest.raises(ValueError, match="unconditional"):
        model(good, torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="class-conditional"):
        cond(good)
    with pytest.raises(ValueError, match=r"Labels must lie in \[0, 9\]"):
        cond(good, torch.tensor([1, 10]))
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        cond(good, torch.tensor([1]))


def test_logistic_bins_are_differences_of_the_logistic_cdf():
    """One component, float64: each of the 256 bins holds sigmoid(upper edge) - sigmoid(lower edge)."""
    mean, scale = torch.tensor(0.3, dtype=torch.float64), 0.05
    levels = torch.arange(256, dtype=torch.float64)
    got = logistic_bin_log_prob(mean, torch.tensor(math.log(scale), dtype=torch.float64), levels, 256).exp()
    edges = torch.cat([torch.tensor([-math.inf]), (levels[1:] * 2 - 1) / 255 - 1, torch.tensor([math.inf])])
    cdf = torch.sigmoid((edges - mean) / scale)
    torch.testing.assert_close(got, cdf[1:] - cdf[:-1], rtol=1e-9, atol=1e-300)
    assert got.argmax() == round((0.3 + 1) * 255 / 2)


def test_logistic_mixture_is_a_distribution_over_the_levels():
    """Any head output, even extreme, gives finite log-probabilities whose probabilities sum to 1."""
    torch.manual_seed(0)
    raw = torch.randn(4, 3 * 5, 3, 2, 2, dtype=torch.float64) * 8  # weights, means, log scales of 5 components
    for levels in (2, 16, 256):
        logits = mixture_logits(raw, levels)
        assert logits.shape == (4, levels, 3, 2, 2)
        assert torch.isfinite(logits).all()
        torch.testing.assert_close(logits.exp().sum(1), torch.ones(4, 3, 2, 2, dtype=torch.float64))
        x = torch.randint(0, levels, (4, 3, 2, 2))
        torch.testing.assert_close(mixture_log_prob(raw, x, levels), logits.gather(1, x[:, None]).squeeze(1))
    far = logistic_bin_log_prob(torch.tensor(-0.9), torch.tensor(-7.0), torch.tensor(255.0), 256)
    assert torch.isfinite(far) and far < -1000  # the far tail of a narrow logistic: tiny, but not log(0)


def test_mixture_head_model_returns_parameters_raw_and_log_probabilities_as_logits():
    model = tiny_model("cifar10")
    c = model.config
    assert c.output == "logistic_mixture" and c.head_params == 3 * c.mixtures
    x = torch.randint(0, 256, (2, 3, 32, 32))
    with torch.no_grad():
        raw, logits = model(x, raw=True), model(x)
    assert raw.shape == (2, 3 * c.mixtures, 3, 32, 32) and logits.shape == (2, 256, 3, 32, 32)
    torch.testing.assert_close(logits.logsumexp(1), torch.zeros(2, 3, 32, 32), atol=1e-5, rtol=0)
    torch.testing.assert_close(model.log_prob(raw, x), logits.gather(1, x[:, None]).squeeze(1), atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="output must be one of"):
        pixelcourse.build_model("cifar10", output="gaussian")


def test_gated_activation():
    x = torch.randn(2, 6, 3, 3)
    out = pixelcourse.gated_activation(x)
    assert torch.allclose(out, torch.tanh(x[:, :3]) * torch.sigmoid(x[:, 3:]))


def test_show_grid_rows_and_labels():
    import matplotlib

    matplotlib.use("Agg")
    images = torch.randint(0, 256, (6, 1, 8, 8))
    fig = pixelcourse.show_grid(images, 3, row_labels=["first", "second"])
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["first", "second"]
    with pytest.raises(ValueError, match="3 row_labels for 2 rows"):
        pixelcourse.show_grid(images, 3, row_labels=["a", "b", "c"])
