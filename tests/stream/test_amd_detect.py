"""``manage.py amd_detect``: a file through the streaming detector, the decision printed as JSON."""

import json
import wave
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from detection.engine import audio
from detection.engine.recognizer import OfflineSession
from detection.management.commands import amd_detect

from .conftest import InstantRecognizer, direct, encode, espeak, frames, greeting, silence, tone

SPEC_DECISION_FIELDS = {"answered_by", "answered_by_twilio", "confidence", "decision_ms", "reason", "evidence"}


def write_wav(path, x: np.ndarray, rate: int) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.clip(np.rint(x), -32768, 32767).astype("<i2").tobytes())


def at_16khz(x: np.ndarray) -> np.ndarray:
    """8 kHz speech upsampled to 16 kHz by linear interpolation (independent of the package's resampler)."""
    t16 = np.arange(len(x) * 2) / 16000
    return np.interp(t16, np.arange(len(x)) / 8000, x)


def run(*args) -> list[dict]:
    out = StringIO()
    call_command("amd_detect", *[str(arg) for arg in args], stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_it_prints_the_decision_for_a_16khz_wav(tmp_path):
    speech = np.concatenate([silence(200), espeak("Hello? Who is this?"), silence(1500)])
    path = tmp_path / "call.wav"
    write_wav(path, at_16khz(speech), 16000)
    [event] = run(path)
    assert event["event"] == "amd" and SPEC_DECISION_FIELDS <= set(event)
    expected, _end, detector = direct(frames(audio.load_ulaw(path)))
    assert {name: event[name] for name in SPEC_DECISION_FIELDS} == expected.to_dict()
    assert event["audio_ms"] == detector.audio_ms == pytest.approx(len(speech) / 8, abs=2)


def test_it_reads_silence_at_16khz_as_silence(tmp_path):
    path = tmp_path / "quiet.wav"
    write_wav(path, np.zeros(16000 * 3), 16000)
    [event] = run(path)
    assert event["answered_by"] == "silence" and event["answered_by_twilio"] == "unknown"


def test_it_prints_the_decision_and_message_end_for_raw_mulaw(tmp_path):
    data = encode(np.concatenate([greeting(), tone(1000, 500), silence(1500)]))
    path = tmp_path / "greeting.ulaw"
    path.write_bytes(data)
    amd, end = run(path, "--detect-message-end", "--aggressiveness", "0.4")
    decision, message_end, _detector = direct(frames(data), aggressiveness=0.4, detect_message_end=True)
    assert amd == {"event": "amd", **decision.to_dict(), "audio_ms": len(data) // 8}
    assert end == {"event": "amd.message_end", **message_end.to_dict()}


def test_the_aggressiveness_reaches_the_detector(tmp_path):
    data = encode(greeting())
    path = tmp_path / "greeting.ulaw"
    path.write_bytes(data)
    decided_at = []
    for aggressiveness in ("0", "1"):
        [event] = run(path, "--aggressiveness", aggressiveness)
        expected, _end, _detector = direct(frames(data), aggressiveness=float(aggressiveness))
        assert event["decision_ms"] == expected.decision_ms and event["reason"] == expected.reason
        decided_at.append(event["decision_ms"])
    assert decided_at[1] < decided_at[0]  # machine-aggressive decides a greeting sooner


def test_it_refuses_bad_arguments(tmp_path):
    path = tmp_path / "x.ulaw"
    path.write_bytes(bytes(800))
    with pytest.raises(CommandError, match="aggressiveness"):
        run(path, "--aggressiveness", "1.5")
    with pytest.raises(CommandError, match="No such file"):
        run(tmp_path / "missing.wav")
    not_wav = tmp_path / "notes.wav"
    not_wav.write_text("not audio")
    with pytest.raises(CommandError, match="Cannot read"):
        run(not_wav)


def test_the_recognizers_words_count_as_they_would_live(tmp_path, monkeypatch, settings):
    settings.AMD_RECOGNIZER = True
    instant = InstantRecognizer()
    monkeypatch.setattr(amd_detect, "recognizer", lambda: instant)
    data = encode(greeting())
    path = tmp_path / "greeting.ulaw"
    path.write_bytes(data)
    [event] = run(path)
    expected, _end, _detector = direct(frames(data), recognizer=OfflineSession(instant.transcribe))
    assert {name: event[name] for name in SPEC_DECISION_FIELDS} == expected.to_dict()
    assert any(item["type"] == "phrase" for item in event["evidence"]) and instant.requests == 2

    [plain] = run(path, "--no-recognizer")
    assert not any(item["type"] == "phrase" for item in plain["evidence"]) and instant.requests == 2
