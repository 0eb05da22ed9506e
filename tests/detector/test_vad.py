"""Voice activity: line noise is never speech, tones are never speech, speech is found where it is."""

from __future__ import annotations

import pytest

from . import synth


@pytest.mark.parametrize("kind", ["line", "white", "pink", "hum"])
@pytest.mark.parametrize("level", [-65, -50, -40, -30])
def test_line_noise_alone_is_silence(kind, level):
    det, results = synth.stream(synth.noise(6000, level, kind, seed=-level), 0.25)
    assert det.speech_segments == []
    assert det.decision.answered_by == "silence"
    assert det.decision.decision_ms == 5000
    assert det.decision.reason == "no speech in 5.0s of audio"
    assert results == [det.decision]


@pytest.mark.parametrize("kind, level", [("line", -40), ("white", -35), ("pink", -35)])
def test_noise_that_starts_after_digital_silence_is_not_speech(kind, level):
    x = synth.join(synth.silence(1000), synth.noise(5000, level, kind, seed=7))
    det, _ = synth.stream(x)
    assert det.speech_segments == []
    assert det.decision.answered_by == "silence"


def test_clicks_and_crackle_are_not_speech():
    x = synth.noise(6000, -55, seed=4)
    for k, start in enumerate(range(400, 5800, 350)):
        n = synth.ms(start)
        x[n : n + synth.ms(4 + k % 3 * 4)] += synth.db_to_amp(-12) * (-1) ** k
    det, _ = synth.stream(x)
    assert det.speech_segments == []
    assert det.decision.answered_by == "silence"


@pytest.mark.parametrize("signal", ["beep", "long tone", "sit", "ced", "ringback"])
def test_steady_tones_are_not_speech(signal):
    x = {
        "beep": synth.tone(1000, 500, -15),
        "long tone": synth.tone(1400, 2500, -12),
        "sit": synth.sit("NC", -15),
        "ced": synth.ced(3000, -15),
        "ringback": synth.tone((440, 480), 2000, -15),
    }[signal]
    x = synth.join(synth.silence(500), x, synth.silence(3000))
    x = x + synth.noise(len(x) / 8, -60)[: len(x)]
    det, _ = synth.stream(x, finish=False)
    assert det.speech_segments == []


@pytest.mark.parametrize("snr", [40, 25, 15])
def test_speech_segments_follow_the_speech(greeting_clips, hello_clips, snr):
    for name, clip in greeting_clips + hello_clips:
        x, (start, end) = synth.call(clip, lead_ms=700, tail_ms=1500, level_dbfs=-22, snr_db=snr, seed=len(name))
        det, _ = synth.stream(x, 0.25, finish=False)
        segments = det.speech_segments
        assert segments, name
        assert abs(segments[0][0] - start) <= 80, (name, segments[0], start)
        if end - start < 1500:  # short clips are heard whole before the decision
            assert abs(segments[-1][1] - end) <= 150, (name, segments[-1], end)
            heard = sum(e - s for s, e in segments)
            assert heard >= 0.6 * (end - start), (name, segments, start, end)


def test_speech_is_found_at_low_and_high_levels(hello_clips):
    for name, clip in hello_clips:
        for level in (-40, -30, -10):
            x, (start, end) = synth.call(clip, level_dbfs=level, snr_db=30, seed=3)
            det, _ = synth.stream(x, finish=False)
            assert det.speech_segments, (name, level)
            assert det.decision.answered_by == "human", (name, level, det.decision)
