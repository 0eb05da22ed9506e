"""G.711 μ-law codec."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from detection.engine import ulaw


def test_decode_table_has_the_g711_values():
    assert ulaw.DECODE_TABLE[0x00] == -32124
    assert ulaw.DECODE_TABLE[0x80] == 32124
    assert ulaw.DECODE_TABLE[0xFF] == 0
    assert ulaw.DECODE_TABLE[0x7F] == 0
    assert ulaw.DECODE_TABLE[0xFE] == 8  # smallest step above zero
    assert ulaw.DECODE_TABLE[0x7E] == -8
    assert ulaw.DECODE_TABLE[0x8F] == 16764  # top of segment 6: ((15 << 3) + 132) << 6 - 132
    decoded = ulaw.DECODE_TABLE.astype(int)
    assert np.all(np.diff(decoded[0x80:][::-1]) > 0)  # positive half is monotone
    assert np.array_equal(decoded[:0x80], -decoded[0x80:])  # the halves mirror each other


def test_decode_accepts_bytes_and_returns_int16():
    samples = ulaw.decode(bytes([0x00, 0xFF, 0x80]))
    assert samples.dtype == np.int16
    assert samples.tolist() == [-32124, 0, 32124]
    assert ulaw.decode_float(b"\x80").tolist() == [32124.0]


def test_encode_round_trips_every_code():
    codes = np.arange(256, dtype=np.uint8)
    back = np.frombuffer(ulaw.encode(ulaw.DECODE_TABLE[codes]), dtype=np.uint8)
    expected = codes.copy()
    expected[0x7F] = 0xFF  # negative zero encodes as positive zero
    assert np.array_equal(back, expected)


def test_encode_clips_and_quantizes_to_the_nearest_step():
    x = np.linspace(-40000, 40000, 20001)
    decoded = ulaw.decode(ulaw.encode(x)).astype(float)
    clipped = np.clip(x, -32124, 32124)
    step = np.maximum(8.0, 2.0 ** np.floor(np.log2(np.abs(clipped) + 132) - 4))
    assert np.all(np.abs(decoded - clipped) <= step)


def test_encode_matches_the_stdlib_reference():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")
    x = np.arange(-32768, 32768, dtype=np.int16)
    assert ulaw.encode(x) == audioop.lin2ulaw(x.tobytes(), 2)
    codes = bytes(range(256))
    reference = np.frombuffer(audioop.ulaw2lin(codes, 2), dtype=np.int16)
    assert np.array_equal(ulaw.decode(codes), reference)
