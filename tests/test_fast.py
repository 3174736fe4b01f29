"""The fast sampler against the naive oracle: same logits, same samples, known pixels kept, fixed memory.

The tests marked with the ``steps`` fixture run twice: with the compiled steps (numba, the default)
and with torch's operations (PIXELCOURSE_COMPILED=0), the path a machine without numba takes.
"""

import inspect

import pytest
import torch

import pixelcourse
from pixelcourse import sampling
from conftest import labels_for, tiny_model


def steps_in_order(config, known):
    """(i, j, c) of every step the samplers take: generation order, minus sub-pixels every image knows."""
    return [
        (i, j, c)
        for i in range(config.height)
        for j in range(config.width)
        for c in range(config.channels)
        if not bool(known[:, c, i, j].all())
    ]


def partial_image(x, known, step):
    """The image as the sampler saw it at ``step``: unknown sub-pixels from ``step`` on are zero."""
    n, C, H, W = x.shape
    i, j, c = step
    order = torch.arange(C * H * W).view(H, W, C).permute(2, 0, 1)  # (C, H, W) position in generation order
    later = order >= (i * W + j) * C + c
    return torch.where(later & ~known, torch.zeros_like(x), x)


@pytest.fixture(params=["compiled", "torch"])
def steps(request, monkeypatch):
    """Run the test with the compiled steps and again with torch's operations."""
    monkeypatch.setenv("PIXELCOURSE_COMPILED", "1" if request.param == "compiled" else "0")
    model = tiny_model("mnist", height=3, width=3)
    assert sampling.make_cache(model, 1).compiled == (request.param == "compiled")
    return request.param


def run_fast_recording_logits(model, images, known, labels, temperature=1.0, seed=0):
    """complete(method="fast") while recording the logits of every sampling step."""
    recorded = []

    def recording_step(logits, t, generator):
        recorded.append(logits.clone())
        return pixelcourse.sample_step(logits, t, generator)

    out = pixelcourse.complete(
        model, images, known, labels=labels, temperature=temperature,
        generator=torch.Generator().manual_seed(seed), method="fast", draw=recording_step,
    )  # fmt: skip
    return out, recorded


def check_logits(model, out, known, labels, recorded, literal_steps=12):
    """Every step's logits equal a full forward pass within 1e-4.

    The final image gives every step's logits at once (the model is causal,
    tested in test_models.py); a few steps are also checked literally on the
    partial image the sampler saw at that step: the network's full forward pass, and
    the head's levels at that sub-pixel only (a mixture head's 256 levels of a whole
    32x32 image take a second).
    """
    steps = steps_in_order(model.config, known)
    assert len(recorded) == len(steps)
    with torch.no_grad():
        full = model(out, labels)  # (N, levels, C, H, W)
        for (i, j, c), logits in zip(steps, recorded):
            torch.testing.assert_close(logits, full[:, :, c, i, j], atol=1e-4, rtol=0)
        for k in torch.linspace(0, len(steps) - 1, literal_steps).long().tolist():
            i, j, c = steps[k]
            raw = model(partial_image(out, known, steps[k]), labels, raw=True)  # (N, P, C, H, W)
            partial = model.logits_from_raw(raw[:, :, c : c + 1, i : i + 1, j : j + 1])[:, :, 0, 0, 0]  # (N, levels)
            torch.testing.assert_close(recorded[k], partial, atol=1e-4, rtol=0)


def test_fast_logits_match_a_full_forward_pass(preset):
    model = tiny_model(preset)
    c = model.config
    n = 3
    images = torch.zeros(n, c.channels, c.height, c.width, dtype=torch.long)
    known = torch.zeros_like(images, dtype=torch.bool)
    labels = labels_for(model, n)
    out, recorded = run_fast_recording_logits(model, images, known, labels, temperature=0.8)
    check_logits(model, out, known, labels, recorded)


def test_fast_completion_logits_match_a_full_forward_pass(preset, steps):
    # Rows every image knows (computed a row at a time), rows some images know, scattered known pixels.
    model = tiny_model(preset, height=12, width=11)
    c = model.config
    g = torch.Generator().manual_seed(3)
    images = torch.randint(0, c.levels, (3, c.channels, 12, 11), generator=g)
    known = torch.rand(images.shape, generator=g) < 0.4
    known[:, :, :3] = True
    known[:, :, 6] = True
    known[1, :, 8] = True
    labels = labels_for(model, 3)
    out, recorded = run_fast_recording_logits(model, images, known, labels)
    assert torch.equal(out[known], images[known])
    check_logits(model, out, known, labels, recorded)


@pytest.mark.parametrize("preset_name", ["mnist", "cifar10"])
def test_fast_logits_at_the_real_preset_size(preset_name):
    torch.manual_seed(0)
    model = pixelcourse.build_model(preset_name).eval()
    c = model.config
    images = torch.zeros(1, c.channels, c.height, c.width, dtype=torch.long)
    known = torch.zeros_like(images, dtype=torch.bool)
    out, recorded = run_fast_recording_logits(model, images, known, None)
    check_logits(model, out, known, None, recorded, literal_steps=6)


def test_fast_samples_equal_naive_samples(preset, steps):
    model = tiny_model(preset, height=12, width=11)
    labels = labels_for(model, 3)
    for temperature in (1.0, 0.7):
        naive, fast_ = (
            pixelcourse.sample(model, 3, labels=labels, temperature=temperature,
                               generator=torch.Generator().manual_seed(11), method=method)
            for method in ("naive", "fast")
        )  # fmt: skip
        assert torch.equal(naive, fast_)


def test_fast_completion_equals_naive_and_keeps_known_pixels(preset, steps):
    model = tiny_model(preset, height=12, width=11)
    c = model.config
    g = torch.Generator().manual_seed(4)
    images = torch.randint(0, c.levels, (2, c.channels, 12, 11), generator=g)
    known = torch.zeros_like(images, dtype=torch.bool)
    known[:, :, :5] = True  # the top, as in the drawing pad
    known[0, :, 5, :4] = True
    known[1, 0, 7:, 2] = True  # a few sub-pixels of one image, one colour only
    labels = labels_for(model, 2)
    results = {}
    for method in ("naive", "fast"):
        rows = []
        out = pixelcourse.complete(
            model, images, known, n_per_image=2, labels=labels, generator=torch.Generator().manual_seed(2),
            method=method, callback=lambda row, x: rows.append((row, x.clone())),
        )  # fmt: skip
        results[method] = out, rows
    (naive, naive_rows), (out, fast_rows) = results["naive"], results["fast"]
    k = known.repeat_interleave(2, 0)
    assert torch.equal(out[k], images.repeat_interleave(2, 0)[k])
    assert torch.equal(out, naive)
    assert [r for r, _ in fast_rows] == list(range(12))
    for (_, a), (_, b) in zip(naive_rows, fast_rows):  # the live display sees the same images
        assert torch.equal(a, b)


def test_fast_is_the_default():
    for fn in (pixelcourse.sample, pixelcourse.complete):
        assert inspect.signature(fn).parameters["method"].default == "fast"


@pytest.mark.parametrize("t", [0, -0.5, float("nan"), float("inf"), -float("inf")])
def test_bad_temperature_is_a_clear_error(t):
    model = tiny_model("mnist_binary", height=6, width=6)
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        pixelcourse.sample(model, 1, temperature=t, method="fast")
    x = torch.zeros(1, 1, 6, 6, dtype=torch.long)
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        sampling.complete_fast(model, x, torch.zeros_like(x, dtype=torch.bool), None, t)


@pytest.mark.parametrize("preset_name", ["mnist", "cifar10"])
def test_cache_memory_does_not_grow_with_steps(preset_name):
    short, tall = tiny_model(preset_name, height=5), tiny_model(preset_name, height=20)
    # The caches hold rows, never the image: their size ignores the height and grows with the batch.
    assert sampling.cache_bytes(sampling.make_cache(short, 2)) == sampling.cache_bytes(sampling.make_cache(tall, 2))
    assert sampling.cache_bytes(sampling.make_cache(tall, 4)) == 2 * sampling.cache_bytes(sampling.make_cache(tall, 2))

    caches, seen = [sampling.make_cache(tall, 2)], []

    def watch(row, x):
        seen.append((sampling.cache_bytes(caches[0]), [(t.data_ptr(), tuple(t.shape)) for t in caches[0].tensors()]))

    c = tall.config
    x = torch.zeros(2, c.channels, c.height, c.width, dtype=torch.long)
    sampling.complete_fast(tall, x, torch.zeros_like(x, dtype=torch.bool), None, 1.0, callback=watch, cache=caches[0])
    assert len(caches) == 1 and len(seen) == 20
    assert all(s == seen[0] for s in seen)  # the same tensors, the same bytes, after every row


def test_the_draw_gets_a_new_logits_tensor_at_every_step():
    # The caches reuse their buffers; the logits handed to draw must not be one of them.
    model = tiny_model("cifar10", height=5, width=4)
    kept, copies = [], []

    def keeping_step(logits, t, generator):
        kept.append(logits)
        copies.append(logits.clone())
        return pixelcourse.sample_step(logits, t, generator)

    pixelcourse.sample(model, 2, generator=torch.Generator().manual_seed(0), draw=keeping_step)
    assert len(kept) == 5 * 4 * 3
    assert all(torch.equal(a, b) for a, b in zip(kept, copies))


@pytest.mark.parametrize("arch_preset", ["mnist", "cifar10"])
@pytest.mark.parametrize("overrides", [dict(kernel_size=5), dict(input_kernel=5), dict(num_classes=3)])
def test_fast_equals_naive_for_other_kernels_and_class_terms(arch_preset, overrides, steps):
    # kernel 5: two cached rows above per layer; num_classes: the class terms of both architectures.
    model = tiny_model(arch_preset, height=7, width=6, **overrides)
    c = model.config
    labels = labels_for(model, 3)
    naive, fast_ = (
        pixelcourse.sample(model, 3, labels=labels, temperature=0.9, generator=torch.Generator().manual_seed(8),
                           method=method)
        for method in ("naive", "fast")
    )  # fmt: skip
    assert torch.equal(naive, fast_)
    g = torch.Generator().manual_seed(9)
    images = torch.randint(0, c.levels, (3, c.channels, c.height, c.width), generator=g)
    known = torch.rand(images.shape, generator=g) < 0.3
    known[:, :, :2] = True  # rows that every image knows take the row-at-once path
    out, recorded = run_fast_recording_logits(model, images, known, labels)
    assert torch.equal(out[known], images[known])
    check_logits(model, out, known, labels, recorded, literal_steps=4)


@pytest.mark.parametrize("levels", [2, 17, 256])
def test_sample_step_is_the_inverse_cdf_of_the_tempered_nucleus(levels):
    # sample_step counts the cumulative probabilities below u with a binary search, and skips the
    # division at T = 1: the draws must be exactly those of the plain formula, in float32 and float64.
    g = torch.Generator().manual_seed(levels)
    for trial in range(12):
        logits = torch.randn(9, levels, generator=g) * (0.5 + 3 * trial)
        if trial % 3 == 1:
            logits[:, : levels // 2] = -float("inf")  # impossible levels: flat stretches of the CDF
        if trial % 2:
            logits = logits.double()
        before = logits.clone()
        for t in (0.3, 1.0, 1.9):
            for top_p in (1.0, 0.8):
                new = pixelcourse.sample_step(logits, t, torch.Generator().manual_seed(trial), top_p)
                probs = sampling.nucleus_probs(logits.double(), t, top_p)
                u = torch.rand(9, 1, generator=torch.Generator().manual_seed(trial), dtype=torch.float64)
                expected = (probs.cumsum(dim=-1) < u).sum(dim=-1).clamp(max=levels - 1)
                assert new.dtype == torch.long and torch.equal(new, expected)
        assert torch.equal(logits, before)  # the caller's logits are left alone


def record_steps(model, images, known, labels, compiled):
    """Every step's logits and the finished images, with the cache's steps compiled or not."""
    recorded = []

    def recording_step(logits, t, generator):
        recorded.append(logits.clone())
        return pixelcourse.sample_step(logits, t, generator)

    x = images.clone()
    cache = sampling.make_cache(model, images.shape[0], labels, compiled=compiled)
    assert cache.compiled == compiled
    sampling.complete_fast(model, x, known, labels, 1.0, torch.Generator().manual_seed(5), draw=recording_step, cache=cache)
    return x, recorded


@pytest.mark.parametrize("overrides", [{}, dict(kernel_size=5, input_kernel=5), dict(num_classes=3), dict(hidden=24, layers=3)])
def test_compiled_steps_give_the_torch_steps_logits(preset, overrides):
    # The same walk twice: every step's logits agree within float rounding, so the draws agree too.
    # hidden=24: products longer than the compiled step's eight-input unrolling, and colour masks at 24.
    model = tiny_model(preset, height=6, width=7, **overrides)
    c = model.config
    g = torch.Generator().manual_seed(1)
    images = torch.randint(0, c.levels, (3, c.channels, 6, 7), generator=g)
    known = torch.rand(images.shape, generator=g) < 0.3
    known[:, :, 1] = True  # a row every image knows: the row-at-once path between compiled steps
    labels = labels_for(model, 3)
    (a, torch_logits), (b, compiled_logits) = (record_steps(model, images, known, labels, flag) for flag in (False, True))
    assert len(torch_logits) == len(compiled_logits) > 0
    for x, y in zip(torch_logits, compiled_logits):
        assert x.dtype == y.dtype == torch.float32 and x.shape == y.shape
        torch.testing.assert_close(y, x, atol=2e-5, rtol=0)
    assert torch.equal(a, b)


def test_compiled_mixture_logits_equal_the_torch_formula():
    # Means and scales far inside and outside the bins, scales at and past the clamp, 2 to 256 levels.
    from pixelcourse.sampling import kernels
    from pixelcourse.mixture import mixture_step_logits

    g = torch.Generator().manual_seed(0)
    for levels in (2, 3, 17, 256):
        raw = torch.randn(40, 30, generator=g) * 3
        raw[:10, 20:] = torch.linspace(-9, 9, 10)[:, None]  # log scales from below -7 to above 7
        raw[10:20, 10:20] = torch.linspace(-4, 4, 10)[:, None]  # means far outside [-1, 1]
        expected = mixture_step_logits(raw, levels)
        got = torch.from_numpy(kernels.mixture_logits_step(raw.numpy(), levels))
        assert got.dtype == torch.float32 and got.shape == (40, levels)
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-6)
        assert torch.allclose(got.double().exp().sum(1), torch.ones(40, dtype=torch.float64), atol=1e-5)


def test_the_compiled_steps_are_used_only_where_they_apply(monkeypatch):
    model = tiny_model("mnist", height=4, width=4)
    assert sampling.make_cache(model, 1).compiled  # numba is a dependency: the default
    assert not sampling.make_cache(model, 1, compiled=False).compiled
    assert not sampling.make_cache(model.double(), 1).compiled  # float64 weights: torch's step
    assert not sampling.make_cache(tiny_model("cifar10", layers=0), 1).compiled
    monkeypatch.setenv("PIXELCOURSE_COMPILED", "0")
    assert not sampling.make_cache(tiny_model("mnist", height=4, width=4), 1).compiled
    monkeypatch.setenv("PIXELCOURSE_COMPILED", "yes please")
    with pytest.raises(ValueError, match="PIXELCOURSE_COMPILED must be 0 .* or 1"):
        pixelcourse.sample(model, 1)


def test_the_compiled_sigmoid_is_torchs_within_a_unit_in_the_last_place():
    # The gated step's sigmoid builds exp from a polynomial and the bits of 2^m: every float32 from
    # -100 to 100 (the clamp at +-87 included) against torch.sigmoid.
    from pixelcourse.sampling import kernels

    z = torch.linspace(-100, 100, 40001)
    bits = torch.empty(len(z), dtype=torch.int32).numpy()
    got = z.clone()
    kernels._sigmoid(got.numpy(), bits, bits.view("float32"))
    expected = torch.sigmoid(z)
    torch.testing.assert_close(got, expected, atol=1e-37, rtol=2.5e-7)
    assert bool(((got >= 0) & (got <= 1)).all())
