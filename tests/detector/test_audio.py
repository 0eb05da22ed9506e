"""WAV loading, resampling to 8 kHz, raw μ-law files and Twilio framing."""

from __future__ import annotations

import wave

import numpy as np
import pytest

from detection.engine import audio, ulaw


def write_wav(path, samples: np.ndarray, rate: int, width: int, channels: int = 1) -> None:
    """Write float samples in [-1, 1) as PCM of the given width."""
    data = np.repeat(samples[:, None], channels, axis=1).ravel()
    if width == 1:
        raw = np.clip(np.round(data * 127 + 128), 0, 255).astype(np.uint8).tobytes()
    elif width == 2:
        raw = np.round(data * 32767).astype("<i2").tobytes()
    elif width == 3:
        ints = np.round(data * 8388607).astype(np.int32)
        raw = np.stack([ints & 0xFF, (ints >> 8) & 0xFF, (ints >> 16) & 0xFF], axis=1).astype(np.uint8).tobytes()
    else:
        raw = np.round(data * 2147483647).astype("<i4").tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(raw)


def peak_hz(x: np.ndarray, rate: int = 8000) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.argmax(spectrum) * rate / len(x))


@pytest.mark.parametrize("rate", [8000, 16000, 44100, 48000, 22050])
@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_wav_of_any_rate_and_width_loads_as_8k_ulaw_keeping_a_1khz_tone(tmp_path, rate, width):
    t = np.arange(rate) / rate
    path = tmp_path / f"tone_{rate}_{width}.wav"
    write_wav(path, 0.5 * np.sin(2 * np.pi * 1000 * t), rate, width)
    data = audio.load_ulaw(path)
    assert abs(len(data) - 8000) <= 1
    x = ulaw.decode(data).astype(float)
    assert abs(peak_hz(x[400:-400]) - 1000) <= 2
    rms = np.sqrt(np.mean(x[400:-400] ** 2))
    assert rms == pytest.approx(0.5 * 32768 / np.sqrt(2), rel=0.05)


def test_stereo_is_mixed_to_mono(tmp_path):
    t = np.arange(16000) / 16000
    path = tmp_path / "stereo.wav"
    write_wav(path, 0.3 * np.sin(2 * np.pi * 500 * t), 16000, 2, channels=2)
    samples, rate = audio.read_wav(path)
    assert rate == 16000 and len(samples) == 16000
    assert np.max(np.abs(samples)) == pytest.approx(0.3 * 32767, rel=0.01)


def test_resampling_removes_what_8k_cannot_hold():
    rate = 44100
    t = np.arange(rate) / rate
    x = 10000 * np.sin(2 * np.pi * 5000 * t)  # would alias to 3000 Hz
    y = audio.resample(x, rate)
    assert len(y) == 8000
    assert np.sqrt(np.mean(y[200:-200] ** 2)) < 10000 * 1e-3  # more than 60 dB down


def test_resampling_up_and_identity():
    x = np.sin(2 * np.pi * 440 * np.arange(8000) / 8000)
    assert np.array_equal(audio.resample(x, 8000), x)
    up = audio.resample(x, 8000, 16000)
    assert len(up) == 16000
    assert abs(peak_hz(up, 16000) - 440) <= 2


@pytest.mark.parametrize("suffix", [".ulaw", ".mulaw", ".raw", ".ul"])
def test_raw_ulaw_files_load_unchanged(tmp_path, suffix):
    data = bytes(range(256)) * 3
    path = tmp_path / f"clip{suffix}"
    path.write_bytes(data)
    assert audio.load_ulaw(path) == data
    assert np.array_equal(audio.load_linear(path), ulaw.decode(data).astype(float))


def test_frames_split_like_twilio():
    data = bytes(500)
    frames = list(audio.frames(data))
    assert [len(p) for p, _ in frames] == [160, 160, 160, 20]
    assert [ts for _, ts in frames] == [0, 20, 40, 60]
    odd = list(audio.frames(data, 37, start_ms=100))
    assert odd[1][1] == 104 and odd[2][1] == 109  # integer ms, rounded down
    with pytest.raises(ValueError):
        list(audio.frames(data, 0))
