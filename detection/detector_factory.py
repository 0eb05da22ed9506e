"""Builds a call's Detector from the settings, with the shared speech recognizer when it is enabled."""

from __future__ import annotations

import logging

from django.conf import settings

from detection.engine import Detector
from detection.engine.recognizer import Recognizer, shared_recognizer

log = logging.getLogger(__name__)
_unavailable_logged = False


def recognizer() -> Recognizer | None:
    """The process's recognizer, or None when it is off or cannot be set up."""
    global _unavailable_logged
    if not settings.AMD_RECOGNIZER:
        return None
    try:
        return shared_recognizer(settings.AMD_RECOGNIZER_MODEL_DIR or None, settings.AMD_RECOGNIZER_WORKERS)
    except (ValueError, OSError) as exc:
        if not _unavailable_logged:
            log.warning("speech recognizer unavailable, deciding without words: %s", exc)
            _unavailable_logged = True
        return None


def make_detector(aggressiveness: float, detect_message_end: bool = False) -> Detector:
    """A Detector for one call."""
    shared = recognizer()
    return Detector(aggressiveness, detect_message_end, recognizer=shared.session() if shared else None)
