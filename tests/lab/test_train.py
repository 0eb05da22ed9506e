"""The timing model's training set: the train splits of several corpora, each clip its own group."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from detection.lab import corpus, train


@pytest.fixture(scope="module")
def two_corpora(tmp_path_factory):
    if not (shutil.which("espeak-ng") and shutil.which("flite") and corpus.ASTERISK_DIR.exists()):
        pytest.skip("espeak-ng, flite and asterisk-core-sounds-en-wav are needed for the corpus")
    folders = []
    for seed in (5, 6):
        folder = tmp_path_factory.mktemp(f"corpus{seed}")
        list(corpus.generate(folder, count=14, seed=seed, test_share=0.3))
        folders.append(folder)
    return folders


def test_the_training_set_of_two_corpora_is_both_train_splits_clip_by_clip(two_corpora):
    first, second = two_corpora
    x1, y1, g1 = train.dataset(first, workers=1)
    x2, y2, g2 = train.dataset(second, workers=1)
    x, y, groups = train.dataset([first, second], workers=1)
    assert len(x1) and len(x2)
    assert np.array_equal(x, np.concatenate([x1, x2])) and np.array_equal(y, np.concatenate([y1, y2]))
    # every clip is one group, so a clip of the second corpus never shares a group with one of the first
    first_clips = sum(1 for clip in corpus.load_labels(first, "train") if clip.answered_by in train.LABEL_OF)
    assert np.array_equal(groups, np.concatenate([g1, g2 + first_clips]))


def test_amd_train_names_a_timing_corpus_without_labels(two_corpora, tmp_path):
    with pytest.raises(CommandError, match="labels.jsonl not found"):
        call_command("amd_train", str(two_corpora[0]), "--timing-corpus", str(tmp_path / "nowhere"),
                     "--out", str(tmp_path / "models"))
