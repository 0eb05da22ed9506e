"""Test signals for the detector: tones, noise, telephone channel, synthetic and recorded speech; and a
speech model that always says the same."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from detection.engine import Detector, audio, ulaw

RATE = 8000
FULL_SCALE = 32768.0
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en")
CACHE_DIR = Path(tempfile.gettempdir()) / "amd-detector-test-audio"

HAVE_ESPEAK = shutil.which("espeak-ng") is not None
HAVE_FLITE = shutil.which("flite") is not None
HAVE_ASTERISK_SOUNDS = (ASTERISK_SOUNDS / "hello.wav").exists()


def ms(n: float) -> int:
    """Samples in ``n`` milliseconds."""
    return int(round(n * RATE / 1000))


def db_to_amp(level_dbfs: float) -> float:
    return FULL_SCALE * 10 ** (level_dbfs / 20)


def silence(duration_ms: float) -> np.ndarray:
    return np.zeros(ms(duration_ms))


def tone(freqs_hz: float | tuple[float, ...], duration_ms: float, level_dbfs: float = -15.0,
         phase: float = 0.0) -> np.ndarray:
    """Sum of sines; ``level_dbfs`` is the RMS level of the sum."""
    freqs = (freqs_hz,) if isinstance(freqs_hz, (int, float)) else tuple(freqs_hz)
    t = np.arange(ms(duration_ms)) / RATE
    x = sum(np.sin(2 * np.pi * f * t + phase * (i + 1)) for i, f in enumerate(freqs))
    return x * db_to_amp(level_dbfs) / np.sqrt(len(freqs) / 2)


def ced(duration_ms: float, level_dbfs: float = -15.0, reversal_ms: float = 450.0, am: bool = True) -> np.ndarray:
    """2100 Hz answer tone with phase reversals and optional 15 Hz amplitude modulation (ANSam)."""
    t = np.arange(ms(duration_ms)) / RATE
    flips = np.floor(t * 1000 / reversal_ms) % 2 * np.pi
    x = np.sin(2 * np.pi * 2100 * t + flips)
    if am:
        x *= 1 + 0.2 * np.sin(2 * np.pi * 15 * t)
    return x * db_to_amp(level_dbfs) * np.sqrt(2)


def cng(cycles: int = 2, level_dbfs: float = -15.0) -> np.ndarray:
    """Calling fax tone: 1100 Hz 0.5 s on, 3 s off."""
    return np.concatenate([np.concatenate([tone(1100, 500, level_dbfs), silence(3000)]) for _ in range(cycles)])


SIT_PATTERNS = {  # (frequency, duration ms) for the three segments
    "IC": ((913.8, 274), (1370.6, 274), (1776.7, 380)),
    "VC": ((985.2, 380), (1370.6, 274), (1776.7, 380)),
    "RO": ((913.8, 274), (1428.5, 380), (1776.7, 380)),
    "NC": ((913.8, 380), (1370.6, 380), (1776.7, 380)),
    "ITU": ((950.0, 330), (1400.0, 330), (1800.0, 330)),
}


def sit(code: str, level_dbfs: float = -20.0, gap_ms: float = 2.0) -> np.ndarray:
    parts = []
    for freq, dur in SIT_PATTERNS[code]:
        parts += [tone(freq, dur, level_dbfs), silence(gap_ms)]
    return np.concatenate(parts)


def telephone_band(x: np.ndarray, low_hz: float = 300.0, high_hz: float = 3400.0) -> np.ndarray:
    """Band-limit like a telephone channel (smooth FFT mask)."""
    n = len(x)
    if n == 0:
        return x
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(n, 1 / RATE)
    mask = 1 / (1 + (low_hz / np.maximum(f, 1e-3)) ** 8) / (1 + (f / high_hz) ** 12)
    return np.fft.irfft(spec * mask, n)


def noise(duration_ms: float, level_dbfs: float, kind: str = "line", seed: int = 0) -> np.ndarray:
    """Line noise at an RMS level: 'line' (band-limited hiss), 'white', 'pink', 'hum' (60 Hz + hiss)."""
    rng = np.random.default_rng(seed)
    n = ms(duration_ms)
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / RATE)
        x = np.fft.irfft(spec / np.sqrt(np.maximum(f, 20.0)), n)
    elif kind == "line":
        x = telephone_band(rng.standard_normal(n))
    elif kind == "hum":
        t = np.arange(n) / RATE
        x = sum(np.sin(2 * np.pi * 60 * k * t) / k for k in (1, 3, 5)) + 0.3 * telephone_band(rng.standard_normal(n))
    else:
        raise ValueError(kind)
    x = np.asarray(x, dtype=np.float64)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12) * db_to_amp(level_dbfs)


def active_level_dbfs(x: np.ndarray) -> float:
    """RMS level over the 20 ms frames within 30 dB of the loudest one."""
    frames = x[: len(x) // 160 * 160].reshape(-1, 160)
    power = np.mean(frames**2, axis=1) + 1e-9
    active = power[power >= power.max() * 1e-3]
    return 10 * np.log10(np.mean(active) / FULL_SCALE**2)


def at_level(x: np.ndarray, level_dbfs: float) -> np.ndarray:
    """Scale speech so its active level is ``level_dbfs``."""
    return x * 10 ** ((level_dbfs - active_level_dbfs(x)) / 20)


def with_noise(x: np.ndarray, snr_db: float, kind: str = "line", seed: int = 0) -> np.ndarray:
    """Add noise ``snr_db`` below the signal's active level."""
    level = active_level_dbfs(x) - snr_db
    return x + noise(len(x) * 1000 / RATE, level, kind, seed)[: len(x)]


def speech_bounds_ms(x: np.ndarray, below_peak_db: float = 30.0) -> tuple[int, int]:
    """First and last 10 ms of a clean signal within ``below_peak_db`` of its loudest 10 ms."""
    win = ms(10)
    frames = x[: len(x) // win * win].reshape(-1, win)
    level = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-9)
    on = np.nonzero(level >= level.max() - below_peak_db)[0]
    return int(on[0] * 10), int((on[-1] + 1) * 10)


def _cached(key: str, render) -> np.ndarray:
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    wav = CACHE_DIR / f"{digest}.wav"
    if not wav.exists():
        tmp = wav.with_suffix(".tmp.wav")
        render(tmp)
        tmp.rename(wav)
    return audio.load_linear(wav)


def espeak(text: str, voice: str = "en-us", speed: int = 165) -> np.ndarray:
    """Speech from espeak-ng, resampled to 8 kHz through the package loader."""
    def render(path: Path) -> None:
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True,
                       capture_output=True)

    return trim(_cached(f"espeak|{voice}|{speed}|{text}", render))


def flite(text: str, voice: str = "slt") -> np.ndarray:
    """Speech from flite."""
    def render(path: Path) -> None:
        subprocess.run(["flite", "-voice", voice, "-t", text, "-o", str(path)], check=True, capture_output=True)

    return trim(_cached(f"flite|{voice}|{text}", render))


def asterisk(name: str) -> np.ndarray:
    """A recorded Asterisk prompt (8 kHz)."""
    return audio.load_linear(ASTERISK_SOUNDS / f"{name}.wav")


def trim(x: np.ndarray) -> np.ndarray:
    """Cut leading and trailing near-silence that synthesizers add."""
    start, end = speech_bounds_ms(x, 50.0)
    return x[ms(start) : ms(end)]


def join(*parts: np.ndarray) -> np.ndarray:
    return np.concatenate([np.asarray(p, dtype=np.float64) for p in parts])


def encode(x: np.ndarray) -> bytes:
    return ulaw.encode(x)


def stream(data: bytes | np.ndarray, aggressiveness: float = 0.25, detect_message_end: bool = False,
           frame_bytes: int = 160, finish: bool = True, model="default") -> tuple[Detector, list]:
    """Stream μ-law through a Detector in Twilio-style frames; return it and what push returned."""
    if isinstance(data, np.ndarray):
        data = encode(data)
    det = Detector(aggressiveness=aggressiveness, detect_message_end=detect_message_end, model=model)
    results = []
    for payload, ts in audio.frames(data, frame_bytes):
        res = det.push(payload, ts)
        if res is not None:
            results.append(res)
    if finish:
        det.finish()
        det.finish_message_end()
    return det, results


def call(speech: np.ndarray, lead_ms: float = 600, tail_ms: float = 4000, level_dbfs: float = -20.0,
         snr_db: float = 40.0, kind: str = "line", seed: int = 0) -> tuple[np.ndarray, tuple[int, int]]:
    """Answered-call audio: line noise, then ``speech`` at a level, then more line noise.

    Returns the signal and the speech's (start_ms, end_ms) measured on the clean speech.
    """
    clean = at_level(speech, level_dbfs)
    start, end = speech_bounds_ms(clean)
    signal = join(silence(lead_ms), clean, silence(tail_ms))
    floor = noise(len(signal) * 1000 / RATE, level_dbfs - snr_db, kind, seed)[: len(signal)]
    return signal + floor, (int(lead_ms) + start, int(lead_ms) + end)


class Leaning:
    """A speech model that always gives the same P(machine)."""

    def __init__(self, p: float) -> None:
        self.p = p

    def p_machine(self, features) -> float:
        return self.p
