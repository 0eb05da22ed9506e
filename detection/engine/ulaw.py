"""G.711 μ-law codec on numpy arrays (16-bit linear scale)."""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 8000  # G.711 telephone sample rate (Hz)
BIAS = 0x84  # G.711 bias added before taking the segment (exponent)
BIAS_14 = BIAS >> 2  # the bias on the 14-bit scale the encoder works on
CLIP_14 = 8159  # largest 14-bit magnitude that encodes without overflowing the top segment
SILENCE_BYTE = 0xFF  # the μ-law code of linear zero


def _decode_table() -> np.ndarray:
    codes = ~np.arange(256, dtype=np.int32) & 0xFF
    exponent = (codes >> 4) & 0x07
    mantissa = codes & 0x0F
    magnitude = (((mantissa << 3) + BIAS) << exponent) - BIAS
    return np.where(codes & 0x80, -magnitude, magnitude).astype(np.int16)


DECODE_TABLE: np.ndarray = _decode_table()
"""Linear 16-bit value of each of the 256 μ-law codes (exact G.711)."""

DECODE_TABLE_F32: np.ndarray = DECODE_TABLE.astype(np.float32)
"""The same table as float32, for analysis code."""

# Largest biased 14-bit magnitude of each of the eight segments.
_SEGMENT_ENDS = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], dtype=np.int32)


def decode(data: bytes | bytearray | memoryview | np.ndarray) -> np.ndarray:
    """Decode μ-law bytes to int16 linear samples."""
    codes = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.astype(np.uint8)
    return DECODE_TABLE[codes]


def decode_float(data: bytes | bytearray | memoryview) -> np.ndarray:
    """Decode μ-law bytes to float32 samples on the 16-bit scale (±32124)."""
    return DECODE_TABLE_F32[np.frombuffer(data, dtype=np.uint8)]


def encode(samples: np.ndarray) -> bytes:
    """Encode linear samples (16-bit scale, any numeric dtype; clipped) to μ-law bytes.

    Works on the 14-bit value (sample >> 2) as G.711 does, so results match the classic reference coder.
    """
    x = np.rint(np.asarray(samples, dtype=np.float64))
    x14 = np.clip(x, -32768, 32767).astype(np.int32) >> 2
    negative = x14 < 0
    magnitude = np.minimum(np.where(negative, -x14, x14), CLIP_14) + BIAS_14
    segment = np.searchsorted(_SEGMENT_ENDS, magnitude)
    mantissa = (magnitude >> (np.minimum(segment, 7) + 1)) & 0x0F
    code = np.where(segment >= 8, 0x7F, (segment << 4) | mantissa)
    code ^= np.where(negative, 0x7F, 0xFF)
    return code.astype(np.uint8).tobytes()
