"""Word error rate of the recognizer on a corpus's held-out scripted voices, with and without the adapter.

    python -m detection.lab.recognizer_wer /tmp/corpus8 [--clips 120]

Each test clip of a scripted voice (espeak-ng, flite) whose script ends in the first 7.5 s is transcribed as
the detector would ask for it (the audio up to half a second after the script, through the service's
encoder window, int8, one thread) by the plain tiny.en and by the adapted one, and the words are compared
with the script (normalised as the word classifier reads them). The Asterisk recordings are named by prompt, not by
their words, so they are left to ``amd_eval``'s accuracy by recording.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from detection.engine.recognizer import Recognizer, base_model_dir, default_model_dir
from detection.engine.words import tokens

from .corpus import load_labels

LAST_END_MS = 7500
AFTER_MS = 500


def words(text: str) -> list[str]:
    """The word classifier's normalised words, hyphenated ones apart ("three-way-time" is three words)."""
    return tokens(text.replace("-", " "))


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        diagonal, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            diagonal, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, diagonal + (r != h))
    return row[-1]


def word_error_rates(corpus: Path, model_dir: str, clips_per_source: int) -> dict[str, tuple[int, float]]:
    """{source: (clips, WER)} of one model on the test split."""
    recognizer = Recognizer(model_dir, workers=1)
    totals: dict[str, list[int]] = {}
    for clip in load_labels(corpus, "test"):
        end = clip.greeting_end_ms or clip.first_utterance_end_ms
        if clip.source not in ("espeak", "flite") or end is None or end > LAST_END_MS or not clip.text:
            continue
        errors, length, count = totals.setdefault(clip.source, [0, 0, 0])
        if count >= clips_per_source:
            continue
        ulaw = (corpus / clip.file).read_bytes()[: (end + AFTER_MS) * 8]
        ref = words(clip.text.split(" … ")[0])
        hyp = words(recognizer.transcribe(ulaw).text)
        totals[clip.source] = [errors + edit_distance(ref, hyp), length + len(ref), count + 1]
    return {source: (count, errors / length) for source, (errors, length, count) in totals.items() if length}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--clips", type=int, default=120, help="Clips per source at most.")
    args = parser.parse_args(argv)
    models = {"tiny.en": base_model_dir(), "tiny.en + telephone adapter": default_model_dir()}
    for name, model_dir in models.items():
        for source, (count, wer) in sorted(word_error_rates(args.corpus, model_dir, args.clips).items()):
            print(f"{name:28} {source:7} {count:4} clips  WER {100 * wer:5.1f} %")


if __name__ == "__main__":
    main()
