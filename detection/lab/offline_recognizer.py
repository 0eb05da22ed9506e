"""Offline recognizer sessions for evaluation: one transcription per clip and request time, cached."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from detection.engine.recognizer import OfflineSession, Recognizer


@lru_cache(maxsize=4)
def _recognizer(model_dir: str | None) -> Recognizer:
    return Recognizer(model_dir, workers=1)


def offline_factory(model_dir: str | None = None, cache_dir: str | None = None, refuse: bool = False):
    """A function clip → OfflineSession; transcripts are cached under ``cache_dir`` by clip and time."""
    recognizer = None if refuse else _recognizer(model_dir)

    def make(clip) -> OfflineSession:
        cache = Path(cache_dir) / clip.id if cache_dir else None
        transcribe = recognizer.transcribe if recognizer is not None else None
        return OfflineSession(transcribe, cache, refuse=refuse)

    return make
