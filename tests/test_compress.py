"""Lossless compression with the model: exact round trips, size near -log2 p, and one clear error for bad data."""

import math

import pytest
import torch

import pixelcourse
from pixelcourse.compression import (
    HEADER_BYTES,
    CompressionError,
    compress,
    decompress,
    image_bits,
    marginal_bits,
    marginal_pixel_bits,
    pixel_bits,
    png_bits,
    roc_auc,
    stream_bits,
)
from conftest import tiny_model

SMALL = dict(height=6, width=7)  # every preset's architecture on small images: fast round trips


def images_for(model, n=5, seed=1):
    """n images of random levels, plus one all 0 and one all at the top level, and labels if conditional."""
    c = model.config
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, c.levels, (n, c.channels, c.height, c.width), generator=g)
    x[0] = 0
    x[1] = c.levels - 1
    y = torch.arange(n) % c.num_classes if c.num_classes else None
    return x, y


@pytest.fixture
def coded():
    """A conditional tiny model, its images and labels, and their stream."""
    model = tiny_model("fashion_mnist", **SMALL)
    x, y = images_for(model)
    return model, x, y, compress(model, x, y, batch_size=2)


def test_round_trip_is_exact_on_every_preset(preset):
    model = tiny_model(preset, **SMALL)
    x, y = images_for(model)
    for batch_size in (2, 64):  # several batches with a short last one, and one batch
        data = compress(model, x, y, batch_size=batch_size)
        assert isinstance(data, bytes) and data[:3] == b"PXC"
        out = decompress(model, data, y)
        assert out.dtype == torch.long and torch.equal(out, x)


def test_round_trip_of_a_full_size_image(preset):
    model = tiny_model(preset, layers=1)
    x, y = images_for(model, n=2)
    assert torch.equal(decompress(model, compress(model, x, y), y), x)


def test_size_is_the_models_code_length(preset):
    model = tiny_model(preset, **SMALL)
    x, y = images_for(model, n=8)
    bits = float(image_bits(model, x, y).sum())  # the model's own -log2 p of the images
    payload = len(compress(model, x, y, batch_size=3)) - HEADER_BYTES
    assert abs(8 * payload - bits) <= 0.01 * bits + 64  # 1 %, plus the range coder's last two words


def test_compress_is_deterministic_and_keeps_the_mode(coded):
    model, x, y, data = coded
    model.train()
    assert compress(model, x, y, batch_size=2) == data
    assert model.training
    assert torch.equal(decompress(model, data, y), x)


def test_no_images_is_just_a_header():
    model = tiny_model("mnist", **SMALL)
    data = compress(model, torch.zeros(0, 1, 6, 7, dtype=torch.long))
    assert len(data) == HEADER_BYTES
    assert decompress(model, data).shape == (0, 1, 6, 7)


def test_another_model_is_refused(coded):
    _, x, y, data = coded
    other = tiny_model("fashion_mnist", seed=1, **SMALL)
    with pytest.raises(CompressionError, match="another model"):
        decompress(other, data, y)
    with pytest.raises(CompressionError, match="this model takes"):
        decompress(tiny_model("cifar10", **SMALL), data)


def test_other_or_missing_labels_are_refused(coded):
    model, x, y, data = coded
    with pytest.raises(CompressionError, match="labels differ"):
        decompress(model, data, y.flip(0))
    with pytest.raises(ValueError, match="class-conditional"):
        decompress(model, data)


@pytest.mark.parametrize("cut", [1, 4, 9])
def test_truncated_data_is_refused(coded, cut):
    model, _, y, data = coded
    with pytest.raises(CompressionError, match="truncated"):
        decompress(model, data[:-cut], y)
    with pytest.raises(CompressionError, match="truncated"):
        decompress(model, data[: HEADER_BYTES - cut], y)


def test_extra_bytes_are_refused(coded):
    model, _, y, data = coded
    with pytest.raises(CompressionError, match="after the end"):
        decompress(model, data + data, y)


def test_corrupted_header_is_refused(coded):
    model, _, y, data = coded
    for at in range(3, HEADER_BYTES):
        broken = bytearray(data)
        broken[at] ^= 0x10
        with pytest.raises(CompressionError, match="header is corrupted"):
            decompress(model, bytes(broken), y)


def test_corrupted_payload_never_gives_wrong_images(coded):
    model, x, y, data = coded
    broken = bytearray(data)
    broken[HEADER_BYTES] ^= 0x01  # the first word: every symbol after it decodes differently
    with pytest.raises(CompressionError, match="checksum|corrupted"):
        decompress(model, bytes(broken), y)
    for at in range(HEADER_BYTES, len(data), 5):
        broken = bytearray(data)
        broken[at] ^= 0xFF
        try:
            out = decompress(model, bytes(broken), y)
        except CompressionError:
            continue
        assert torch.equal(out, x)  # a change in the coder's slack may leave the images intact, never wrong


@pytest.mark.parametrize("data, error, words", [
    (b"", CompressionError, "not a pixelcourse compressed stream"),
    (b"GIF89a" + bytes(60), CompressionError, "not a pixelcourse compressed stream"),
    ("PXC", TypeError, "bytes"),
])
def test_foreign_data_is_refused(coded, data, error, words):
    model, _, y, _ = coded
    with pytest.raises(error, match=words):
        decompress(model, data, y)


def test_bad_input_gets_one_clear_error():
    model = tiny_model("mnist", **SMALL)
    x, _ = images_for(model)
    with pytest.raises(TypeError, match="torch.long"):
        compress(model, x.float())
    with pytest.raises(ValueError, match="shape"):
        compress(model, x[:, :, :5])
    with pytest.raises(ValueError, match="levels"):
        compress(model, x + 1)
    with pytest.raises(ValueError, match="unconditional"):
        compress(model, x, torch.zeros(len(x), dtype=torch.long))
    with pytest.raises(ValueError, match="batch_size"):
        compress(model, x, batch_size=0)
    with pytest.raises(TypeError, match="PixelCNN"):
        compress(torch.nn.Linear(2, 2), x)
    with pytest.raises(ValueError, match="dilations"):
        compress(tiny_model("mnist", dilations=(1, 2), **SMALL), x)


# --------------------------------------------------------------------------- scores of notebook 10


def test_pixel_and_image_bits_agree_with_bits_per_dim(preset):
    model = tiny_model(preset, **SMALL)
    x, y = images_for(model)
    bits = pixel_bits(model, x, y, batch_size=2)
    assert bits.shape == x.shape and bits.dtype == torch.float64 and bool((bits >= 0).all())
    assert torch.allclose(image_bits(model, x, y), bits.flatten(1).sum(1))
    labels = torch.zeros(len(x), dtype=torch.long) if y is None else y
    data = torch.utils.data.TensorDataset(x, labels)
    assert math.isclose(float(bits.mean()), pixelcourse.bits_per_dim(model, data), rel_tol=1e-6)


def test_marginal_bits_is_the_log_sum_exp_over_classes():
    model = tiny_model("fashion_mnist", **SMALL)
    x, _ = images_for(model)
    per_class = torch.stack([image_bits(model, x, torch.full((len(x),), k)) for k in range(10)])  # (10, N)
    want = -torch.log2((2.0 ** -per_class).mean(0))  # the direct formula, fine at these small sizes
    assert torch.allclose(marginal_bits(model, x), want, rtol=1e-9)
    assert bool((marginal_bits(model, x) >= per_class.min(0).values).all())
    with pytest.raises(ValueError, match="class-conditional"):
        marginal_bits(tiny_model("mnist", **SMALL), x)


def test_marginal_pixel_bits_add_up_to_the_marginal():
    model = tiny_model("fashion_mnist", **SMALL)
    x, _ = images_for(model)
    costs = marginal_pixel_bits(model, x)
    assert costs.shape == x.shape and costs.dtype == torch.float64
    assert torch.allclose(costs.flatten(1).sum(1), marginal_bits(model, x), rtol=1e-9)
    first = -torch.log2(torch.stack([2.0 ** -pixel_bits(model, x, torch.full((len(x),), k))[:, 0, 0, 0]
                                     for k in range(10)]).mean(0))  # the first sub-pixel: a plain mixture
    assert torch.allclose(costs[:, 0, 0, 0], first, rtol=1e-9)


def test_png_and_stream_bits():
    x = torch.zeros(4, 1, 28, 28, dtype=torch.long)
    x[:, :, 10:18, 10:18] = 255
    noise = torch.randint(0, 256, (4, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    assert png_bits(x).shape == (4,) and bool((png_bits(x) < png_bits(noise)).all())
    assert stream_bits(x, "gzip") < stream_bits(noise, "gzip")
    assert stream_bits(x, "lzma") == stream_bits(x, "lzma")
    assert png_bits(torch.zeros(2, 3, 8, 8, dtype=torch.long)).shape == (2,)
    with pytest.raises(ValueError, match="codec"):
        stream_bits(x, "zip")
    with pytest.raises(ValueError, match="0..255"):
        png_bits(x + 1)


def test_roc_auc():
    assert roc_auc([0, 1, 2], [3, 4]) == 1.0
    assert roc_auc([3, 4], [0, 1, 2]) == 0.0
    assert roc_auc([1, 1], [1, 1]) == 0.5
    assert roc_auc(torch.tensor([0.0, 2.0]), torch.tensor([1.0, 3.0])) == 0.75
    with pytest.raises(ValueError, match="at least one"):
        roc_auc([], [1.0])
