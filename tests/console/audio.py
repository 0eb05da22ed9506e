"""Recordings made for the console tests: espeak-ng speech followed by silence, as WAV bytes."""

import io
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path


def speech_wav(text: str = "hello?", silence_s: float = 3.0) -> bytes:
    """16-bit PCM WAV at espeak-ng's own rate (22.05 kHz): ``text`` spoken, then ``silence_s`` of silence."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is missing: run bin/system-deps")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run(["espeak-ng", "-w", str(path), text], check=True, capture_output=True)
        with wave.open(str(path), "rb") as source:
            params = source.getparams()
            frames = source.readframes(source.getnframes())
    padding = b"\x00" * (params.sampwidth * params.nchannels * int(params.framerate * silence_s))
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setnchannels(params.nchannels)
        target.setsampwidth(params.sampwidth)
        target.setframerate(params.framerate)
        target.writeframes(frames + padding)
    return out.getvalue()


def mulaw_wav(payload: bytes, rate: int = 8000) -> bytes:
    """A μ-law WAV file (format 7) around raw μ-law bytes."""
    import struct

    fmt = struct.pack("<HHIIHH", 7, 1, rate, rate, 1, 8)
    data = payload + (b"\x00" if len(payload) % 2 else b"")
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(payload)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


GREETING = ("Hi, you've reached the voicemail of John Smith. I can't take your call right now, "
            "please leave a message after the tone.")


def greeting_with_beep_wav(beep_hz: float = 1000.0, beep_s: float = 0.5) -> bytes:
    """A spoken voicemail greeting, a short pause, a sine beep, then two seconds of silence."""
    import numpy as np

    with wave.open(io.BytesIO(speech_wav(GREETING, silence_s=0.4)), "rb") as source:
        rate = source.getframerate()
        speech = np.frombuffer(source.readframes(source.getnframes()), dtype="<i2")
    t = np.arange(int(rate * beep_s)) / rate
    beep = (np.sin(2 * np.pi * beep_hz * t) * 8000).astype("<i2")
    samples = np.concatenate([speech, beep, np.zeros(int(rate * 2), dtype="<i2")])
    out = io.BytesIO()
    with wave.open(out, "wb") as target:
        target.setnchannels(1)
        target.setsampwidth(2)
        target.setframerate(rate)
        target.writeframes(samples.tobytes())
    return out.getvalue()
