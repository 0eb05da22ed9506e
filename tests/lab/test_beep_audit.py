"""The beep audit tells a steady beep from a gliding vowel harmonic of the same shape."""

import numpy as np

from detection.engine import tones, ulaw
from detection.lab.beep_audit import clip_runs
from tests.detector import synth


def _runs(x: np.ndarray) -> list[tones.ToneRun]:
    return clip_runs(ulaw.decode_float(synth.encode(x + synth.noise(len(x) / 8, -45)[: len(x)])))


def test_a_beep_is_steady_and_a_gliding_harmonic_of_the_same_shape_is_not():
    t = np.arange(synth.ms(200)) / 8000
    glide = np.sin(2 * np.pi * (450 * t + 50 * t ** 2)) * synth.db_to_amp(-15) * np.sqrt(2)  # 450 → 470 Hz
    steady = synth.tone(450, 200, -15)
    for x, steady_expected in ((steady, True), (glide, False)):
        runs = _runs(synth.join(synth.silence(500), x, synth.silence(400)))
        assert len(runs) == 1 and tones.beep_shaped(runs[0])
        assert (runs[0].drift_hz <= tones.BEEP_MAX_DRIFT_HZ) is steady_expected, runs[0].drift_hz
