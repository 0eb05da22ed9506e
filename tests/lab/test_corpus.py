"""The labelled corpus generator: deterministic, and voices never cross splits."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from detection.lab import corpus


def _require_tools() -> None:
    if not (shutil.which("espeak-ng") and shutil.which("flite") and corpus.ASTERISK_DIR.exists()):
        pytest.skip("espeak-ng, flite and asterisk-core-sounds-en-wav are needed for the corpus")


def _digest(folder) -> tuple[str, dict[str, str]]:
    labels = (folder / "labels.jsonl").read_text()
    clips = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted((folder / "clips").iterdir())}
    return labels, clips


def test_the_same_seed_gives_the_same_labels_and_bytes(tmp_path):
    _require_tools()
    for name in ("a", "b"):
        list(corpus.generate(tmp_path / name, count=10, seed=3))
    labels_a, clips_a = _digest(tmp_path / "a")
    labels_b, clips_b = _digest(tmp_path / "b")
    assert labels_a == labels_b
    assert clips_a == clips_b and len(clips_a) == 10
    list(corpus.generate(tmp_path / "c", count=10, seed=4))
    assert _digest(tmp_path / "c")[0] != labels_a


def test_voices_never_cross_splits():
    declared = {}
    for voice in corpus.voices():
        assert declared.setdefault(voice.id, voice.split) == voice.split
    assert {"train", "test"} == set(declared.values())


def test_generated_clips_keep_their_voice_in_one_split(tmp_path):
    _require_tools()
    clips = list(corpus.generate(tmp_path, count=40, seed=11))
    split_of: dict[str, set[str]] = {}
    for clip in clips:
        if clip.source in {"espeak", "flite", "asterisk", "pocketsphinx"}:
            split_of.setdefault(clip.voice, set()).add(clip.split)
    assert split_of and all(len(splits) == 1 for splits in split_of.values()), split_of
    assert {c.split for c in clips} == {"train", "test"}
    assert corpus.load_labels(tmp_path, "test") == [c for c in clips if c.split == "test"]
