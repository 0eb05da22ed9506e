"""The learned speech classifier: streaming features in, P(human) and P(machine) out (ONNX, onnxruntime).

``SpeechFeatures`` accumulates per-frame measurements while the detector listens; ``vector`` turns them
and the speech timing into the fixed feature vector the model was trained on. ``SpeechModel`` runs the
exported ONNX graph. Training lives outside the engine (``detection.lab.train``); only onnxruntime and
numpy are needed here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .features import SpeechTiming, speech_timing

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = MODELS_DIR / "speech_timing.onnx"
MODEL_PAUSE_MS = 250  # pause that separates utterances in the model's features (fixed for every setting)
CLASSES = ("human", "machine")  # model output order

FEATURE_NAMES = (
    "since_onset_ms",  # audio since the first speech
    "onset_ms",  # when speech began
    "total_speech_ms",
    "segments",
    "utterances",
    "first_utterance_ms",
    "first_pause_ms",  # silence after the first utterance (0 while it goes on)
    "latest_utterance_ms",
    "longest_pause_ms",
    "silence_ms",  # since the latest voice
    "density",  # speech share of the time since onset
    "mean_segment_ms",
    "longest_segment_ms",
    "level_std_db",  # spread of the speech frames' level (dB)
    "snr_db",  # mean speech level above the noise floor
    "flatness",  # mean spectral flatness of speech frames
    "beep_seen",  # a steady tone in the beep range was heard
)


class SpeechFeatures:
    """Running sums over the frames judged speech (level, level², SNR, flatness)."""

    __slots__ = ("frames", "level_sum", "level_sq_sum", "snr_sum", "flatness_sum", "beep_seen")

    def __init__(self) -> None:
        self.frames = 0
        self.level_sum = 0.0
        self.level_sq_sum = 0.0
        self.snr_sum = 0.0
        self.flatness_sum = 0.0
        self.beep_seen = False

    def add_frame(self, level_dbfs: float, snr_db: float, flatness: float) -> None:
        self.frames += 1
        self.level_sum += level_dbfs
        self.level_sq_sum += level_dbfs * level_dbfs
        self.snr_sum += snr_db
        self.flatness_sum += flatness

    @property
    def snr_db(self) -> float | None:
        """Mean level of the speech frames above the noise floor (None before speech)."""
        return self.snr_sum / self.frames if self.frames else None

    def vector(self, segments, now_ms: int, voice_until_ms: int | None) -> np.ndarray:
        """The model's feature vector at ``now_ms`` (requires at least one speech segment)."""
        timing = speech_timing(segments, now_ms, MODEL_PAUSE_MS, voice_until_ms)
        return timing_vector(timing, self)


def timing_vector(timing: SpeechTiming, stats: SpeechFeatures) -> np.ndarray:
    now = timing.now_ms
    onset = timing.onset_ms
    segs = timing.segments
    lengths = [end - start for start, end in segs]
    total = sum(lengths)
    utts = timing.utterances
    first_pause = utts[1][0] - utts[0][1] if len(utts) > 1 else (
        max(0, now - utts[0][1]) if now - utts[0][1] >= MODEL_PAUSE_MS else 0)
    n = max(stats.frames, 1)
    mean_level = stats.level_sum / n
    level_var = max(0.0, stats.level_sq_sum / n - mean_level * mean_level)
    return np.array([
        now - onset,
        onset,
        total,
        len(segs),
        len(utts),
        utts[0][1] - utts[0][0],
        first_pause,
        utts[-1][1] - utts[-1][0],
        timing.longest_pause_ms,
        timing.silence_ms,
        total / max(now - onset, 1),
        total / len(segs),
        max(lengths),
        level_var ** 0.5,
        stats.snr_db or 0.0,
        stats.flatness_sum / n,
        float(stats.beep_seen),
    ], dtype=np.float32)


class SpeechModel:
    """An ONNX classifier over ``FEATURE_NAMES`` giving (P(human), P(machine))."""

    def __init__(self, path: str | Path = DEFAULT_MODEL) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(self.path), options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        outputs = [o.name for o in self._session.get_outputs()]
        self._output = "probabilities" if "probabilities" in outputs else outputs[-1]
        meta = self.path.with_suffix(".json")
        self.meta = json.loads(meta.read_text()) if meta.exists() else {}
        names = self.meta.get("features")
        if names is not None and tuple(names) != FEATURE_NAMES:
            raise ValueError(f"{self.path} was trained on other features: {names}")

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Probabilities (n, 2) in ``CLASSES`` order for feature rows (n, len(FEATURE_NAMES))."""
        x = np.asarray(features, dtype=np.float32).reshape(-1, len(FEATURE_NAMES))
        out = self._session.run([self._output], {self._input: x})[0]
        if isinstance(out, list):  # ZipMap output: a list of {class: probability}
            out = np.array([[row[0], row[1]] for row in out], dtype=np.float32)
        return np.asarray(out, dtype=np.float32)

    def p_machine(self, features: np.ndarray) -> float:
        return float(self.predict(features)[0, 1])


_LOADED: dict[str, SpeechModel | None] = {}


def load_default() -> SpeechModel | None:
    """The shipped model, loaded once per process; None if the file is missing."""
    key = str(DEFAULT_MODEL)
    if key not in _LOADED:
        _LOADED[key] = SpeechModel(DEFAULT_MODEL) if DEFAULT_MODEL.exists() else None
    return _LOADED[key]
