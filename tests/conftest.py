import os

import pytest
import torch

import pixelcourse

# Tiny versions of every preset: the same architecture, a fraction of the size.
TINY = {
    "mnist": dict(hidden=12, layers=2),
    "mnist_binary": dict(hidden=12, layers=2),
    "fashion_mnist": dict(hidden=12, layers=2),
    "cifar10": dict(hidden=12, layers=2),
    "mnist_gated": dict(hidden=12, layers=3),  # three blocks: each of its dilations 1, 2, 4 once
}


def tiny_model(preset: str, seed: int = 0, **overrides):
    torch.manual_seed(seed)
    return pixelcourse.build_model(preset, **{**TINY[preset], **overrides}).eval()


def labels_for(model, n):
    """Different labels per image for conditional models, None otherwise."""
    c = model.config
    return torch.arange(n) % c.num_classes if c.num_classes else None


def order_index(c, i, j, channels, width):
    """Position of sub-pixel (c, i, j) in generation order (raster, then R -> G -> B)."""
    return (i * width + j) * channels + c


def earlier_than(config, c, i, j):
    """Bool (C, H, W): True where a sub-pixel comes strictly before (c, i, j)."""
    C, H, W = config.channels, config.height, config.width
    ci = torch.arange(C)[:, None, None]
    ii = torch.arange(H)[None, :, None]
    jj = torch.arange(W)[None, None, :]
    return order_index(ci, ii, jj, C, W) < order_index(c, i, j, C, W)


@pytest.fixture(params=list(TINY))
def preset(request):
    return request.param


@pytest.fixture(scope="session", autouse=True)
def threads_per_worker():
    """Under pytest-xdist, each worker gets its share of the cores, for torch here and (through
    OMP_NUM_THREADS) for the notebook kernels and other processes it starts: two workers whose
    threads fight over two cores wait on each other at every parallel operation."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        share = max(1, (os.cpu_count() or 1) // workers)
        torch.set_num_threads(share)
        os.environ["OMP_NUM_THREADS"] = str(share)
    yield
