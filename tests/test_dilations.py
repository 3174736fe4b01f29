"""Dilated blocks (notebook 02): still causal, reach further, survive checkpoints; the fast sampler keeps dilated gated rows."""

import pytest
import torch

import pixelcourse
from conftest import earlier_than

# Small images keep the gradient maps and the naive sampler fast.
SMALL = dict(hidden=12, layers=3, height=14, width=14)


def small_model(preset: str, dilations=(1, 2, 4), **overrides):
    torch.manual_seed(0)
    return pixelcourse.build_model(preset, **{**SMALL, "dilations": dilations, **overrides}).eval()


def not_earlier(config, c, i, j) -> torch.Tensor:
    """Bool (C, H, W): True where a sub-pixel is (c, i, j) itself or comes after it (raster, then R -> G -> B)."""
    return ~earlier_than(config, c, i, j)


@pytest.mark.parametrize("preset", ["mnist", "fashion_mnist", "cifar10"])  # pixelcnn, gated + classes, gated colour
@pytest.mark.parametrize("dilations", [(1, 2, 4), (2,), (3, 1)])
def test_dilated_models_are_causal(preset, dilations):
    model = small_model(preset, dilations, levels=4, output="softmax")  # a small head: the masks are what is tested
    c = model.config
    assert [c.dilation(k) for k in range(c.layers)] == [dilations[k % len(dilations)] for k in range(c.layers)]
    for i, j in [(0, 0), (0, 13), (5, 0), (7, 6), (13, 13), (9, 2)]:
        for ch in range(c.channels):
            grad = pixelcourse.receptive_field(model, (ch, i, j))
            assert (grad[not_earlier(c, ch, i, j)] == 0).all(), f"output {(ch, i, j)} sees its own value or the future"


@pytest.mark.parametrize("preset", ["mnist", "fashion_mnist"])
def test_dilated_stack_reaches_further_at_equal_depth(preset):
    i, j = 13, 7
    plain = small_model(preset, (1,), input_kernel=3)
    dilated = small_model(preset, (1, 2, 4), input_kernel=3)
    assert pixelcourse.count_parameters(plain) == pixelcourse.count_parameters(dilated)
    # The union over a few random inputs: a ReLU that is off for one input can hide a path, never add one.
    seen = {
        name: sum(pixelcourse.receptive_field(m, (i, j), seed=s)[0] for s in range(3)) > 0
        for name, m in (("plain", plain), ("dilated", dilated))
    }
    top = {name: int(s.nonzero()[:, 0].min()) for name, s in seen.items()}
    # input layer: one row up; then one row per block of dilation d
    assert top == {"plain": i - 1 - 3, "dilated": i - 1 - (1 + 2 + 4)}
    assert int(seen["dilated"].sum()) > int(seen["plain"].sum())


def test_dilations_survive_save_and_load(tmp_path):
    model = small_model("mnist_binary", (1, 2, 4))
    path = pixelcourse.save_checkpoint(model, tmp_path / "dilated.pt", metrics={"test_bpd": 0.5})
    loaded = pixelcourse.load_checkpoint(path, expect=model.config)
    assert loaded.config == model.config and loaded.config.dilations == (1, 2, 4)
    assert [b.conv.dilation for b in loaded.blocks] == [(1, 1), (2, 2), (4, 4)]
    x = torch.randint(0, 2, (2, 1, 14, 14))
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    with pytest.raises(pixelcourse.CheckpointError, match="dilations"):
        pixelcourse.load_checkpoint(path, expect=small_model("mnist_binary", (1,)).config)


def test_config_takes_an_int_and_rejects_bad_dilations():
    assert pixelcourse.PixelCNNConfig(dilations=2).dilations == (2,)
    assert pixelcourse.PixelCNNConfig(dilations=[1, 2]).dilations == (1, 2)
    assert pixelcourse.PixelCNNConfig().dilations == (1,)
    for bad in ((), (0,), (1, -2)):
        with pytest.raises(ValueError, match="dilations"):
            pixelcourse.PixelCNNConfig(dilations=bad)


def test_fast_sampler_refuses_a_dilated_pixelcnn_and_naive_samples_it():
    model = small_model("mnist_binary", (1, 2), layers=2, height=5, width=5)
    with pytest.raises(ValueError, match='Gated PixelCNN only.*method="naive"'):
        pixelcourse.sample(model, 2, method="fast")
    images = pixelcourse.sample(model, 2, method="naive", generator=torch.Generator().manual_seed(0))
    assert images.shape == (2, 1, 5, 5) and images.dtype == torch.long
    assert 0 <= int(images.min()) and int(images.max()) < model.config.levels


@pytest.mark.parametrize("preset, dilations", [("fashion_mnist", (3, 1)), ("cifar10", (2,)), ("mnist_gated", (1, 4, 2))])
def test_fast_sampler_of_a_dilated_gated_model_equals_the_naive_one(preset, dilations):
    """Widths that no dilation divides, a class-conditional model and a colour one with a mixture head."""
    model = small_model(preset, dilations, layers=3, height=6, width=7)
    labels = torch.tensor([3, 7]) if model.config.num_classes else None
    fast, naive = (pixelcourse.sample(model, 2, labels=labels, method=method, generator=torch.Generator().manual_seed(1))
                   for method in ("fast", "naive"))
    assert torch.equal(fast, naive)
    known = torch.zeros_like(fast, dtype=torch.bool)
    known[:, :, :2] = True  # the top two rows given: completion starts with full rows
    kept = pixelcourse.complete(model, fast, known, labels=labels, generator=torch.Generator().manual_seed(2))
    assert torch.equal(kept[known], fast[known])
    assert torch.equal(kept, pixelcourse.complete(model, fast, known, labels=labels, method="naive",
                                                  generator=torch.Generator().manual_seed(2)))
