"""Run the streaming detector over an uploaded recording, in 20 ms frames as a media stream delivers it.

Nothing is stored and nothing is billed: the result is returned to the caller only.
"""

from __future__ import annotations

import struct
import tempfile
import time
import wave

from detection.engine import audio, ulaw
from detection.management.commands.amd_detect import detect

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_AUDIO_MS = 60_000
WAVE_FORMAT_PCM = 1
WAVE_FORMAT_MULAW = 7


class AudioFileError(ValueError):
    """The upload is not audio the detector can read; the message says why, for the person uploading."""


def _riff_chunks(data: bytes) -> dict[bytes, bytes]:
    chunks: dict[bytes, bytes] = {}
    offset = 12
    while offset + 8 <= len(data):
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack("<I", data[offset + 4 : offset + 8])
        chunks.setdefault(chunk_id, data[offset + 8 : offset + 8 + size])
        offset += 8 + size + (size & 1)
    return chunks


def _mulaw_wav(chunks: dict[bytes, bytes], channels: int, rate: int) -> bytes:
    """A μ-law WAV (format 7): the data as is at 8 kHz mono, else decoded, mixed and re-encoded."""
    payload = chunks.get(b"data", b"")
    if channels == 1 and rate == audio.TARGET_RATE:
        return payload
    samples = ulaw.decode(payload[: len(payload) // channels * channels]).astype("float64")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1)
    return audio.to_ulaw(samples, rate)


def to_ulaw(data: bytes, filename: str = "") -> bytes:
    """8 kHz μ-law bytes from a WAV (PCM or μ-law, any rate) or a headerless μ-law file."""
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        chunks = _riff_chunks(data)
        fmt = chunks.get(b"fmt ", b"")
        if len(fmt) < 16:
            raise AudioFileError("This WAV file has no readable format header.")
        audio_format, channels, rate = struct.unpack("<HHI", fmt[:8])
        if channels < 1 or rate < 1000:
            raise AudioFileError("This WAV file's header is damaged (channels or sample rate).")
        if audio_format == WAVE_FORMAT_MULAW:
            return _mulaw_wav(chunks, channels, rate)
        if audio_format != WAVE_FORMAT_PCM:
            raise AudioFileError(
                f"WAV encoding {audio_format} is not supported: use 8/16/24/32-bit PCM or μ-law."
            )
        with tempfile.NamedTemporaryFile(suffix=".wav") as handle:
            handle.write(data)
            handle.flush()
            try:
                return audio.load_ulaw(handle.name)
            except (wave.Error, EOFError, ValueError) as exc:
                raise AudioFileError(f"This WAV file could not be read ({exc}).") from None
    if filename.lower().endswith(audio.RAW_ULAW_SUFFIXES):
        return data
    raise AudioFileError(
        "This is not a WAV file. Upload a WAV recording, or raw 8 kHz μ-law audio named "
        + ", ".join(f"*{suffix}" for suffix in audio.RAW_ULAW_SUFFIXES) + "."
    )


def run_file(data: bytes, aggressiveness: float, detect_message_end: bool = False, filename: str = "") -> dict:
    """The detector's result on a recording, fed through ``Detector.push`` in 20 ms frames."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise AudioFileError(f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.")
    payload = to_ulaw(data, filename)
    audio_ms = len(payload) * 1000 // audio.TARGET_RATE
    if not payload:
        raise AudioFileError("The recording holds no audio.")
    if audio_ms > MAX_AUDIO_MS:
        raise AudioFileError(
            f"The recording is {audio_ms / 1000:.1f} s long; the limit is {MAX_AUDIO_MS // 1000} s."
        )

    started = time.perf_counter()
    events = detect(payload, aggressiveness, detect_message_end)
    decision = next(event for event in events if event["event"] == "amd")
    message_end = next((event for event in events if event["event"] == "amd.message_end"), None)
    return {
        "decision": {name: value for name, value in decision.items() if name not in ("event", "audio_ms")},
        "message_end": {name: value for name, value in message_end.items() if name != "event"} if message_end else None,
        "audio_ms": audio_ms,
        "frames": -(-len(payload) // audio.FRAME_BYTES),
        "aggressiveness": aggressiveness,
        "processing_ms": round((time.perf_counter() - started) * 1000, 1),
    }
