"""Compiled steps of the fast sampler (notebook 06): one call per sub-pixel instead of ~50 torch operations.

A step of the row caches (``caches.py``) is a chain of tiny matrix products. For one image, each
costs torch a few microseconds of fixed price per operation and almost no arithmetic. The
functions here compute the same step on the same buffers and weights in one call, compiled by
numba (installed as a wheel; no compiler needed on the learner's machine).

Every product runs over the output index innermost, eight inputs at a time (``_accumulate``), and
the gated blocks' sigmoid and the mixture's exps are written so that the compiler vectorises them
too. Each image is computed on its own, so a result does not depend on the batch size. The numbers
equal torch's up to float rounding, the same promise as the cached torch step, and a seeded
generator still gives the naive sampler's samples.

For one image a step is ~170,000 multiply-adds (``mnist``): about 8 µs here against ~75 µs for
torch's ~50 operations on the 2-core machine of README's figures; at 16 images or more, where
torch's matrix products are efficient, the two take about as long.

A function is compiled on first use and kept on disk (numba's ``cache=True``), so later kernels
load it in a fraction of a second; ``tools/setup.sh`` compiles them once when it installs the
course. The caches import this module only when they use it. Without numba, or with
``PIXELCOURSE_COMPILED=0``, they run their torch step (``caches.compiled_by_default``).
"""

from __future__ import annotations

import numpy as np

from ..mixture import LOG_SCALE_RANGE

try:  # a dependency, but the course still samples (more slowly) where it cannot be installed
    import numba
except ImportError:  # pragma: no cover - exercised only where numba is missing
    numba = None


def _compiled(function):
    if numba is None:  # pragma: no cover
        return function
    return numba.njit(cache=True, nogil=True, error_model="numpy")(function)


@_compiled
def _accumulate(out, x, w):  # pragma: no cover - compiled
    """out (O,) += x (I,) @ w[:I], for w (R, O) with R >= I.

    Eight inputs at a time: one pass over ``out`` per eight rows of ``w`` instead of one per row,
    which keeps the vector unit busy on rows as short as 48 numbers (2-3 times the speed).
    """
    size, width = x.shape[0], out.shape[0]
    full = size - size % 8
    for i in range(0, full, 8):
        x0, x1, x2, x3, x4, x5, x6, x7 = x[i], x[i + 1], x[i + 2], x[i + 3], x[i + 4], x[i + 5], x[i + 6], x[i + 7]
        for o in range(width):
            out[o] += ((x0 * w[i, o] + x1 * w[i + 1, o]) + (x2 * w[i + 2, o] + x3 * w[i + 3, o])) + (
                (x4 * w[i + 4, o] + x5 * w[i + 5, o]) + (x6 * w[i + 6, o] + x7 * w[i + 7, o])
            )
    for i in range(full, size):
        xi = x[i]
        for o in range(width):
            out[o] += xi * w[i, o]


@_compiled
def _copy(dst, src):  # pragma: no cover - compiled
    """dst[:] = src, as a loop: numba compiles an array-to-array slice assignment 30 times more slowly."""
    for i in range(dst.shape[0]):
        dst[i] = src[i]


@_compiled
def _sigmoid(z, bits, scale):  # pragma: no cover - compiled
    """z (n,) float32 <- sigmoid(z), in two loops the compiler vectorises (np.exp is a call per number).

    exp(-z) = 2^m e^r with m = round(-z log2 e) and |r| <= ln 2 / 2: a degree-7 polynomial gives e^r
    (the float32 exp of the Cephes library, within a unit in the last place), and 2^m is built as
    the bits of a float32 in ``bits`` (int32 (n,)), which ``scale`` (float32 (n,)) views. Arguments
    beyond +-87 are clamped there, where float32 sigmoid is 0 or 1 up to 1e-38.
    """
    one, log2e = np.float32(1.0), np.float32(1.4426950408889634)
    ln2_hi, ln2_lo = np.float32(0.693359375), np.float32(-2.12194440e-4)
    limit = np.float32(87.0)
    for k in range(z.shape[0]):
        x = min(max(-z[k], -limit), limit)
        m = np.floor(x * log2e + np.float32(0.5))
        r = x - m * ln2_hi - m * ln2_lo
        poly = np.float32(1.9875691500e-4) * r + np.float32(1.3981999507e-3)
        poly = ((((poly * r + np.float32(8.3334519073e-3)) * r + np.float32(4.1665795894e-2)) * r
                 + np.float32(1.6666665459e-1)) * r + np.float32(5.0000001201e-1))
        z[k] = poly * (r * r) + r + one
        bits[k] = (np.int32(m) + np.int32(127)) << np.int32(23)
    for k in range(z.shape[0]):
        z[k] = one / (one + z[k] * scale[k])


@_compiled
def _relu(v):  # pragma: no cover - compiled
    for i in range(v.shape[0]):
        if v[i] < 0.0:
            v[i] = 0.0


@_compiled
def pixelcnn_step(j, channels, x_cur, in_rows, in_taps, conv_cur, conv_rows, extra, w_reduce, taps, w_expand, relu_h, u, h):  # pragma: no cover
    """``PixelCNNCache.pixel(j)`` for every image: the residual stream h (N, hidden) at position j.

    x_cur (N, (W + 2 pin) C): the input row of ``channels`` colours, flat, position by position;
    in_rows (N, W, hidden): its rows-above part plus bias; in_taps ((pin + 1) C, hidden). Per block l:
    conv_cur (L, N, (W + 2p) half), the k x k convolution's input row, flat, written here at
    position j; conv_rows (L, N, W, half), its rows-above part plus bias; w_reduce (L, hidden + e, half)
    with extra (N, e), the bias columns (ones, or the one-hot class); taps (L, (p + 1) half, half);
    w_expand (L, half + 1, hidden). relu_h (hidden,) and u (half,) are scratch. Layer by layer, then
    image by image: a layer's weights stay in the CPU's cache while every image of the batch uses them.
    """
    hidden = h.shape[1]
    blocks, half = w_reduce.shape[0], w_reduce.shape[2]
    window = taps.shape[1]  # (p + 1) half: the taps j - p ... j of a block's row
    for n in range(h.shape[0]):
        _copy(h[n], in_rows[n, j])
        _accumulate(h[n], x_cur[n, j * channels : j * channels + in_taps.shape[0]], in_taps)
    for l in range(blocks):
        for n in range(h.shape[0]):
            hn, row = h[n], conv_cur[l, n]
            for i in range(hidden):
                relu_h[i] = max(hn[i], 0.0)
            r = row[j * half + window - half : j * half + window]  # (half,): the k x k input at j, kept for later taps
            r[:] = 0.0
            _accumulate(r, relu_h, w_reduce[l])
            _accumulate(r, extra[n], w_reduce[l, hidden:])
            _relu(r)
            _copy(u, conv_rows[l, n, j])
            _accumulate(u, row[j * half : j * half + window], taps[l])
            _relu(u)
            _accumulate(hn, u, w_expand[l])
            bias = w_expand[l, half]
            for o in range(hidden):
                hn[o] += bias[o]


@_compiled
def gated_step(j, channels, x_cur, in_taps, in_bias, rows, dilations, h_rows, taps, w_out, z, bits, scale, out):  # pragma: no cover
    """``GatedCache.pixel(j)`` for every image: the last block's output out (N, hidden) at position j.

    x_cur (N, (W + 2 pin) C), flat, in_taps ((pin + 1) C, hidden) and in_bias (N, hidden): the input
    layer. rows: a tuple of L + 1 ``LeftRow`` buffers (N, d, (p + ceil(W / d)) hidden), the current
    row of the input layer's and every block's output, flat per remainder: position q at
    [:, q % d, (p + q // d) hidden ...], with dilations (L + 1,) their d. Per block l: h_rows
    (L, N, W, 2h), the link from the vertical stack plus biases; taps (L, (p + 1) hidden, 2h);
    w_out (L, 2h + 1, hidden). z (2h,) and bits, scale (``_sigmoid``) are scratch. The gate is 2 sigmoid(2a) sigmoid(b) - sigmoid(b),
    as in ``HorizontalRows``: the tanh half's weights are doubled.
    """
    hidden = out.shape[1]
    blocks, window = taps.shape[0], taps.shape[1]  # window: (p + 1) hidden, the taps of a position
    p = window // hidden - 1
    d = dilations[0]
    for n in range(out.shape[0]):
        at = (p + j // d) * hidden
        dst = rows[0][n, j % d, at : at + hidden]
        _copy(dst, in_bias[n])
        _accumulate(dst, x_cur[n, j * channels : j * channels + in_taps.shape[0]], in_taps)
    for l in range(blocks):
        d, d_next = dilations[l], dilations[l + 1]
        bias = w_out[l, 2 * hidden]
        for n in range(out.shape[0]):
            src = rows[l][n, j % d]  # (p + ceil(W / d)) hidden: the positions with j's remainder
            _copy(z, h_rows[l, n, j])
            _accumulate(z, src[(j // d) * hidden : (j // d) * hidden + window], taps[l])
            _sigmoid(z, bits, scale)
            for k in range(hidden):
                z[k] *= z[hidden + k]
            at = (p + j // d_next) * hidden
            dst = rows[l + 1][n, j % d_next, at : at + hidden]
            residual = (p + j // d) * hidden
            for o in range(hidden):
                dst[o] = src[residual + o] + bias[o]
            _accumulate(dst, z, w_out[l])
    d = dilations[blocks]
    at = (p + j // d) * hidden
    for n in range(out.shape[0]):
        _copy(out[n], rows[blocks][n, j % d, at : at + hidden])


@_compiled
def head_step(features, w1, w2, a):  # pragma: no cover - compiled
    """The output head at one position: relu(features) (N, hidden) -> 1x1 -> relu -> 1x1, a new (N, P).

    w1 (hidden + 1, hidden') and w2 (hidden' + 1, P) hold their bias as the last row; a (hidden',) is scratch.
    """
    hidden, inner = features.shape[1], a.shape[0]
    out = np.empty((features.shape[0], w2.shape[1]), dtype=features.dtype)
    relu_f = np.empty(hidden, dtype=features.dtype)
    for n in range(features.shape[0]):
        for i in range(hidden):
            relu_f[i] = max(features[n, i], 0.0)
        _copy(a, w1[hidden])
        _accumulate(a, relu_f, w1)
        _relu(a)
        _copy(out[n], w2[inner])
        _accumulate(out[n], a, w2)
    return out


@_compiled
def _exp_minus_abs(edges, q, small):  # pragma: no cover - compiled
    """small[v] = exp(-|edges[v]|) for rising, evenly spaced edges (edges[v + 1] - edges[v] = -log q).

    Away from the edge nearest 0, exp(-|e|) falls by the factor q per edge on both sides, so each
    run of 16 edges needs one exp and then the powers q^0 ... q^15 (a rounding error of a few
    products, far below what float32 logits can show).
    """
    count = edges.shape[0]
    powers = np.empty(16)
    powers[0] = 1.0
    for t in range(1, 16):
        powers[t] = powers[t - 1] * q
    turn = 0  # the first edge >= 0
    while turn < count and edges[turn] < 0.0:
        turn += 1
    for start in range(turn, count, 16):  # e >= 0: exp(-e) falls as v rises
        anchor = np.exp(-edges[start])
        for t in range(min(16, count - start)):
            small[start + t] = anchor * powers[t]
    for start in range(turn - 1, -1, -16):  # e < 0: exp(e) falls as v falls
        anchor = np.exp(edges[start])
        for t in range(min(16, start + 1)):
            small[start - t] = anchor * powers[t]


@_compiled
def mixture_logits_step(raw, levels):  # pragma: no cover - compiled
    """``mixture.mixture_step_logits``: raw (N, 3K) mixture parameters -> log-probabilities (N, levels).

    The same formula, in float64: component k puts sigmoid(upper) * sigmoid(-lower) * (1 - exp(lower - upper))
    on an inner bin, sigmoid(upper) on the first and sigmoid(-lower) on the last. The upper edge of a
    bin is the lower edge of the next, so the levels - 1 inner edges e each need exp(-|e|) once, for
    both sigmoid(e) and sigmoid(-e), and the edges are evenly spaced, so those exps are mostly one
    product each (``_exp_minus_abs``). Probabilities are floored at 1e-300, as there.
    """
    k_count, inner_edges = raw.shape[1] // 3, levels - 1
    half = 1.0 / (levels - 1)  # half a bin
    low, high = LOG_SCALE_RANGE
    out = np.empty((raw.shape[0], levels), dtype=raw.dtype)
    probs = np.empty(levels)
    edges = np.empty(inner_edges)  # the upper edges of bins 0 ... levels - 2 in units of the scale
    small = np.empty(inner_edges)  # exp(-|e|)
    up = np.empty(inner_edges)  # sigmoid(e)
    down = np.empty(inner_edges)  # sigmoid(-e)
    weights = np.empty(k_count)
    for n in range(raw.shape[0]):
        top = -np.inf
        for k in range(k_count):
            top = max(top, np.float64(raw[n, k]))
        total = 0.0
        for k in range(k_count):
            weights[k] = np.exp(np.float64(raw[n, k]) - top)
            total += weights[k]
        probs[:] = 0.0
        for k in range(k_count):
            w = weights[k] / total
            mean = np.float64(raw[n, k_count + k])
            inv_scale = np.exp(-min(max(np.float64(raw[n, 2 * k_count + k]), low), high))
            for v in range(inner_edges):
                edges[v] = ((v * (2.0 * half) - 1.0 + half) - mean) * inv_scale
            _exp_minus_abs(edges, np.exp(-(2.0 * half) * inv_scale), small)
            for v in range(inner_edges):
                one_over = 1.0 / (1.0 + small[v])
                rising = edges[v] >= 0.0
                up[v] = one_over if rising else small[v] * one_over
                down[v] = small[v] * one_over if rising else one_over
            inner = -np.expm1(-(2.0 * half) * inv_scale) * w  # the weight times 1 - exp(lower - upper)
            probs[0] += w * up[0]
            for v in range(1, inner_edges):
                probs[v] += inner * (up[v] * down[v - 1])
            probs[inner_edges] += w * down[inner_edges - 1]
        for v in range(levels):
            out[n, v] = np.log(max(probs[v], 1e-300))
    return out
