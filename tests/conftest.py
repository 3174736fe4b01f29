import pytest
import torch

import pixelcourse

# Tiny versions of every preset: the same architecture, a fraction of the size.
TINY = {
    "mnist": dict(hidden=12, layers=2),
    "mnist_binary": dict(hidden=12, layers=2),
    "fashion_mnist": dict(hidden=12, layers=2),
    "cifar10": dict(hidden=12, layers=2),
}


def tiny_model(preset: str, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    return pixelcourse.build_model(preset, **{**TINY[preset], **overrides}).eval()


@pytest.fixture(params=list(TINY))
def preset(request):
    return request.param
