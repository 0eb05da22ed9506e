"""CPU cost of the streaming detector per 20 ms frame, before and after its decision, and per call.

Run from the repository root: ``python bench/detector_cpu.py`` (``--calls N`` repeats each clip).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from detection.engine import Detector, audio, ulaw  # noqa: E402

RATE = 8000
CALL_SECONDS = 10  # audio streamed per call
SOUNDS = Path("/usr/share/asterisk/sounds/en")  # recorded prompts (asterisk-core-sounds-en-wav)


def _tone(freq: float, ms: int, dbfs: float) -> np.ndarray:
    t = np.arange(ms * RATE // 1000) / RATE
    return 32768 * 10 ** (dbfs / 20) * np.sqrt(2) * np.sin(2 * np.pi * freq * t)


def _noise(ms: int, dbfs: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(ms * RATE // 1000) * 32768 * 10 ** (dbfs / 20)


def _prompt(name: str, fallback_ms: int) -> np.ndarray:
    path = SOUNDS / f"{name}.wav"
    if path.exists():
        return audio.load_linear(path)
    # Without the prompts: a vowel-like harmonic signal with a syllable rhythm stands in for speech.
    t = np.arange(fallback_ms * RATE // 1000) / RATE
    voiced = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 12))
    return 6000 * voiced * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t))


def _call(*parts: np.ndarray) -> bytes:
    x = np.concatenate(parts)
    total = CALL_SECONDS * RATE
    x = np.pad(x, (0, max(0, total - len(x))))[:total]
    return ulaw.encode(x + _noise(CALL_SECONDS * 1000, -60, seed=len(parts)))


def clips() -> dict[str, tuple[bytes, bool]]:
    """Name → (μ-law call audio, watch for the message end)."""
    sit = np.concatenate([_tone(913.8, 274, -20), _tone(1370.6, 274, -20), _tone(1776.7, 380, -20)])
    greeting = _prompt("vm-intro", 5600)
    return {
        "human hello": (_call(np.zeros(600 * 8), _prompt("hello", 700)), False),
        "voicemail greeting": (_call(np.zeros(500 * 8), greeting), False),
        "voicemail + message end": (_call(np.zeros(500 * 8), greeting, np.zeros(700 * 8),
                                          _tone(1000, 400, -18)), True),
        "silence": (_call(np.zeros(8)), False),
        "SIT + announcement": (_call(np.zeros(300 * 8), sit, _prompt("ss-noservice", 4000)), False),
    }


def measure(data: bytes, watch: bool) -> tuple[list[float], list[float], float, str]:
    """Stream one call; return per-frame µs before and after the decision, call CPU ms, decision."""
    det = Detector(aggressiveness=0.5, detect_message_end=watch)
    before, after = [], []
    cpu_start = time.process_time()
    for payload, ts in audio.frames(data):
        decided = det.decision is not None
        start = time.thread_time_ns()  # CPU time of this thread: other processes' load does not count
        det.push(payload, ts)
        elapsed = (time.thread_time_ns() - start) / 1000
        (after if decided else before).append(elapsed)
    det.finish()
    det.finish_message_end()
    cpu_ms = (time.process_time() - cpu_start) * 1000
    label = f"{det.decision.answered_by}@{det.decision.decision_ms}ms"
    if det.message_end is not None:
        label += f", {det.message_end.answered_by_twilio}@{det.message_end.message_end_ms}ms"
    return before, after, cpu_ms, label


def _stats(values: list[float]) -> str:
    if not values:
        return f"{'-':>7} {'-':>7} {'-':>7}"
    arr = np.asarray(values)
    return f"{arr.mean():7.1f} {np.percentile(arr, 50):7.1f} {np.percentile(arr, 99):7.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20, help="calls streamed per clip")
    parser.add_argument("--recognizer", action="store_true", help="also time the speech recognizer stage")
    args = parser.parse_args()
    measure(*clips()["human hello"])  # warm-up: imports, numpy caches
    print(f"{CALL_SECONDS} s calls, {args.calls} per clip, aggressiveness 0.5; CPU µs per 20 ms frame (push)")
    header = f"{'clip':26s} {'before: mean':>12s} {'p50':>7s} {'p99':>7s}  {'after: mean':>11s} {'p50':>7s} {'p99':>7s}"
    print(f"{header}  {'CPU/call ms':>11s}  decision")
    all_before: list[float] = []
    all_after: list[float] = []
    for name, (data, watch) in clips().items():
        before: list[float] = []
        after: list[float] = []
        cpu: list[float] = []
        label = ""
        for _ in range(args.calls):
            b, a, c, label = measure(data, watch)
            before += b
            after += a
            cpu.append(c)
        all_before += before
        all_after += after
        print(f"{name:26s} {_stats(before):>28s}  {_stats(after):>27s}  {statistics.mean(cpu):11.1f}  {label}")
    print(f"{'all clips':26s} {_stats(all_before):>28s}  {_stats(all_after):>27s}")
    if args.recognizer:
        recognizer_cpu(args.calls)


def recognizer_cpu(calls: int) -> None:
    """CPU of one transcription of the first 4 s of a greeting (one CTranslate2 thread)."""
    from detection.engine.recognizer import Recognizer

    rec = Recognizer(workers=1)
    start = time.process_time()
    rec.warm_up()
    load_ms = (time.process_time() - start) * 1000
    data = clips()["voicemail greeting"][0][: 4 * RATE]
    cpu = []
    for _ in range(max(1, calls // 4)):
        start = time.process_time()
        transcript = rec.transcribe(data)
        cpu.append((time.process_time() - start) * 1000)
    print(f"recognizer: load {load_ms:.0f} ms CPU; 4 s of audio: {statistics.mean(cpu):.0f} ms CPU per call "
          f"(min {min(cpu):.0f}); words: {transcript.text!r}")


if __name__ == "__main__":
    main()
