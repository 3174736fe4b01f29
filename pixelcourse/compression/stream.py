"""The byte layout of a compressed stream: a small header, then the range coder's words.

Header (big-endian, 45 bytes), then the payload (little-endian 32-bit words):

    magic "PXC" | format version | channels | height | width | levels | images | batch size
    | model fingerprint (8) | labels digest (4) | image checksum (8) | payload bytes (4) | CRC-32 of all before (4)

The fingerprint names the model's exact weights and config, the labels digest the
class labels of a conditional model, and the checksum the images themselves, so
that decoding with another model, other labels or damaged bytes raises a
``CompressionError`` instead of returning wrong images.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
import zlib
from typing import NamedTuple

import torch

from ..models import AutoregressiveModel

MAGIC = b"PXC"
FORMAT_VERSION = 1
_FIELDS = struct.Struct(">3sBBHHHIH8s4s8sI")
_CRC = struct.Struct(">I")
HEADER_BYTES = _FIELDS.size + _CRC.size
NO_LABELS = bytes(4)


class CompressionError(ValueError):
    """Data that cannot be decoded: not a stream, damaged, truncated, or for another model or labels."""


class Header(NamedTuple):
    """The fields of a stream's header (see the module docstring)."""

    version: int
    channels: int
    height: int
    width: int
    levels: int
    count: int  # images in the stream
    batch: int  # images coded together; the decoder must use the same batches
    fingerprint: bytes  # model_fingerprint of the encoder's model
    labels: bytes  # labels_digest of the labels, NO_LABELS for an unconditional model
    checksum: bytes  # image_checksum of the images
    payload: int  # bytes of range-coder words after the header


def _sha256(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big"))  # lengths first: no two different lists hash alike
        h.update(part)
    return h.digest()


def _tensor_bytes(t: torch.Tensor) -> bytes:
    return t.detach().cpu().contiguous().numpy().tobytes()


def model_fingerprint(model: AutoregressiveModel) -> bytes:
    """8 bytes that change with any weight, buffer or config field of ``model``."""
    config = json.dumps(dataclasses.asdict(model.config), sort_keys=True).encode()
    parts = [config]
    for name, value in model.state_dict().items():
        parts += [name.encode(), f"{value.dtype} {tuple(value.shape)}".encode(), _tensor_bytes(value)]
    return _sha256(*parts)[:8]


def image_checksum(images: torch.Tensor) -> bytes:
    """8 bytes of SHA-256 over the shape and levels of ``images`` long (N, C, H, W)."""
    return _sha256(str(tuple(images.shape)).encode(), _tensor_bytes(images.to(torch.int16)))[:8]


def labels_digest(labels: torch.Tensor | None) -> bytes:
    """4 bytes that name the labels (N,), or NO_LABELS for None."""
    return NO_LABELS if labels is None else _sha256(b"labels", _tensor_bytes(labels.long()))[:4]


def pack_header(header: Header) -> bytes:
    """The header's bytes, CRC-32 included."""
    fields = _FIELDS.pack(MAGIC, header.version, header.channels, header.height, header.width,
                          header.levels, header.count, header.batch, header.fingerprint, header.labels,
                          header.checksum, header.payload)
    return fields + _CRC.pack(zlib.crc32(fields))


def read_header(data) -> tuple[Header, bytes]:
    """Split a stream into its checked header and its payload bytes.

    Raises TypeError for data that is not bytes and CompressionError for a
    foreign, damaged, truncated or over-long stream.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be the bytes that pixelcourse.compress returned, got {type(data).__name__}.")
    data = bytes(data)
    if not data or data[:3] != MAGIC[: len(data[:3])]:
        raise CompressionError(f"The data ({len(data)} bytes) is not a pixelcourse compressed stream: it does not "
                               "start with b'PXC'. Pass the bytes that pixelcourse.compress returned.")
    if len(data) < HEADER_BYTES:
        raise CompressionError(f"The data is truncated: {len(data)} bytes, shorter than the {HEADER_BYTES}-byte "
                               "header. Use the complete bytes from compress.")
    fields, (crc,), payload = data[: _FIELDS.size], _CRC.unpack(data[_FIELDS.size : HEADER_BYTES]), data[HEADER_BYTES:]
    if zlib.crc32(fields) != crc:
        raise CompressionError("The stream's header is corrupted (its CRC-32 does not match); the bytes were changed "
                               "after compress wrote them.")
    header = Header(*_FIELDS.unpack(fields)[1:])
    if header.version != FORMAT_VERSION:
        raise CompressionError(f"The stream has format version {header.version}; this pixelcourse reads version "
                               f"{FORMAT_VERSION}. Decode it with the pixelcourse version that wrote it.")
    if len(payload) < header.payload:
        raise CompressionError(f"The data is truncated: the header announces {header.payload} payload bytes, "
                               f"{len(payload)} are there. Use the complete bytes from compress.")
    if len(payload) > header.payload:
        raise CompressionError(f"The data has {len(payload) - header.payload} bytes after the end of the stream "
                               "(two streams glued together?). Pass exactly the bytes one compress call returned.")
    return header, payload


def check_header_fits(header: Header, model: AutoregressiveModel) -> None:
    """Raise CompressionError unless ``model`` is the model that wrote the stream."""
    c = model.config
    if (header.channels, header.height, header.width, header.levels) != (c.channels, c.height, c.width, c.levels):
        raise CompressionError(
            f"The stream holds {header.channels}x{header.height}x{header.width} images with {header.levels} levels, "
            f"but this model takes {c.channels}x{c.height}x{c.width} with {c.levels} levels: decode it with the "
            "model that compressed it."
        )
    if header.fingerprint != model_fingerprint(model):
        raise CompressionError(
            f"The stream was compressed with another model (fingerprint {header.fingerprint.hex()}, this model's "
            f"is {model_fingerprint(model).hex()}): decoding needs the exact weights that encoded it."
        )
