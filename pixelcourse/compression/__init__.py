"""Likelihood in practice (notebook 10): lossless compression with the model, and out-of-distribution scores.

- ``stream.py``: the byte layout of a compressed stream (header, fingerprint, checksum) and ``CompressionError``.
- ``coder.py``: ``compress`` and ``decompress``, a range coder driven by the fast sampler's cached steps.
- ``scores.py``: bits per sub-pixel and per image, the class marginal, PNG/gzip/lzma sizes, ROC AUC.
"""

from .stream import FORMAT_VERSION, HEADER_BYTES, CompressionError, model_fingerprint
from .coder import compress, decompress
from .scores import (
    class_pixel_bits,
    image_bits,
    marginal_bits,
    marginal_pixel_bits,
    pixel_bits,
    png_bits,
    roc_auc,
    stream_bits,
)
