"""The effective receptive field: causal, weighted, inside the theoretical receptive field."""

from __future__ import annotations

import pytest
import torch

import pixelcourse
from pixelcourse.plots import effective_field


def _tiny(**overrides):
    torch.manual_seed(0)
    config = dict(height=6, width=6, levels=4, hidden=6, layers=1, kernel_size=3, input_kernel=3)
    return pixelcourse.model_from_config(pixelcourse.PixelCNNConfig(**{**config, **overrides}))


def _images(model, n=3, seed=1):
    cfg = model.config
    return torch.randint(0, cfg.levels, (n, cfg.channels, cfg.height, cfg.width), generator=torch.Generator().manual_seed(seed))


def test_zero_at_and_after_the_pixel_and_outside_the_receptive_field():
    model = _tiny()
    x = _images(model)
    i, j = 4, 2
    field = effective_field(model, x, i, j)
    assert field.shape == (6, 6) and field.dtype == torch.float32
    order = torch.arange(36).reshape(6, 6)
    assert torch.all(field[order >= order[i, j]] == 0)
    seen = pixelcourse.receptive_field(model, (i, j))[0] > 0  # (H, W)
    assert torch.all(field[~seen] == 0)
    assert torch.all(field[seen] > 0)


def test_is_the_batch_mean_of_single_images():
    model = _tiny()
    x = _images(model, n=4)
    single = torch.stack([effective_field(model, x[k : k + 1], 3, 3) for k in range(4)])  # (4, H, W)
    assert torch.allclose(effective_field(model, x, 3, 3), single.mean(0), atol=1e-6)


def test_matches_the_gradient_of_the_true_log_probability():
    model = _tiny(channels=3, hidden=6)
    x = _images(model, n=2)
    c, i, j = 1, 3, 3
    inputs = model.normalise(x).requires_grad_(True)
    log_p = model.forward_normalised(inputs).log_softmax(dim=1)  # (B, levels, C, H, W)
    log_p[torch.arange(2), x[:, c, i, j], c, i, j].sum().backward()
    want = inputs.grad.abs().sum(dim=1).mean(dim=0)
    assert torch.allclose(effective_field(model, x, i, j, c=c), want, atol=1e-6)


def test_keeps_the_training_mode_and_rejects_positions_outside():
    model = _tiny().train()
    effective_field(model, _images(model), 2, 2)
    assert model.training
    with pytest.raises(ValueError, match="outside"):
        effective_field(model, _images(model), 6, 0)


def test_the_checks_models_are_not_degenerate():
    """Every case of check_effective_field has a field that is non-zero wherever its output can look.

    The output at (c, i, j) of a 3x3 input layer and one 3x3 block can see the sub-pixels before it within two
    rows up and two columns to either side, except (i - 1, j + 2), the blind spot; a dead unit that zeroes part
    of that would let wrong answers pass or get another mistake's reason (a field of the wrong channel that is
    all zero reads as a binary field).
    """
    from pixelcourse.checks import ch08_visualisation as ch08

    for case in ch08.CASES:
        model = ch08.tiny_model(case)
        x = ch08.images(model, case.batch, seed=case.channels)
        c, i, j = case.pixel
        fields = [ch08.field(ch08.gradient(model, x, k, i, j)) for k in range(case.channels)]
        rows, cols = torch.meshgrid(torch.arange(case.height), torch.arange(case.width), indexing="ij")
        order = rows * case.width + cols
        near = ((rows - i).abs() <= 2) & ((cols - j).abs() <= 2) & ~((rows == i - 1) & (cols == j + 2))
        seen = near & ((order < order[i, j]) | ((order == order[i, j]) & (c > 0)))
        if c == 0 and (i, j) == (0, 0):
            assert not fields[0].any()
            continue
        assert torch.all(fields[c][seen] > 0), case
        assert len({tuple(f.flatten().tolist()) for f in fields}) == len(fields), case  # every channel its own field
