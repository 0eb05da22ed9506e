"""Audio file loading, resampling to 8 kHz, and Twilio-style framing."""

from __future__ import annotations

import math
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from . import ulaw

TARGET_RATE = ulaw.SAMPLE_RATE  # the rate the detector analyses (Hz)
FRAME_MS = 20  # Twilio Media Streams frame length (ms)
FRAME_BYTES = TARGET_RATE * FRAME_MS // 1000  # 160 μ-law bytes per 20 ms frame
RAW_ULAW_SUFFIXES = (".ulaw", ".mulaw", ".raw", ".ul")  # headerless μ-law file extensions

RESAMPLE_ZERO_CROSSINGS = 16  # sinc lobes kept on each side of the filter centre (transition sharpness)
RESAMPLE_KAISER_BETA = 8.6  # Kaiser window shape: about 80 dB stop-band attenuation
RESAMPLE_ROLLOFF = 0.92  # pass-band edge as a fraction of the lower Nyquist frequency
RESAMPLE_CHUNK = 8192  # output samples computed per vectorised step (bounds memory)


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a PCM WAV (8/16/24/32-bit, any channel count) as mono float64 on the 16-bit scale."""
    with wave.open(str(path), "rb") as wav:
        width = wav.getsampwidth()
        channels = wav.getnchannels()
        rate = wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    if width == 1:
        samples = (np.frombuffer(raw, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    elif width == 2:
        samples = np.frombuffer(raw, dtype="<i2").astype(np.float64)
    elif width == 3:
        triplets = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = triplets[:, 0] | (triplets[:, 1] << 8) | (triplets[:, 2] << 16)
        value = np.where(value & 0x800000, value - (1 << 24), value)
        samples = value.astype(np.float64) / 256.0
    elif width == 4:
        samples = np.frombuffer(raw, dtype="<i4").astype(np.float64) / 65536.0
    else:
        raise ValueError(f"unsupported WAV sample width: {width} bytes")
    if channels > 1:
        samples = samples[: len(samples) // channels * channels].reshape(-1, channels).mean(axis=1)
    return samples, rate


def _kaiser(t: np.ndarray, half_width: float, beta: float) -> np.ndarray:
    ratio = np.clip(t / half_width, -1.0, 1.0)
    return np.i0(beta * np.sqrt(1.0 - ratio * ratio)) / np.i0(beta)


def resample(samples: np.ndarray, rate_in: int, rate_out: int = TARGET_RATE) -> np.ndarray:
    """Resample with a polyphase Kaiser-windowed sinc low-pass (anti-aliased when going down)."""
    x = np.asarray(samples, dtype=np.float64)
    if rate_in == rate_out or len(x) == 0:
        return x.copy()
    g = math.gcd(rate_in, rate_out)
    up, down = rate_out // g, rate_in // g
    # Cut-off in cycles per input sample: the lower of the two Nyquist frequencies, minus a roll-off.
    cutoff = 0.5 * min(1.0, rate_out / rate_in) * RESAMPLE_ROLLOFF
    half_width = RESAMPLE_ZERO_CROSSINGS / (2.0 * cutoff)
    taps = int(math.ceil(half_width))
    offsets = np.arange(-taps + 1, taps + 1)  # input offsets relative to floor(position)
    phases = np.arange(up) / up  # fractional position of each output phase
    t = phases[:, None] - offsets[None, :]  # distance from each tap to the output position
    bank = 2.0 * cutoff * np.sinc(2.0 * cutoff * t) * _kaiser(t, half_width, RESAMPLE_KAISER_BETA)
    padded = np.concatenate([np.zeros(taps), x, np.zeros(taps + 1)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * taps)
    n_out = int(math.ceil(len(x) * up / down))
    out = np.empty(n_out)
    for start in range(0, n_out, RESAMPLE_CHUNK):
        n = np.arange(start, min(n_out, start + RESAMPLE_CHUNK))
        base = (n * down) // up  # floor of the input position
        phase = (n * down) % up
        # windows[base + 1] spans input indices base - taps + 1 .. base + taps in padded coordinates.
        out[start : start + len(n)] = np.einsum("ij,ij->i", windows[base + 1], bank[phase])
    return out


def to_ulaw(samples: np.ndarray, rate: int) -> bytes:
    """Resample linear samples (16-bit scale) to 8 kHz and encode as μ-law."""
    return ulaw.encode(resample(samples, rate, TARGET_RATE))


def load_ulaw(path: str | Path) -> bytes:
    """Load a WAV (any common format) or a headerless μ-law file as 8 kHz μ-law bytes."""
    path = Path(path)
    if path.suffix.lower() in RAW_ULAW_SUFFIXES:
        return path.read_bytes()
    samples, rate = read_wav(path)
    return to_ulaw(samples, rate)


def load_linear(path: str | Path) -> np.ndarray:
    """Load an audio file as 8 kHz linear float samples (16-bit scale), without μ-law coding."""
    path = Path(path)
    if path.suffix.lower() in RAW_ULAW_SUFFIXES:
        return ulaw.decode(path.read_bytes()).astype(np.float64)
    samples, rate = read_wav(path)
    return resample(samples, rate, TARGET_RATE)


def frames(data: bytes, frame_bytes: int = FRAME_BYTES, start_ms: int = 0) -> Iterator[tuple[bytes, int]]:
    """Split μ-law bytes into (payload, timestamp_ms) frames as Twilio sends them."""
    if frame_bytes <= 0:
        raise ValueError("frame_bytes must be positive")
    for offset in range(0, len(data), frame_bytes):
        yield data[offset : offset + frame_bytes], start_ms + offset * 1000 // TARGET_RATE
