"""The shipped speech model: loads in onnxruntime, gives probabilities, needs no training library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from detection.engine import Detector
from detection.engine.model import DEFAULT_MODEL, FEATURE_NAMES, SpeechModel, load_default

from . import synth

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_model_loads_and_gives_probabilities_that_sum_to_one():
    assert DEFAULT_MODEL.exists(), DEFAULT_MODEL
    model = SpeechModel(DEFAULT_MODEL)
    meta = json.loads(DEFAULT_MODEL.with_suffix(".json").read_text())
    assert tuple(meta["features"]) == FEATURE_NAMES
    rng = np.random.default_rng(0)
    rows = rng.uniform(0, 1, (50, len(FEATURE_NAMES))).astype(np.float32) * 4000
    probs = model.predict(rows)
    assert probs.shape == (50, 2)
    assert np.all(probs >= 0) and np.all(probs <= 1)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    assert DEFAULT_MODEL.stat().st_size < 4_000_000


def test_the_model_separates_a_reply_from_a_long_greeting(greeting_clips, hello_clips):
    """Streamed features: every "hello?" 900 ms into its pause scores below every greeting 3 s in."""
    from detection.lab.train import trace

    model = load_default()

    def p_machine_at(clip, seed: int, moment) -> float:
        x, bounds = synth.call(clip, level_dbfs=-22, snr_db=30, seed=seed)
        rows = trace(synth.encode(x))
        at = moment(*bounds)
        return model.p_machine(min(rows, key=lambda row: abs(row[0] - at))[1])

    replies = [p_machine_at(clip, i, lambda start, end: end + 900) for i, (_, clip) in enumerate(hello_clips)]
    greetings = [p_machine_at(clip, i, lambda start, end: start + 3000) for i, (_, clip) in enumerate(greeting_clips)]
    assert max(replies) < 0.05
    assert max(replies) < min(greetings)
    assert np.median(greetings) > 0.6


def test_the_engine_imports_no_training_or_recognizer_library():
    code = (
        "import sys\n"
        "from detection.engine import Detector, audio\n"
        "from detection.engine import recognizer, model\n"
        "d = Detector(0.5)\n"
        "for payload, ts in audio.frames(bytes([0xff]) * 8000 * 3): d.push(payload, ts)\n"
        "d.finish()\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'sklearn', 'torch', 'skl2onnx', 'onnx', 'faster_whisper', 'ctranslate2', 'django'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("aggressiveness", [0.25, 0.5])
def test_the_detector_falls_back_to_the_rules_without_a_model(hello_clips, aggressiveness):
    data = synth.encode(synth.call(dict(hello_clips)["espeak en-us"], level_dbfs=-20, snr_db=35)[0])
    decisions = []
    for model in ("default", None):
        det = Detector(aggressiveness, model=model)
        for payload, ts in synth.audio.frames(data):
            det.push(payload, ts)
        decisions.append(det.finish())
        assert (det.p_machine is None) == (model is None)
    assert [d.answered_by for d in decisions] == ["human", "human"]
