"""Choosing the policy's probability thresholds from out-of-fold predictions on the train split.

The train clips are cut into folds by voice; each fold's snapshots are scored by a model fitted on the
other folds, so the probabilities look like those on unheard voices. ``simulate`` replays the policy's
streaming rule over those snapshots for given thresholds, and ``sweep`` prints the trade-offs a grid of
thresholds gives. The test split is never read here.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detection.engine.model import FEATURE_NAMES
from detection.engine.policy import ANALYSIS_DEADLINE_MS, SPEECH_OBSERVATION_MS

from .corpus import load_labels
from .train import LABEL_OF, _trace_clip, corpus_list, train

FOLDS = 4
SILENCE_COLUMN = FEATURE_NAMES.index("silence_ms")
SINCE_ONSET_COLUMN = FEATURE_NAMES.index("since_onset_ms")
ONSET_COLUMN = FEATURE_NAMES.index("onset_ms")


@dataclass
class ClipTrace:
    clip_id: str
    truth: str  # corpus class
    times: np.ndarray  # snapshot audio ms
    x: np.ndarray  # feature rows
    p_machine: np.ndarray  # out-of-fold P(machine)
    first_utterance_end_ms: int | None
    onset_ms: int | None


def _fit_predict(args):
    x_train, y_train, g_train, x_test = args
    return train(x_train, y_train, g_train).predict_proba(x_test)[:, 1]


def out_of_fold(corpora: Path | Sequence[Path], workers: int = 2) -> list[ClipTrace]:
    """Every train clip's snapshots scored by a model fitted on the folds without its voice (voices are
    shared by the train splits of every corpus, so a voice's fold is the same in all of them)."""
    pairs = [(corpus, c) for corpus in corpus_list(corpora)
             for c in load_labels(corpus, "train") if c.answered_by in LABEL_OF]
    clips = [c for _, c in pairs]
    jobs = [(str(corpus), c.id, c.file, LABEL_OF[c.answered_by]) for corpus, c in pairs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        traced = list(pool.map(_trace_clip, jobs, chunksize=8))
    voices = sorted({c.voice for c in clips})
    fold_of_voice = {v: i % FOLDS for i, v in enumerate(np.random.default_rng(1).permutation(voices))}
    rows = []
    for index, (clip, (_, label, snaps)) in enumerate(zip(clips, traced, strict=True)):
        for t, vec in snaps:
            rows.append((index, fold_of_voice[clip.voice], label == "machine", t, vec))
    idx = np.array([r[0] for r in rows])
    fold = np.array([r[1] for r in rows])
    y = np.array([r[2] for r in rows], dtype=np.int64)
    times = np.array([r[3] for r in rows])
    x = np.array([r[4] for r in rows], dtype=np.float32)
    p = np.zeros(len(y))
    jobs = [(x[fold != f], y[fold != f], idx[fold != f], x[fold == f]) for f in range(FOLDS)]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for f, pred in enumerate(pool.map(_fit_predict, jobs)):
            p[fold == f] = pred
    traces = []
    for index, clip in enumerate(clips):
        mask = idx == index
        traces.append(ClipTrace(clip.id, clip.answered_by, times[mask], x[mask], p[mask],
                                clip.first_utterance_end_ms, clip.onset_ms))
    return traces


def simulate(traces: Sequence[ClipTrace], machine_p: float, human_p: float, human_silence_ms: int,
             guess: bool, machine_min_ms: int = 0) -> dict:
    """Replay the streaming rule; return the false-machine rate, recall and decision times."""
    people = fm = fm_plain = machines = caught = correct = 0
    human_t, machine_t = [], []
    for tr in traces:
        said, when = None, None
        if not len(tr.times):
            continue
        deadline = max(ANALYSIS_DEADLINE_MS, int(tr.x[0, ONSET_COLUMN]) + SPEECH_OBSERVATION_MS)
        for t, row, pm in zip(tr.times, tr.x, tr.p_machine, strict=True):
            if pm >= machine_p and row[SINCE_ONSET_COLUMN] >= machine_min_ms:
                said, when = "machine", t
                break
            if row[SILENCE_COLUMN] >= human_silence_ms and 1 - pm >= human_p:
                said, when = "human", t
                break
            if t >= deadline:
                said = ("machine" if pm >= 0.5 else "human") if guess else "unknown"
                when = t
                break
        if said is None:
            said = "unknown"
        is_person = LABEL_OF[tr.truth] == "human"
        if is_person:
            people += 1
            fm += said == "machine"
            fm_plain += said == "machine" and tr.truth == "human"
            if said == "human" and tr.first_utterance_end_ms is not None:
                human_t.append(when - tr.first_utterance_end_ms)
        else:
            machines += 1
            caught += said == "machine"
            if said == "machine" and tr.onset_ms is not None:
                machine_t.append(when - tr.onset_ms)
        correct += said == LABEL_OF[tr.truth]
    pct = lambda v, p: float(np.percentile(v, p)) if v else float("nan")  # noqa: E731
    return {"false_machine": fm / max(people, 1), "fm_count": fm, "fm_human_count": fm_plain,
            "recall": caught / max(machines, 1), "accuracy": correct / max(people + machines, 1),
            "human_p50": pct(human_t, 50), "human_p90": pct(human_t, 90), "machine_p50": pct(machine_t, 50)}


def sweep(traces: Sequence[ClipTrace]) -> list[tuple[tuple, dict]]:
    table = []
    for machine_p in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99, 0.995):
        for human_p in (0.5, 0.7, 0.9):
            for silence in (200, 400, 600, 800):
                for guess in (False, True):
                    for machine_min_ms in (300, 800, 1500):
                        table.append(((machine_p, human_p, silence, guess, machine_min_ms),
                                      simulate(traces, machine_p, human_p, silence, guess, machine_min_ms)))
    return table


def main(argv: Sequence[str] | None = None) -> None:
    """Print the trade-offs of the threshold grid: ``python -m detection.lab.tune CORPUS``."""
    import argparse

    parser = argparse.ArgumentParser(description="Threshold trade-offs from out-of-fold train predictions.")
    parser.add_argument("corpus", type=Path, nargs="+", help="Corpus folders; the train split of each is used.")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    traces = out_of_fold(args.corpus, args.workers)
    people = [float(tr.p_machine.max()) for tr in traces if LABEL_OF[tr.truth] == "human" and len(tr.p_machine)]
    print(f"people's highest out-of-fold P(machine): {max(people):.4f} (of {len(people)} train clips)")
    print("machine_p human_p silence_ms guess machine_min_ms | false_machine recall accuracy human_p50 machine_p50")
    for (machine_p, human_p, silence, guess, min_ms), r in sweep(traces):
        print(f"{machine_p:.3f} {human_p:.2f} {silence:4d} {guess!s:5s} {min_ms:4d} | {r['false_machine']:.3f} "
              f"{r['recall']:.3f} {r['accuracy']:.3f} {r['human_p50']:.0f} {r['machine_p50']:.0f}")


if __name__ == "__main__":
    main()
