"""Lossless compression with the model: ``compress`` and ``decompress`` (notebook 10).

A PixelCNN gives every sub-pixel a distribution over its levels given the
sub-pixels before it; a range coder turns a symbol of probability p into about
-log2 p bits. So an image costs about the model's own -log2 p(x) bits, and the
bits/dim of notebook 03 is a real file size.

Exactness. The decoder knows only the sub-pixels it has decoded, so it must
compute every distribution from them, step by step: the fast sampler's cached
one-position steps (``fill_rows``). The encoder walks the same steps with the
same batches, one thread, in inference mode, from the same state of each row,
and writes each true value into the caches exactly where the decoder writes
the decoded one. Both sides therefore round the same floats in the same order
and get the same logits, bit for bit (a single full forward pass would round
differently). The probabilities (float64 softmax of those logits) are quantised
by constriction's ``Categorical(perfect=False)``, which is deterministic.
Another kind of machine (CPU generation, GPU, torch version) may round
differently; the stream's checksum turns that into an error, never into wrong
images.
"""

from __future__ import annotations

import constriction
import numpy as np
import torch

from ..models import AutoregressiveModel, check_labels
from ..sampling.fast import fill_rows
from ..util import eval_mode, model_device
from .stream import (
    FORMAT_VERSION,
    CompressionError,
    Header,
    check_header_fits,
    image_checksum,
    labels_digest,
    model_fingerprint,
    pack_header,
    read_header,
)

# The coder's model family: a categorical distribution whose probabilities come with every call.
_CATEGORICAL = constriction.stream.model.Categorical(perfect=False)
MAX_BATCH = 65535  # the header keeps the batch size in 16 bits


def _probabilities(logits: torch.Tensor) -> np.ndarray:
    """logits (n, levels) -> float64 probabilities (n, levels) as the coder wants them."""
    return torch.softmax(logits.double(), dim=-1).cpu().numpy()


def _parts(count: int, batch: int) -> list[slice]:
    return [slice(start, min(start + batch, count)) for start in range(0, count, batch)]


def _check_model(model) -> None:
    if not isinstance(model, AutoregressiveModel):
        raise TypeError(f"model must be a pixelcourse PixelCNN or GatedPixelCNN, got {type(model).__name__}.")


def _check_batch(batch_size) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= MAX_BATCH:
        raise ValueError(f"batch_size must be an int in 1..{MAX_BATCH}, got {batch_size!r}.")
    return batch_size


def _walk(model: AutoregressiveModel, x: torch.Tensor, y: torch.Tensor | None, choose) -> None:
    """Fill x (n, C, H, W), all zeros, in place: every sub-pixel unknown, ``choose`` codes each step."""
    fill_rows(model, x, torch.zeros_like(x, dtype=torch.bool), y, choose)


def _encode(model, x: torch.Tensor, y: torch.Tensor | None, encoder) -> None:
    """Append the code of the images x (n, C, H, W) to ``encoder``, one cached step per sub-pixel."""
    truth = iter(x.permute(2, 3, 1, 0).reshape(-1, len(x)))  # (H * W * C, n): the walk's order, raster then colour

    def choose(logits: torch.Tensor, colour: int) -> torch.Tensor:
        symbols = next(truth)  # (n,): the true levels of this sub-pixel
        encoder.encode(symbols.to(torch.int32).cpu().numpy(), _CATEGORICAL, _probabilities(logits))
        return symbols  # written into the caches where the decoder writes the decoded levels

    _walk(model, torch.zeros_like(x), y, choose)


def _decode(model, n: int, y: torch.Tensor | None, decoder, device) -> torch.Tensor:
    """Decode n images long (n, C, H, W) from ``decoder``, one cached step per sub-pixel."""
    c = model.config
    x = torch.zeros(n, c.channels, c.height, c.width, dtype=torch.long, device=device)

    def choose(logits: torch.Tensor, colour: int) -> torch.Tensor:
        try:
            symbols = decoder.decode(_CATEGORICAL, _probabilities(logits))  # (n,) int32
        except Exception as err:  # the coder's own error for impossible data
            raise CompressionError(f"The stream's payload is corrupted: {str(err).rstrip('.')}.") from None
        return torch.from_numpy(symbols.astype(np.int64)).to(device)

    _walk(model, x, y, choose)
    return x


def compress(model: AutoregressiveModel, images: torch.Tensor, labels: torch.Tensor | None = None,
             batch_size: int = 64) -> bytes:
    """Encode ``images`` losslessly with ``model``: ``decompress(model, data, labels)`` gives them back exactly.

    images: long (N, C, H, W) levels in [0, levels); labels: long (N,) for a
    class-conditional model, else None. Images are coded ``batch_size`` at a
    time (the decoder repeats the same batches). Returns bytes: a 45-byte header
    (format, shape, model fingerprint, checksum), then about -log2 p(images)
    bits of range code.
    """
    _check_model(model)
    model.check_input(images, labels)
    batch = _check_batch(batch_size)
    device = model_device(model)
    images = images.to(device)
    labels = None if labels is None else labels.to(device)
    encoder = constriction.stream.queue.RangeEncoder()
    with eval_mode(model):
        for part in _parts(len(images), batch):
            _encode(model, images[part], None if labels is None else labels[part], encoder)
    words = encoder.get_compressed().astype("<u4").tobytes()  # the payload, little-endian 32-bit words
    c = model.config
    header = Header(FORMAT_VERSION, c.channels, c.height, c.width, c.levels, len(images), batch,
                    model_fingerprint(model), labels_digest(labels), image_checksum(images), len(words))
    return pack_header(header) + words


def decompress(model: AutoregressiveModel, data: bytes, labels: torch.Tensor | None = None) -> torch.Tensor:
    """The images that ``compress(model, images, labels)`` encoded into ``data``: long (N, C, H, W) on the model's device.

    model and labels must be the ones the images were compressed with. Raises
    CompressionError for data that is not a stream, is truncated or damaged, or
    was written by another model or with other labels; it never returns wrong images.
    """
    _check_model(model)
    header, payload = read_header(data)
    check_header_fits(header, model)
    check_labels(model.config, labels, header.count)
    if labels_digest(labels) != header.labels:
        raise CompressionError("These labels differ from the labels the images were compressed with; "
                               "pass the same labels to decompress as to compress.")
    if len(payload) % 4:
        raise CompressionError(f"The stream's payload is corrupted: {len(payload)} bytes, not whole 32-bit words.")
    decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(payload, dtype="<u4").astype(np.uint32))
    device = model_device(model)
    labels = None if labels is None else labels.to(device)
    c = model.config
    decoded = [torch.zeros(0, c.channels, c.height, c.width, dtype=torch.long, device=device)]
    with eval_mode(model):
        for part in _parts(header.count, header.batch):
            y = None if labels is None else labels[part]
            decoded.append(_decode(model, part.stop - part.start, y, decoder, device))
    images = torch.cat(decoded)
    if image_checksum(images) != header.checksum:
        raise CompressionError(
            "The decoded images do not match the stream's checksum: the payload is corrupted, or the stream was "
            "written on another kind of machine (CPU, GPU or torch version) whose rounding differs from this one's."
        )
    return images
