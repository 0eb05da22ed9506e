"""Timing features of speech: onset, utterances, pauses, continuous and total speech."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

Segment = tuple[int, int]


@dataclass(frozen=True, slots=True)
class SpeechTiming:
    """How speech has been laid out in time up to ``now_ms``.

    Utterances are speech segments joined across pauses shorter than ``pause_ms``.
    """

    now_ms: int
    pause_ms: int
    segments: tuple[Segment, ...]
    utterances: tuple[Segment, ...]
    voice_until_ms: int | None = None  # end of the latest voiced frame, even one not yet part of a segment

    @property
    def has_speech(self) -> bool:
        return bool(self.segments)

    @property
    def onset_ms(self) -> int | None:
        """Start of the first speech."""
        return self.segments[0][0] if self.segments else None

    @property
    def last_end_ms(self) -> int | None:
        """End of the latest speech."""
        return self.segments[-1][1] if self.segments else None

    @property
    def total_speech_ms(self) -> int:
        return sum(end - start for start, end in self.segments)

    @property
    def first_utterance_ms(self) -> int:
        """Length of the first utterance (0 without speech)."""
        if not self.utterances:
            return 0
        start, end = self.utterances[0]
        return end - start

    @property
    def utterance_count(self) -> int:
        return len(self.utterances)

    @property
    def continuous_ms(self) -> int:
        """Length of the latest utterance (speech with no pause of ``pause_ms`` or more)."""
        if not self.utterances:
            return 0
        start, end = self.utterances[-1]
        return end - start

    @property
    def longest_pause_ms(self) -> int:
        """Longest gap between consecutive speech segments."""
        gaps = [b[0] - a[1] for a, b in zip(self.segments, self.segments[1:], strict=False)]
        return max(gaps, default=0)

    @property
    def silence_ms(self) -> int:
        """Silence since the latest voice, or since the start of the stream without speech."""
        last = max(self.last_end_ms or 0, self.voice_until_ms or 0)
        return self.now_ms - last


def join_segments(segments: Sequence[Segment], pause_ms: int) -> tuple[Segment, ...]:
    """Join segments separated by less than ``pause_ms``."""
    joined: list[Segment] = []
    for start, end in segments:
        if joined and start - joined[-1][1] < pause_ms:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return tuple(joined)


def speech_timing(segments: Sequence[Segment], now_ms: int, pause_ms: int,
                  voice_until_ms: int | None = None) -> SpeechTiming:
    """Timing features of ``segments`` (sorted, non-overlapping) as seen at ``now_ms``.

    ``voice_until_ms`` is the end of the latest voiced frame; silence is counted from it too, so a word
    that has begun but is not yet long enough to be a segment already interrupts the silence.
    """
    segs = tuple(segments)
    return SpeechTiming(now_ms, pause_ms, segs, join_segments(segs, pause_ms), voice_until_ms)
