"""Voice-activity detection for 8 kHz telephone audio, 20 ms frames, with an adaptive noise floor."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from .ulaw import SAMPLE_RATE

FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_MS = 20  # analysis frame length (ms)
FULL_SCALE = 32768.0  # 16-bit full scale, the 0 dBFS reference
SPEECH_BAND_HZ = (200.0, 3400.0)  # voice band analysed (from the second harmonic of low voices up)
VOICED_BAND_HZ = (200.0, 1000.0)  # where voiced speech keeps most of its energy while hiss keeps a quarter
FLOOR_DBFS = -100.0  # level given to digital silence (keeps logs finite)

VAD_MIN_LEVEL_DBFS = -55.0  # quieter frames are never speech, whatever the noise floor
VAD_ONSET_SNR_DB = 7.0  # band level above the noise floor needed to start speech
VAD_KEEP_SNR_DB = 4.0  # band level above the noise floor that keeps speech going
VAD_MIN_BAND_SHARE = 0.25  # share of frame energy inside the voice band (rejects hum and rumble)
VAD_NOISE_FLATNESS = 0.40  # spectral flatness at or above which a frame is noise-like (hiss, fricatives)
VAD_NOISE_ZCR = 0.38  # zero-crossing rate at or above which a frame is noise-like
VAD_ONSET_FRAMES = 2  # consecutive voiced-like frames that open a speech segment
VAD_HANGOVER_MS = 160  # non-speech inside a segment shorter than this does not split it
VAD_MIN_SEGMENT_MS = 80  # segments shorter than this are clicks or bursts, not speech
VAD_MAX_NOISELIKE_MS = 200  # noise-like frames continue a segment for at most this long

STATIONARY_FRAMES = 12  # frames (240 ms) looked at to recognise steady noise
STATIONARY_RANGE_DB = 6.0  # steady noise keeps its level within this range (syllables swing 10–20 dB)
STATIONARY_MIN_FLATNESS = 0.3  # and keeps a noise-like spectrum on average (vowels are far peakier)

NOISE_FALL_RATE = 0.4  # per-frame approach of the floor to a quieter frame (fast: pauses are short)
NOISE_RISE_RATE = 0.1  # per-frame approach to a louder non-speech frame (about 0.2 s time constant)
NOISE_RISE_NOISELIKE_RATE = 0.03  # slower rise inside speech on noise-like or quieter frames (fricatives, gaps)
NOISE_CREEP_DB = 0.02  # rise per speech frame, so a floor that fell too low cannot lock speech on


@dataclass(frozen=True, slots=True)
class FrameFeatures:
    """Per-frame measurements."""

    level_dbfs: float  # voice-band level
    voiced_dbfs: float  # level in the low (voiced) band
    band_share: float  # energy share in the voice band
    flatness: float  # spectral flatness in the voice band (1 = white)
    zcr: float  # zero crossings per sample
    noise_dbfs: float  # voice-band noise floor before this frame
    voiced_noise_dbfs: float  # low-band noise floor before this frame

    @property
    def snr_db(self) -> float:
        """Level above the noise floor, in whichever band stands out more."""
        return max(self.level_dbfs - self.noise_dbfs, self.voiced_dbfs - self.voiced_noise_dbfs)

    @property
    def noise_like(self) -> bool:
        return self.flatness >= VAD_NOISE_FLATNESS or self.zcr >= VAD_NOISE_ZCR


class FrameAnalyzer:
    """Spectral features of 20 ms frames."""

    def __init__(self) -> None:
        self._window = np.hanning(FRAME_SAMPLES).astype(np.float32)
        freqs = np.fft.rfftfreq(FRAME_SAMPLES, 1.0 / SAMPLE_RATE)
        self._lo, self._hi = self._bins(freqs, SPEECH_BAND_HZ)
        self._voiced_lo, self._voiced_hi = self._bins(freqs, VOICED_BAND_HZ)
        # Mean square of a windowed frame relates to the periodogram by this factor (Parseval).
        self._scale = 2.0 / (FRAME_SAMPLES * float(np.sum(self._window**2)) * FULL_SCALE**2)

    @staticmethod
    def _bins(freqs: np.ndarray, band: tuple[float, float]) -> tuple[int, int]:
        inside = np.nonzero((freqs >= band[0]) & (freqs <= band[1]))[0]
        return int(inside[0]), int(inside[-1]) + 1

    def _dbfs(self, energy: float) -> float:
        return max(10.0 * float(np.log10(energy * self._scale + 1e-10)), FLOOR_DBFS)

    def measure(self, frame: np.ndarray) -> tuple[float, float, float, float, float]:
        """Return (voice-band dBFS, low-band dBFS, band share, flatness, zero-crossing rate)."""
        power = np.abs(np.fft.rfft(frame * self._window)) ** 2
        total = float(power.sum())
        band = power[self._lo : self._hi]
        band_energy = float(band.sum())
        if band_energy <= 0.0:
            return FLOOR_DBFS, FLOOR_DBFS, 0.0, 1.0, 0.0
        voiced_energy = float(power[self._voiced_lo : self._voiced_hi].sum())
        flatness = float(np.exp(np.mean(np.log(band + 1e-3))) / (band_energy / len(band)))
        signs = np.signbit(frame)
        zcr = float(np.count_nonzero(signs[1:] != signs[:-1])) / (FRAME_SAMPLES - 1)
        return self._dbfs(band_energy), self._dbfs(voiced_energy), band_energy / total, flatness, zcr


class VoiceActivityDetector:
    """Streaming VAD producing speech segments in ms.

    Each frame is compared with an adaptive noise floor. Speech starts only on voiced-like frames (tonal
    spectrum, few zero crossings) well above the floor; noise-like frames (hiss, fricatives) may only
    continue it. Frames the tone detector claims are never speech.
    """

    def __init__(self) -> None:
        self._analyzer = FrameAnalyzer()
        self.noise_dbfs: float | None = None  # voice-band noise floor
        self.voiced_noise_dbfs: float | None = None  # low-band noise floor
        self.closed: list[tuple[int, int]] = []  # finished segments (start_ms, end_ms)
        self._open_start: int | None = None  # start of the segment in progress
        self._open_last: int = 0  # end of its last speech frame
        self._pending_start: int | None = None  # start of voiced frames not yet enough to open
        self._pending_count = 0
        self._noiselike_ms = 0  # consecutive noise-like ms continuing the open segment
        self.last_features: FrameFeatures | None = None
        self._recent: deque[tuple[float, float, float]] = deque(maxlen=STATIONARY_FRAMES)  # level, voiced, flatness
        self.speech_frames = 0  # frames judged speech (before segment filtering)
        self.last_voice_ms: int | None = None  # end of the latest frame judged speech, confirmed or not

    # -- segments ----------------------------------------------------------------------------------
    @property
    def segments(self) -> list[tuple[int, int]]:
        """Speech segments so far: closed ones plus the open one once it is long enough."""
        if self._open_start is not None and self._open_last - self._open_start >= VAD_MIN_SEGMENT_MS:
            return [*self.closed, (self._open_start, self._open_last)]
        return list(self.closed)

    @property
    def in_speech(self) -> bool:
        return self._open_start is not None

    @property
    def last_speech_end_ms(self) -> int | None:
        segs = self.segments
        return segs[-1][1] if segs else None

    # -- per frame ---------------------------------------------------------------------------------
    def process(self, frame: np.ndarray, end_ms: int, tone: bool = False) -> bool:
        """Classify one frame ending at ``end_ms``; return True if it is speech."""
        level, voiced, band_share, flatness, zcr = self._analyzer.measure(frame)
        if self.noise_dbfs is None:
            self.noise_dbfs, self.voiced_noise_dbfs = level, voiced
        feats = FrameFeatures(level, voiced, band_share, flatness, zcr, self.noise_dbfs, self.voiced_noise_dbfs)
        self.last_features = feats
        snr = feats.snr_db
        audible = level >= VAD_MIN_LEVEL_DBFS and band_share >= VAD_MIN_BAND_SHARE and not tone
        voiced_onset = audible and snr >= VAD_ONSET_SNR_DB and not feats.noise_like
        keep = audible and snr >= VAD_KEEP_SNR_DB
        start_ms = end_ms - FRAME_MS

        speech = False
        if self._open_start is None:
            if voiced_onset:
                if self._pending_start is None:
                    self._pending_start = start_ms
                self._pending_count += 1
                if self._pending_count >= VAD_ONSET_FRAMES:
                    self._open_start, self._open_last = self._pending_start, end_ms
                    self._pending_start, self._pending_count, self._noiselike_ms = None, 0, 0
                speech = True
            else:
                self._pending_start, self._pending_count = None, 0
        elif keep:
            if feats.noise_like:
                self._noiselike_ms += FRAME_MS
                speech = self._noiselike_ms <= VAD_MAX_NOISELIKE_MS
            else:
                self._noiselike_ms = 0
                speech = True
            if speech:
                self._open_last = end_ms
        if self._open_start is not None and not speech and end_ms - self._open_last >= VAD_HANGOVER_MS:
            self._close()

        if tone:
            self._recent.clear()
        else:
            self.noise_dbfs = self._track_noise(self.noise_dbfs, level, speech, feats.noise_like)
            self.voiced_noise_dbfs = self._track_noise(self.voiced_noise_dbfs, voiced, speech, feats.noise_like)
            self._recent.append((level, voiced, flatness))
            if self._steady_noise():
                speech = self._adopt_steady_noise(end_ms) and speech
        self.speech_frames += speech
        if speech:
            self.last_voice_ms = end_ms
        return speech

    def _steady_noise(self) -> bool:
        """True when the recent frames look like steady noise louder than the floor."""
        if len(self._recent) < STATIONARY_FRAMES:
            return False
        levels = [item[0] for item in self._recent]
        if min(levels) <= self.noise_dbfs + VAD_KEEP_SNR_DB:
            return False
        flatness = sum(item[2] for item in self._recent) / len(self._recent)
        return max(levels) - min(levels) <= STATIONARY_RANGE_DB and flatness >= STATIONARY_MIN_FLATNESS

    def _adopt_steady_noise(self, end_ms: int) -> bool:
        """Raise the floors to steady noise and take back speech that began inside it.

        Returns whether the current frame may still count as speech.
        """
        self.noise_dbfs = min(item[0] for item in self._recent)
        self.voiced_noise_dbfs = min(item[1] for item in self._recent)
        window_start = end_ms - FRAME_MS * len(self._recent)
        if self._open_start is not None and self._open_start >= window_start:
            self.retract(window_start)
            return False
        return True

    def _close(self) -> None:
        if self._open_start is not None and self._open_last - self._open_start >= VAD_MIN_SEGMENT_MS:
            self.closed.append((self._open_start, self._open_last))
        self._open_start = None
        self._noiselike_ms = 0

    def _track_noise(self, noise: float, level: float, speech: bool, noise_like: bool) -> float:
        if level < noise:
            noise += NOISE_FALL_RATE * (level - noise)
        elif not speech and self._open_start is None:
            noise += NOISE_RISE_RATE * (level - noise)
        elif noise_like or not speech:
            noise += NOISE_RISE_NOISELIKE_RATE * (level - noise)
        else:
            noise += NOISE_CREEP_DB
        return noise

    def retract(self, from_ms: int) -> None:
        """Declare everything from ``from_ms`` on not speech (a tone was confirmed there)."""
        self._pending_start, self._pending_count = None, 0
        if self.last_voice_ms is not None and self.last_voice_ms > from_ms:
            self.last_voice_ms = from_ms
        if self._open_start is not None:
            if self._open_start >= from_ms:
                self._open_start = None
                self._noiselike_ms = 0
            else:
                self._open_last = min(self._open_last, from_ms)
        kept: list[tuple[int, int]] = []
        for start, end in self.closed:
            if start >= from_ms:
                continue
            kept.append((start, min(end, from_ms)))
        self.closed = kept

    def finish(self) -> None:
        """Close the open segment at the end of the stream."""
        self._close()
