"""Likelihood in practice (notebook 10): bits per image, generic compressors, and out-of-distribution scores.

- ``pixel_bits`` / ``image_bits``: the model's -log2 p of every sub-pixel / image.
- ``marginal_bits``, ``marginal_pixel_bits``: -log2 p(x) of a class-conditional model, summed over
  its classes, per image and per sub-pixel.
- ``png_bits``, ``stream_bits``: what PNG, gzip and lzma make of the same images.
- ``roc_auc``: how well a score tells out-of-distribution images from the rest.
"""

from __future__ import annotations

import gzip
import io
import lzma
import math

import numpy as np
import torch
from PIL import Image

from ..likelihood import LN2, evaluation_batch, log_probs
from ..models import AutoregressiveModel
from ..util import eval_mode, model_device

CODECS = ("gzip", "lzma")


def pixel_bits(model: AutoregressiveModel, x: torch.Tensor, y: torch.Tensor | None = None,
               batch_size: int | None = None) -> torch.Tensor:
    """-log2 p(x_i | x_<i) of every sub-pixel, from full forward passes with a float64 softmax.

    x: long (N, C, H, W); y: long (N,) labels for a conditional model. Returns
    float64 (N, C, H, W) on the CPU; its sum over an image is the image's code length.
    batch_size: images per forward pass, None for ``evaluation_batch(model)``.
    """
    model.check_input(x, y)
    batch_size = evaluation_batch(model, batch_size)
    out = [torch.zeros(0, *x.shape[1:], dtype=torch.float64)]
    device = model_device(model)
    with eval_mode(model), torch.no_grad():
        for start in range(0, len(x), batch_size):
            xb = x[start : start + batch_size].to(device)  # (B, C, H, W)
            yb = None if y is None else y[start : start + batch_size].to(device)
            out.append((-log_probs(model, xb, yb, exact=True) / LN2).cpu())  # (B, C, H, W)
    return torch.cat(out)


def image_bits(model: AutoregressiveModel, x: torch.Tensor, y: torch.Tensor | None = None,
               batch_size: int | None = None) -> torch.Tensor:
    """-log2 p(x | y) of every image in bits: x long (N, C, H, W) -> float64 (N,). Divide by C*H*W for bits/dim."""
    return pixel_bits(model, x, y, batch_size).flatten(1).sum(1)


def class_pixel_bits(model: AutoregressiveModel, x: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
    """``pixel_bits`` of a class-conditional model under every class: x long (N, C, H, W) -> float64 (K, N, C, H, W)."""
    k = model.config.num_classes
    if k == 0:
        raise ValueError("This needs a class-conditional model; this one is unconditional: use image_bits or pixel_bits.")
    return torch.stack([pixel_bits(model, x, torch.full((len(x),), label), batch_size) for label in range(k)])


def marginal_bits(model: AutoregressiveModel, x: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
    """-log2 p(x) of a class-conditional model, with p(x) = sum over classes k of p(k) p(x | k), p(k) = 1/K.

    The sum of K probabilities as tiny as 2^-3000 is a log-sum-exp of their logs.
    x: long (N, C, H, W) -> float64 (N,) bits per image.
    """
    per_class = class_pixel_bits(model, x, batch_size).flatten(2).sum(2)  # (K, N): -log2 p(x | k)
    return -(torch.logsumexp(-per_class * LN2, dim=0) - math.log(len(per_class))) / LN2


def marginal_pixel_bits(model: AutoregressiveModel, x: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
    """-log2 p(x_i | x_<i) of every sub-pixel under the class mixture p(x) = mean over k of p(x | k).

    Sub-pixel i costs -log2 p(x_<=i) + log2 p(x_<i), where p(x_<=i) = mean over k of
    p(x_<=i | k): the mixture weighs each class by how well it explained the
    sub-pixels before i. The costs of an image add up to its ``marginal_bits``.
    x: long (N, C, H, W) -> float64 (N, C, H, W).
    """
    per_class = class_pixel_bits(model, x, batch_size)  # (K, N, C, H, W)
    k, n, c, h, w = per_class.shape
    ordered = per_class.permute(0, 1, 3, 4, 2).reshape(k, n, -1)  # (K, N, D): coding order, raster then colour
    prefix = torch.logsumexp(-ordered.cumsum(dim=2) * LN2, dim=0) - math.log(k)  # (N, D): ln p(x_<=i)
    cost = -torch.diff(prefix, dim=1, prepend=prefix.new_zeros(n, 1)) / LN2  # (N, D)
    return cost.view(n, h, w, c).permute(0, 3, 1, 2)


def _as_uint8(images: torch.Tensor) -> np.ndarray:
    """Levels long (N, C, H, W) -> uint8 (N, H, W, C), one byte per sub-pixel."""
    if not isinstance(images, torch.Tensor) or images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError("images must be a tensor of levels (N, C, H, W) with C = 1 or 3.")
    if images.numel() and (int(images.min()) < 0 or int(images.max()) > 255):
        raise ValueError("images must hold levels in 0..255 to be stored one byte per sub-pixel.")
    return images.permute(0, 2, 3, 1).to(torch.uint8).cpu().numpy()


def png_bits(images: torch.Tensor) -> torch.Tensor:
    """The size in bits of each image as its own PNG file (Pillow, optimize=True): (N, C, H, W) -> float64 (N,).

    The levels are stored as they are, one byte per sub-pixel (grey or RGB).
    """
    sizes = []
    for pixels in _as_uint8(images):  # (H, W, C)
        file = io.BytesIO()
        Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(file, format="PNG", optimize=True)
        sizes.append(8 * file.tell())
    return torch.tensor(sizes, dtype=torch.float64)


def stream_bits(images: torch.Tensor, codec: str) -> int:
    """The size in bits of all images' raw bytes (one byte per sub-pixel, image after image) compressed as one stream.

    codec: "gzip" (level 9) or "lzma" (xz, preset 9 extreme). Both are deterministic.
    """
    raw = _as_uint8(images).tobytes()
    if codec == "gzip":
        return 8 * len(gzip.compress(raw, compresslevel=9, mtime=0))
    if codec == "lzma":
        return 8 * len(lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME))
    raise ValueError(f"codec must be one of {list(CODECS)}, got {codec!r}.")


def roc_auc(inliers, outliers) -> float:
    """Area under the ROC curve of a score that should be higher for outliers.

    The probability that a random outlier scores higher than a random inlier
    (ties count half): 1 separates them perfectly, 0.5 is chance, below 0.5 the
    score points the wrong way. inliers, outliers: 1-d arrays or tensors of scores.
    """
    inliers = np.sort(np.asarray(inliers, dtype=np.float64).ravel())
    outliers = np.asarray(outliers, dtype=np.float64).ravel()
    if not len(inliers) or not len(outliers):
        raise ValueError("roc_auc needs at least one inlier and one outlier score.")
    below = np.searchsorted(inliers, outliers, side="left")  # inliers strictly below each outlier
    ties = np.searchsorted(inliers, outliers, side="right") - below
    return float((below.sum() + 0.5 * ties.sum()) / (len(inliers) * len(outliers)))
