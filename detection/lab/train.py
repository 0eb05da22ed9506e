"""Training of the speech classifier on the corpus's train split, exported to ONNX.

Every train clip of a speech class is streamed through the detector's own front end (tone bank, VAD,
feature sums) without a policy; at every ``SNAPSHOT_MS`` of audio after speech onset the feature vector
is recorded with the clip's label (human or machine). A gradient-boosted tree ensemble learns P(machine)
from these snapshots, so it is right at every moment of a stream, not only at the end of a clip.

Needs the training requirements (``requirements-train.txt``: scikit-learn, skl2onnx, onnx).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from detection.engine import Detector, audio
from detection.engine.model import CLASSES, FEATURE_NAMES
from detection.engine.policy import ANALYSIS_DEADLINE_MS, SPEECH_OBSERVATION_MS

from .corpus import load_labels

SEED = 20260
SNAPSHOT_MS = 40  # feature snapshot spacing along each clip
FIRST_SNAPSHOT_MS = 100  # first snapshot after speech onset
LABEL_OF = {  # corpus class → model class
    "human": "human",
    "human_gatekeeper": "human",
    "voicemail": "machine",
    "live_voicemail": "machine",
    "screening": "machine",
    "ivr": "machine",
}
TREES = 300
DEPTH = 4
LEARNING_RATE = 0.08
SUBSAMPLE = 0.8


class _Tracer(Detector):
    """The detector's front end with no policy: records the model features along the stream."""

    def __init__(self, every_ms: int = SNAPSHOT_MS, until_ms: int | None = None) -> None:
        super().__init__(0.5)
        self.every_ms = every_ms
        self.until_ms = until_ms
        self.rows: list[tuple[int, np.ndarray]] = []
        self._next_ms: int | None = None

    def _analyse(self, frame: np.ndarray, end_ms: int) -> None:
        self._observe(frame, end_ms)
        segments = self._vad.segments
        if not segments:
            return
        if self._next_ms is None:
            self._next_ms = segments[0][0] + FIRST_SNAPSHOT_MS
        if end_ms >= self._next_ms:
            self.rows.append((end_ms, self._speech.vector(segments, end_ms, self._vad.last_voice_ms)))
            self._next_ms = end_ms + self.every_ms


def trace(data: bytes, every_ms: int = SNAPSHOT_MS) -> list[tuple[int, np.ndarray]]:
    """(audio ms, feature vector) snapshots of one clip up to the latest analysis deadline."""
    tracer = _Tracer(every_ms)
    for payload, ts in audio.frames(data):
        tracer.push(payload, ts)
        rows = tracer.rows
        if rows and rows[-1][0] >= max(ANALYSIS_DEADLINE_MS, rows[0][0] + SPEECH_OBSERVATION_MS) + 500:
            break
    return tracer.rows


def _trace_clip(args) -> tuple[str, str, list[tuple[int, np.ndarray]]]:
    corpus, clip_id, file, label = args
    return clip_id, label, trace(audio.load_ulaw(Path(corpus) / file))


def corpus_list(corpora: Path | str | Sequence[Path]) -> list[Path]:
    """One corpus folder or several, as a list of folders."""
    return [Path(corpora)] if isinstance(corpora, (str, Path)) else [Path(c) for c in corpora]


def dataset(corpora: Path | Sequence[Path], split: str = "train",
            workers: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature rows, labels (index into CLASSES) and clip index per row, from ``split`` only (of every corpus)."""
    jobs = [(str(corpus), c.id, c.file, LABEL_OF[c.answered_by])
            for corpus in corpus_list(corpora) for c in load_labels(corpus, split) if c.answered_by in LABEL_OF]
    xs, ys, groups = [], [], []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for index, (_, label, rows) in enumerate(pool.map(_trace_clip, jobs, chunksize=8)):
            for _, vec in rows:
                xs.append(vec)
                ys.append(CLASSES.index(label))
                groups.append(index)
    return np.array(xs, dtype=np.float32), np.array(ys, dtype=np.int64), np.array(groups)


def train(x: np.ndarray, y: np.ndarray, groups: np.ndarray):
    """Fit the tree ensemble; clips are weighted equally however long they are."""
    from sklearn.ensemble import GradientBoostingClassifier

    counts = np.bincount(groups)
    weights = 1.0 / counts[groups]
    for cls in range(len(CLASSES)):  # classes weigh the same in total
        mask = y == cls
        weights[mask] *= 0.5 / weights[mask].sum()
    weights *= len(y)
    model = GradientBoostingClassifier(n_estimators=TREES, max_depth=DEPTH, learning_rate=LEARNING_RATE,
                                       subsample=SUBSAMPLE, random_state=SEED)
    model.fit(x, y, sample_weight=weights)
    return model


def export(model, out_dir: Path, meta: dict) -> Path:
    """Write ``speech_timing.onnx`` (probabilities as a plain tensor) and its metadata JSON."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    onx = to_onnx(model, initial_types=[("features", FloatTensorType([None, len(FEATURE_NAMES)]))],
                  options={id(model): {"zipmap": False}}, target_opset=17)
    imports = sorted((item.domain, item.version) for item in onx.opset_import)  # converters list them in any order
    del onx.opset_import[:]
    for domain, version in imports:
        onx.opset_import.add(domain=domain, version=version)
    path = out_dir / "speech_timing.onnx"
    path.write_bytes(onx.SerializeToString())
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    return path


def run(corpora: Path | Sequence[Path], out_dir: Path, workers: int = 2, progress=print) -> dict:
    """Build the train-split dataset (of every corpus), fit, check on held-out train clips, export."""
    corpora = corpus_list(corpora)
    x, y, groups = dataset(corpora, "train", workers)
    progress(f"{len(y)} snapshots from {groups.max() + 1} train clips of {len(corpora)} corpora")
    rng = np.random.default_rng(SEED)
    clips = np.unique(groups)
    held = set(rng.choice(clips, size=max(1, len(clips) // 5), replace=False).tolist())
    inner = np.array([g not in held for g in groups])
    check = train(x[inner], y[inner], groups[inner])
    p = check.predict_proba(x[~inner])[:, 1]
    inner_acc = float(np.mean((p >= 0.5) == (y[~inner] == 1)))
    progress(f"snapshot accuracy on a fifth of the train clips held out: {inner_acc:.3f}")
    model = train(x, y, groups)
    meta = {
        "features": list(FEATURE_NAMES),
        "classes": list(CLASSES),
        "model": f"GradientBoostingClassifier(n_estimators={TREES}, max_depth={DEPTH}, "
                 f"learning_rate={LEARNING_RATE}, subsample={SUBSAMPLE}, random_state={SEED})",
        "snapshot_ms": SNAPSHOT_MS,
        "train_snapshots": int(len(y)),
        "train_clips": int(groups.max() + 1),
        "train_corpora": len(corpora),
        "inner_holdout_snapshot_accuracy": round(inner_acc, 4),
        "feature_importance": {n: round(float(v), 4) for n, v in
                               zip(FEATURE_NAMES, model.feature_importances_, strict=True)},
    }
    path = export(model, out_dir, meta)
    progress(f"wrote {path} ({path.stat().st_size // 1024} KB)")
    return meta


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Train the speech classifier on a corpus's train split.")
    parser.add_argument("corpus", type=Path, nargs="+", help="Corpus folders; the train split of each is used.")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "engine" / "models")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    run(args.corpus, args.out, args.workers)


if __name__ == "__main__":
    main()
