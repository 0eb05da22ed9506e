"""amd_eval on a tiny generated corpus writes every figure, the per-clip runs and the curve."""

from __future__ import annotations

import json
import shutil

import pytest
from django.core.management import CommandError, call_command

from detection.lab import corpus, evaluate

METRICS = {
    "accuracy", "twilio_agreement", "people_called_machine", "machine_recall", "unknown_rate",
    "human_decision_ms_after_first_utterance", "machine_decision_ms_after_onset", "cpu_ms_per_call",
    "recognizer_cpu_ms_per_call", "recognizer_share_of_calls", "beep_within_100ms", "sit_invalid_recall",
    "fax_recall", "silence_on_speech", "confusion", "beep_within_100ms_when_machine", "accuracy_by_source",
    "accuracy_by_real_recording",
}


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    if not (shutil.which("espeak-ng") and shutil.which("flite") and corpus.ASTERISK_DIR.exists()):
        pytest.skip("espeak-ng, flite and asterisk-core-sounds-en-wav are needed for the corpus")
    folder = tmp_path_factory.mktemp("corpus")
    list(corpus.generate(folder, count=24, seed=5, test_share=0.5))
    return folder


def test_amd_eval_writes_figures_and_curve(tiny_corpus, tmp_path, capsys):
    out = tmp_path / "eval"
    call_command("amd_eval", str(tiny_corpus), "--aggressiveness", "0.25,0.75", "--out", str(out), "--workers", "1")
    figures = json.loads((out / "figures.json").read_text())
    systems = figures["systems"]
    assert set(systems) == {"asterisk_app_amd", "detector@0.25", "detector@0.75"}
    tested = [c for c in corpus.load_labels(tiny_corpus, "test")]
    for name, fig in systems.items():
        assert METRICS <= set(fig), name
        assert fig["clips"] == len(tested)
        assert sum(sum(row.values()) for row in fig["confusion"].values()) == len(tested)
        assert sum(v["clips"] for v in fig["accuracy_by_source"].values()) == len(tested)
    assert (out / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert {r["clip"] for r in runs} == {c.id for c in tested}
    printed = capsys.readouterr().out
    assert "asterisk_app_amd" in printed and "detector@0.75" in printed
    assert printed.count("accuracy by source: ") == 3


def test_amd_eval_rejects_bad_aggressiveness(tiny_corpus):
    with pytest.raises(CommandError):
        call_command("amd_eval", str(tiny_corpus), "--aggressiveness", "0.5,2")


def test_figures_count_people_called_machine_and_machine_recall():
    clip = lambda i, truth, **kw: {"id": f"c{i}", "answered_by": truth, **kw}  # noqa: E731
    run = lambda i, truth, said, ms: evaluate.ClipRun(f"c{i}", truth, said, ms, "", 1.0)  # noqa: E731
    results = [
        evaluate.ClipResult(clip(0, "human", first_utterance_end_ms=900), {"s": run(0, "human", "voicemail", 1500)}),
        evaluate.ClipResult(clip(1, "human_gatekeeper", first_utterance_end_ms=900),
                            {"s": run(1, "human_gatekeeper", "human", 1200)}),
        evaluate.ClipResult(clip(2, "screening", onset_ms=300), {"s": run(2, "screening", "screening", 2300)}),
        evaluate.ClipResult(clip(3, "ivr", onset_ms=300), {"s": run(3, "ivr", "human", 2300)}),
        evaluate.ClipResult(clip(4, "voicemail", onset_ms=500), {"s": run(4, "voicemail", "silence", 5000)}),
    ]
    fig = evaluate.figures_for(results, "s")
    assert fig["people_called_machine"] == 0.5
    assert fig["machine_recall"] == pytest.approx(1 / 3, abs=1e-3)
    assert fig["accuracy"] == 0.2
    assert fig["twilio_agreement"] == 0.4  # gatekeeper→human and screening→screening
    assert fig["human_decision_ms_after_first_utterance"]["p50"] == 300
    assert fig["machine_decision_ms_after_onset"]["p50"] == 2000
    assert fig["silence_on_speech"] == 1


def test_figures_give_accuracy_by_audio_source_and_by_real_recording():
    def result(i, truth, said, source, text):
        clip = {"id": f"c{i}", "answered_by": truth, "source": source, "text": text}
        return evaluate.ClipResult(clip, {"s": evaluate.ClipRun(f"c{i}", truth, said, 1000, "", 1.0)})

    results = [
        result(0, "voicemail", "voicemail", "espeak", "Hi, you've reached Sam."),
        result(1, "voicemail", "human", "espeak", "This is Tom. Leave a message."),
        result(2, "screening", "voicemail", "asterisk", "privacy-prompt"),
        result(3, "screening", "screening", "asterisk", "priv-recordintro"),
        result(4, "screening", "voicemail", "asterisk", "privacy-prompt"),
        result(5, "fax", "fax", "tone", "CED"),
    ]
    fig = evaluate.figures_for(results, "s")
    assert fig["accuracy_by_source"] == {"asterisk": {"clips": 3, "right": 1, "accuracy": 0.3333},
                                         "espeak": {"clips": 2, "right": 1, "accuracy": 0.5},
                                         "tone": {"clips": 1, "right": 1, "accuracy": 1.0}}
    # synthetic voices are not listed by text; each real recording is, with its class
    assert fig["accuracy_by_real_recording"] == {
        "screening: priv-recordintro": {"clips": 1, "right": 1, "accuracy": 1.0},
        "screening: privacy-prompt": {"clips": 2, "right": 0, "accuracy": 0.0},
    }
    text = evaluate.source_text(fig)
    assert "asterisk 33.3 % of 3" in text and "espeak 50.0 % of 2" in text
    assert "screening: privacy-prompt: 0/2" in text
