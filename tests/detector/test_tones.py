"""Tone detection: Goertzel bank, SIT, fax, beeps, call progress; speech must not look like tones."""

from __future__ import annotations

import numpy as np
import pytest

from detection.engine import tones, ulaw
from detection.engine.tones import GoertzelBank, ToneDetector, goertzel_power

from . import synth


def tone_events(x: np.ndarray) -> list[tones.ToneEvent]:
    """Run the tone detector over μ-law-coded audio; return every event."""
    samples = ulaw.decode_float(synth.encode(x))
    detector = ToneDetector()
    events = []
    for k in range(len(samples) // 160):
        events += detector.process(samples[k * 160 : (k + 1) * 160], (k + 1) * 20)
    return events + detector.flush()


def test_goertzel_bank_equals_the_recursion():
    rng = np.random.default_rng(1)
    block = rng.standard_normal(320).astype(np.float32) * 1000
    freqs = np.array([440.0, 913.8, 1370.6, 2100.0])
    bank = GoertzelBank(freqs, 320)
    energy = float(np.dot(block, block))
    shares = bank.shares(block, energy)
    for f, share in zip(freqs, shares, strict=True):
        expected = goertzel_power(block, f) * 2 / (320 * energy)
        assert share == pytest.approx(expected, rel=1e-3)


def test_a_pure_tone_holds_all_the_block_energy():
    x = synth.tone(1000, 40, -20)
    bank = GoertzelBank(np.array([1000.0, 1100.0]), 320)
    block = x.astype(np.float32)
    shares = bank.shares(block, float(np.dot(block, block)))
    assert shares[0] == pytest.approx(1.0, abs=0.02)
    assert shares[1] < 0.01


@pytest.mark.parametrize("code", ["IC", "VC", "RO", "NC", "ITU"])
@pytest.mark.parametrize("level, snr", [(-12, None), (-24, 30), (-32, 15)])
def test_sit_before_an_announcement_means_sit_invalid(code, level, snr):
    announcement = synth.at_level(synth.asterisk("ss-noservice"), level + 3)
    x = synth.join(synth.silence(300), synth.sit(code, level), synth.silence(150), announcement)
    if snr is not None:
        x = x + synth.noise(len(x) / 8, level - snr, seed=len(code))[: len(x)]
    for aggressiveness in (0.0, 1.0):
        det, _ = synth.stream(x, aggressiveness)
        assert det.decision.answered_by == "sit_invalid", det.decision
        assert det.decision.answered_by_twilio == "machine_start"
        first_two = sum(duration for _, duration in synth.SIT_PATTERNS[code][:2])
        assert 300 + first_two + 150 <= det.decision.decision_ms <= 300 + first_two + 400  # during the third tone
        assert det.decision.evidence[0]["type"] == "sit"
        assert det.decision.evidence[0]["label"] == code
        assert "SIT tones" in det.decision.reason


def test_three_unrelated_tones_are_not_sit():
    x = synth.join(synth.silence(300), synth.tone(700, 300), synth.tone(1200, 300), synth.tone(1776.7, 380),
                   synth.noise(5000, -60))
    assert not [e for e in tone_events(x) if e.kind == "sit"]


@pytest.mark.parametrize("start_ms", [1800, 2000, 2500])
@pytest.mark.parametrize("level, snr", [(-10, None), (-25, 25), (-35, 12)])
def test_fax_answer_tone_means_fax(start_ms, level, snr):
    x = synth.join(synth.noise(start_ms, level - 40, seed=2), synth.ced(3300, level), synth.silence(500))
    if snr is not None:
        x = x + synth.noise(len(x) / 8, level - snr, seed=3)[: len(x)]
    det, _ = synth.stream(x, 0.25)
    assert det.decision.answered_by == "fax", det.decision
    assert det.decision.answered_by_twilio == "fax"
    assert start_ms + 450 <= det.decision.decision_ms <= start_ms + 800
    assert "CED 2100 Hz" in det.decision.reason


def test_bell_answer_tone_means_fax():
    x = synth.join(synth.silence(1500), synth.tone(2225, 2000, -18))
    det, _ = synth.stream(x)
    assert det.decision.answered_by == "fax"
    assert "2225 Hz" in det.decision.reason


@pytest.mark.parametrize("level", [-12, -25, -35])
def test_calling_fax_tone_means_fax(level):
    x = synth.join(synth.noise(1000, level - 35), synth.cng(2, level))
    x = x + synth.noise(len(x) / 8, level - 30, seed=5)[: len(x)]
    det, _ = synth.stream(x)
    assert det.decision.answered_by == "fax", det.decision
    assert 1400 <= det.decision.decision_ms <= 1600


@pytest.mark.parametrize("freq", [440, 660, 850, 1000, 1400, 1950])
@pytest.mark.parametrize("level, duration", [(-15, 200), (-30, 500), (-22, 900)])
def test_beeps_are_found_with_their_frequency_and_time(freq, level, duration):
    x = synth.join(synth.silence(500), synth.tone(freq, duration, level), synth.silence(400))
    x = x + synth.noise(len(x) / 8, level - 30)[: len(x)]
    beeps = [e for e in tone_events(x) if e.kind == "beep"]
    assert len(beeps) == 1
    assert abs(beeps[0].freqs_hz[0] - freq) <= 10
    assert abs(beeps[0].start_ms - 500) <= 40
    assert abs(beeps[0].end_ms - (500 + duration)) <= 40


def test_ringback_is_not_a_beep_and_does_not_look_like_speech():
    cadence = synth.join(synth.tone((440, 480), 2000, -18), synth.noise(4000, -60))
    events = tone_events(synth.join(cadence, cadence))
    assert not [e for e in events if e.kind == "beep"]
    det, _ = synth.stream(synth.join(cadence, cadence))
    assert det.decision.answered_by == "unknown"
    assert "call-progress" in det.decision.reason
    assert not [e for e in det.decision.evidence if e["type"] == "speech"]


@pytest.mark.parametrize("start_hz, glide_hz", [(440, 10), (455, -12), (470, 8)])
def test_a_voice_harmonic_that_glides_is_not_a_beep(start_hz, glide_hz):
    # a sustained vowel's harmonic can hold most of a block's energy near 440 Hz for 200 ms, but its
    # frequency moves; an answering machine's beep is electronically steady
    t = np.arange(synth.ms(200)) / 8000
    phase = 2 * np.pi * (start_hz * t + glide_hz / 0.2 * t ** 2 / 2)
    vowel = np.sin(phase) * synth.db_to_amp(-15) * np.sqrt(2)
    x = synth.join(synth.silence(500), vowel, synth.silence(400))
    x = x + synth.noise(len(x) / 8, -45)[: len(x)]
    assert not [e for e in tone_events(x) if e.kind == "beep"]
    steady = synth.join(synth.silence(500), synth.tone(start_hz, 200, -15), synth.silence(400))
    assert [e.kind for e in tone_events(steady + synth.noise(len(x) / 8, -45)[: len(x)])] == ["beep"]


@pytest.mark.parametrize("pair", [(350, 440), (480, 620)])
def test_dial_and_busy_tones_are_not_beeps(pair):
    x = synth.join(synth.tone(pair, 500), synth.silence(500), synth.tone(pair, 500), synth.silence(500))
    assert not [e for e in tone_events(x) if e.kind == "beep"]


def test_recorded_speech_never_gives_tone_events():
    names = ["vm-intro", "vm-nobodyavail", "vm-isunavail", "vm-leavemsg", "ss-noservice", "hello-world",
             "demo-congrats", "conf-onlyperson", "queue-periodic-announce", "privacy-prompt", "vm-tmpexists",
             "vm-enter-num-to-call", "demo-echotest", "tt-monkeys", "vm-tempgreeting2"]
    events = []
    for name in names:
        events += [(name, e) for e in tone_events(synth.asterisk(name))]
    assert events == []


def test_synthetic_speech_never_gives_tone_events(greeting_clips, opener_clips):
    events = []
    for name, x in greeting_clips + opener_clips:
        events += [(name, e) for e in tone_events(synth.at_level(x, -18))]
    assert events == []
