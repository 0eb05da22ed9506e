"""Asterisk ``app_amd`` as a streaming state machine: the classic baseline to compare against.

20 ms frames; a frame is silent when its mean absolute sample (16-bit scale) is under the threshold.
Words and silences are counted as in app_amd and the first rule that fires gives MACHINE, HUMAN or
NOTSURE with its cause.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ulaw import DECODE_TABLE, SAMPLE_RATE, SILENCE_BYTE

FRAME_SAMPLES = 160  # app_amd analyses 20 ms voice frames
FRAME_MS = 20  # frame length (ms)
SAMPLES_PER_MS = SAMPLE_RATE // 1000  # 8 samples per ms
TIMESTAMP_TOLERANCE_SAMPLES = SAMPLES_PER_MS  # integer-ms timestamps of odd-sized frames are off by < 1 ms

_ABS_TABLE = np.abs(DECODE_TABLE.astype(np.int32))


@dataclass(frozen=True, slots=True)
class AsteriskAMDParams:
    """app_amd parameters (ms unless stated), with Asterisk's defaults."""

    initial_silence: int = 2500
    greeting: int = 1500
    after_greeting_silence: int = 800
    total_analysis_time: int = 5000
    minimum_word_length: int = 100
    between_words_silence: int = 50
    maximum_number_of_words: int = 2  # one more word than this means MACHINE
    maximum_word_length: int = 5000
    silence_threshold: int = 256  # mean |x| below this (of 32767) is a silent frame


@dataclass(frozen=True, slots=True)
class AsteriskAMDResult:
    """AMDSTATUS, AMDCAUSE and when it was reached."""

    status: str  # MACHINE, HUMAN or NOTSURE
    cause: str  # INITIALSILENCE, HUMAN, LONGGREETING, MAXWORDLENGTH, MAXWORDS or TOOLONG
    detail: str  # app_amd's cause string with its numbers, e.g. "INITIALSILENCE-2500-2500"
    decision_ms: int


class AsteriskAMD:
    """Streaming app_amd: ``push(payload, timestamp_ms)`` and ``finish()`` like the Detector."""

    def __init__(self, params: AsteriskAMDParams | None = None) -> None:
        self.params = params or AsteriskAMDParams()
        self.result: AsteriskAMDResult | None = None
        self.dropped_frames = 0
        self._origin_ms: int | None = None
        self._samples = 0
        self._pending = bytearray()
        self._in_initial_silence = True
        self._in_greeting = False
        self._in_word = True  # app_amd starts in STATE_IN_WORD: a word needs silence before it
        self._silence_ms = 0  # consecutive silence
        self._consecutive_voice_ms = 0
        self._voice_ms = 0  # total voice, never reset
        self._words = 0
        self._total_ms = 0

    @property
    def audio_ms(self) -> int:
        return self._samples // SAMPLES_PER_MS

    def push(self, payload: bytes | bytearray | memoryview, timestamp_ms: int) -> AsteriskAMDResult | None:
        """Feed one payload; return the result when it is reached by this payload."""
        if self._origin_ms is None:
            self._origin_ms = timestamp_ms
        start = (timestamp_ms - self._origin_ms) * SAMPLES_PER_MS
        if start + TIMESTAMP_TOLERANCE_SAMPLES <= self._samples:
            self.dropped_frames += 1
            return None
        if self.result is not None:
            self._samples = max(self._samples, start) + len(payload)
            return None
        gap = start - self._samples
        if gap > TIMESTAMP_TOLERANCE_SAMPLES:
            limit = (self.params.total_analysis_time + FRAME_MS) * SAMPLES_PER_MS  # enough to reach TOOLONG
            self._pending += bytes([SILENCE_BYTE]) * min(gap, limit)
            self._samples += gap
        self._pending += bytes(payload)
        self._samples += len(payload)
        while len(self._pending) >= FRAME_SAMPLES and self.result is None:
            frame = np.frombuffer(bytes(self._pending[:FRAME_SAMPLES]), dtype=np.uint8)
            del self._pending[:FRAME_SAMPLES]
            self.result = self._frame(float(_ABS_TABLE[frame].mean()))
            if self.result is not None:
                return self.result
        return None

    def finish(self) -> AsteriskAMDResult:
        """End of stream: the result, or NOTSURE if the analysis had not finished."""
        if self.result is None:
            self.result = AsteriskAMDResult("NOTSURE", "TOOLONG", f"TOOLONG-{self._total_ms}", self._total_ms)
        return self.result

    def _frame(self, mean_abs: float) -> AsteriskAMDResult | None:
        p = self.params
        self._total_ms += FRAME_MS
        now = self._total_ms
        if self._total_ms >= p.total_analysis_time:
            return AsteriskAMDResult("NOTSURE", "TOOLONG", f"TOOLONG-{self._total_ms}", now)
        if mean_abs < p.silence_threshold:
            self._silence_ms += FRAME_MS
            if self._silence_ms >= p.between_words_silence:
                self._in_word = False
                self._consecutive_voice_ms = 0
            if self._in_initial_silence and self._silence_ms >= p.initial_silence:
                return AsteriskAMDResult("MACHINE", "INITIALSILENCE",
                                         f"INITIALSILENCE-{self._silence_ms}-{p.initial_silence}", now)
            if self._in_greeting and self._silence_ms >= p.after_greeting_silence:
                return AsteriskAMDResult("HUMAN", "HUMAN", f"HUMAN-{self._silence_ms}-{p.after_greeting_silence}",
                                         now)
            return None
        self._silence_ms = 0
        self._consecutive_voice_ms += FRAME_MS
        self._voice_ms += FRAME_MS
        if self._consecutive_voice_ms >= p.minimum_word_length and not self._in_word:
            self._words += 1
            self._in_word = True
        if self._consecutive_voice_ms >= p.maximum_word_length:
            return AsteriskAMDResult("MACHINE", "MAXWORDLENGTH", f"MAXWORDLENGTH-{self._consecutive_voice_ms}", now)
        if self._words > p.maximum_number_of_words:
            return AsteriskAMDResult("MACHINE", "MAXWORDS", f"MAXWORDS-{self._words}-{p.maximum_number_of_words}",
                                     now)
        if self._in_greeting and self._voice_ms >= p.greeting:
            return AsteriskAMDResult("MACHINE", "LONGGREETING", f"LONGGREETING-{self._voice_ms}-{p.greeting}", now)
        if self._consecutive_voice_ms >= p.minimum_word_length and not self._in_greeting:
            self._in_initial_silence = False
            self._in_greeting = True
        return None
