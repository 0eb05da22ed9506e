"""The Asterisk app_amd baseline."""

from __future__ import annotations

import pytest

from detection.engine import AsteriskAMD, AsteriskAMDParams, audio

from . import synth


def run(x, frame_bytes: int = 160, params: AsteriskAMDParams | None = None):
    amd = AsteriskAMD(params)
    returned = []
    for payload, ts in audio.frames(synth.encode(x), frame_bytes):
        result = amd.push(payload, ts)
        if result is not None:
            returned.append(result)
    final = amd.finish()
    assert returned in ([], [final])
    return final


@pytest.mark.parametrize("level", [-70, -55])
def test_initial_silence_is_machine(level):
    result = run(synth.noise(4000, level))
    assert (result.status, result.cause) == ("MACHINE", "INITIALSILENCE")
    assert result.decision_ms == 2500
    assert result.detail == "INITIALSILENCE-2500-2500"


def test_a_short_hello_is_human(hello_clips):
    for name, clip in hello_clips:
        x, (_, end) = synth.call(clip, lead_ms=600, tail_ms=2000, level_dbfs=-18, snr_db=40)
        result = run(x)
        assert (result.status, result.cause) == ("HUMAN", "HUMAN"), (name, result)
        assert 0 < result.decision_ms - end <= 1000, (name, result, end)


def test_a_long_greeting_is_machine(greeting_clips):
    for name, clip in greeting_clips:
        x, _ = synth.call(clip, lead_ms=500, level_dbfs=-18, snr_db=40)
        result = run(x)
        assert result.status == "MACHINE", (name, result)
        assert result.cause in ("LONGGREETING", "MAXWORDS", "MAXWORDLENGTH"), result


def test_sound_from_the_first_frame_is_a_long_greeting_without_words():
    result = run(synth.noise(6000, -20, "white"))  # app_amd starts "in a word": the sound is no word
    assert (result.status, result.detail, result.decision_ms) == ("MACHINE", "LONGGREETING-1500-1500", 1500)


def test_blips_that_are_never_words_run_out_the_clock():
    blip = synth.tone(500, 60, -15)
    x = synth.join(*([synth.silence(240), blip] * 25))
    result = run(x)
    assert (result.status, result.cause, result.decision_ms) == ("NOTSURE", "TOOLONG", 5000)


def test_a_word_needs_the_minimum_length():
    blip = synth.tone(500, 60, -15)  # shorter than minimumWordLength
    x = synth.join(synth.silence(1000), blip, synth.silence(3000))
    result = run(x)
    assert result.cause == "INITIALSILENCE"
    assert result.decision_ms == 1000 + 60 + 2500


def test_parameters_change_the_outcome(hello_clips):
    x, _ = synth.call(dict(hello_clips)["espeak en-us"], lead_ms=600, tail_ms=2000, level_dbfs=-18, snr_db=40)
    result = run(x, params=AsteriskAMDParams(greeting=200))
    assert (result.status, result.cause) == ("MACHINE", "LONGGREETING")


@pytest.mark.parametrize("frame_bytes", [37, 800])
def test_frame_size_does_not_matter(greeting_clips, frame_bytes):
    x, _ = synth.call(dict(greeting_clips)["espeak en-us #0"], lead_ms=500, level_dbfs=-18, snr_db=40)
    assert run(x, frame_bytes) == run(x)


def test_gaps_are_silence_and_late_frames_are_dropped():
    amd = AsteriskAMD()
    assert amd.push(b"\x00" * 160, 0) is None  # loud
    result = amd.push(b"\x00" * 160, 2600)  # 2.58 s gap of silence
    assert result is None or result.cause == "INITIALSILENCE"
    assert amd.push(b"\x00" * 160, 100) is None
    assert amd.dropped_frames == 1
    assert amd.finish().cause == "INITIALSILENCE"
