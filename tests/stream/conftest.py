"""Stream socket fixtures: generated call audio, Twilio's messages, and a socket driver."""

import base64
import hashlib
import json
import subprocess
import tempfile
from concurrent.futures import Future
from pathlib import Path

import numpy as np
import pytest
import pytest_asyncio
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from amd_project.asgi import application
from detection import webhooks
from detection.engine import Detector, audio, ulaw
from detection.engine.recognizer import RecognizerSession, Transcript

RATE = 8000
PATH = "/v1/amd/stream"
AUDIO_CACHE = Path(tempfile.gettempdir()) / "amd-stream-test-audio"
ACCOUNT_SID = "AC" + "a" * 32
CALL_SID = "CA" + "b" * 32
STREAM_SID = "MZ" + "c" * 32
TIMEOUT = 5


# Audio ------------------------------------------------------------------------------------------

def samples(duration_ms: float) -> int:
    return int(round(duration_ms * RATE / 1000))


def silence(duration_ms: float) -> np.ndarray:
    return np.zeros(samples(duration_ms))


def tone(freq_hz: float, duration_ms: float, level: float = 6000.0) -> np.ndarray:
    t = np.arange(samples(duration_ms)) / RATE
    return level * np.sin(2 * np.pi * freq_hz * t)


def noise(duration_ms: float, level: float = 30.0, seed: int = 1) -> np.ndarray:
    return level * np.random.default_rng(seed).standard_normal(samples(duration_ms))


def espeak(text: str) -> np.ndarray:
    """Speech rendered by espeak-ng (cached), at 8 kHz."""
    AUDIO_CACHE.mkdir(parents=True, exist_ok=True)
    wav = AUDIO_CACHE / f"{hashlib.sha1(text.encode()).hexdigest()[:16]}.wav"
    if not wav.exists():
        partial = wav.with_suffix(f".{np.random.default_rng().integers(1 << 30)}.wav")
        subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(partial), text], check=True, capture_output=True)
        partial.rename(wav)
    return audio.load_linear(wav)


def encode(x: np.ndarray) -> bytes:
    return ulaw.encode(x)


def greeting() -> np.ndarray:
    """A voicemail greeting: long uninterrupted speech."""
    return np.concatenate([silence(300), espeak(
        "Hi, you have reached the voicemail of John Smith at Acme Corporation. I am not available to take "
        "your call right now, so please leave your name, your number and a short message after the tone."
    ), silence(200), noise(200)])


def frames(data: bytes, frame_bytes: int = audio.FRAME_BYTES, start_ms: int = 0) -> list[tuple[bytes, int]]:
    return list(audio.frames(data, frame_bytes, start_ms))


def direct(pushes, aggressiveness: float = 0.25, detect_message_end: bool = False, stop: bool = True,
           recognizer: RecognizerSession | None = None):
    """What a Detector given the same pushes decides: (first decision, message end or None, detector)."""
    detector = Detector(aggressiveness=aggressiveness, detect_message_end=detect_message_end, recognizer=recognizer)
    for payload, timestamp in pushes:
        detector.push(payload, timestamp)
    if stop:
        detector.finish()
        if detect_message_end:
            detector.finish_message_end()
    return detector.decision, detector.message_end, detector


# Twilio's messages ------------------------------------------------------------------------------

def connected() -> dict:
    return {"event": "connected", "protocol": "Call", "version": "1.0.0"}


def start(parameters: dict | None = None, media_format: dict | None = None, tracks=("inbound",)) -> dict:
    return {
        "event": "start",
        "sequenceNumber": "1",
        "start": {
            "accountSid": ACCOUNT_SID,
            "streamSid": STREAM_SID,
            "callSid": CALL_SID,
            "tracks": list(tracks),
            "customParameters": {"aggressiveness": "0.25", **(parameters or {})},
            "mediaFormat": media_format or {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
        },
        "streamSid": STREAM_SID,
    }


def media(payload: bytes, timestamp: int, chunk: int = 1, sequence: int = 3, track: str = "inbound") -> dict:
    return {
        "event": "media",
        "sequenceNumber": str(sequence),
        "media": {"track": track, "chunk": str(chunk), "timestamp": str(timestamp),
                  "payload": base64.b64encode(payload).decode()},
        "streamSid": STREAM_SID,
    }


def media_messages(pushes, track: str = "inbound") -> list[dict]:
    return [media(payload, ts, chunk=i + 1, sequence=i + 3, track=track) for i, (payload, ts) in enumerate(pushes)]


def dtmf() -> dict:
    return {"event": "dtmf", "streamSid": STREAM_SID, "sequenceNumber": "5",
            "dtmf": {"track": "inbound_track", "digit": "1"}}


def mark() -> dict:
    return {"event": "mark", "sequenceNumber": "4", "streamSid": STREAM_SID, "mark": {"name": "my label"}}


def stop() -> dict:
    return {"event": "stop", "sequenceNumber": "5", "stop": {"accountSid": ACCOUNT_SID, "callSid": CALL_SID},
            "streamSid": STREAM_SID}


# The socket -------------------------------------------------------------------------------------

class Socket:
    """A client of the stream socket through the project's ASGI application."""

    def __init__(self, query: str = "", subprotocols=None, headers: dict | None = None):
        raw_headers = [(name.lower().encode(), value.encode()) for name, value in (headers or {}).items()]
        self.communicator = WebsocketCommunicator(application, PATH + (f"?{query}" if query else ""),
                                                  headers=raw_headers, subprotocols=subprotocols)
        self.subprotocol = None
        self.close_code = None
        self.events: list[dict] = []

    async def connect(self) -> "Socket":
        accepted, self.subprotocol = await self.communicator.connect(timeout=TIMEOUT)
        assert accepted, "every socket is accepted before any refusal"
        return self

    async def send(self, *messages: dict):
        for message in messages:
            await self.communicator.send_to(text_data=json.dumps(message))

    async def send_raw(self, text: str | None = None, data: bytes | None = None):
        await self.communicator.send_to(text_data=text, bytes_data=data)

    async def next_output(self, timeout: float = TIMEOUT) -> dict | None:
        """The next event, or None once the server has closed (``close_code`` is then set)."""
        if self.close_code is not None:
            return None
        output = await self.communicator.receive_output(timeout)
        if output["type"] == "websocket.close":
            self.close_code = output.get("code", 1000)
            return None
        event = json.loads(output["text"])
        self.events.append(event)
        return event

    async def next_event(self, timeout: float = TIMEOUT) -> dict:
        event = await self.next_output(timeout)
        assert event is not None, f"socket closed with {self.close_code} instead of sending an event"
        return event

    async def until_closed(self, timeout: float = TIMEOUT) -> int:
        """Read events until the server closes; return the close code."""
        while await self.next_output(timeout) is not None:
            pass
        return self.close_code

    async def silent(self) -> bool:
        return await self.communicator.receive_nothing(timeout=0.2)

    async def drop(self):
        """The client goes away (with or without a close from the server first)."""
        await self.communicator.disconnect(timeout=TIMEOUT)

    def of(self, kind: str) -> list[dict]:
        return [event for event in self.events if event["event"] == kind]


@pytest.fixture(autouse=True)
def enqueued(monkeypatch) -> list[tuple[str, dict]]:
    """Every event handed to webhook delivery, as (call id, event); nothing is delivered."""
    recorded: list[tuple[str, dict]] = []
    monkeypatch.setattr(webhooks, "enqueue_event", lambda call, event: recorded.append((call.id, event)))
    return recorded


@pytest.fixture(scope="session")
def voicemail_audio() -> bytes:
    return encode(greeting())


@pytest.fixture(autouse=True)
def _quick_password_hashing_and_no_words(settings):
    """The base fixture's users get passwords this suite never checks; and decisions are compared with a
    plain Detector's, so the speech recognizer (whose words arrive on its own threads' time) is off
    unless a test puts a deterministic one in its place."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AMD_RECOGNIZER = False


GREETING_WORDS = "Please leave a message after the tone".split()


def transcript_of(ulaw: bytes) -> Transcript:
    """What a recognizer 'hears' in any audio: a voicemail prompt from 0.3 s."""
    words = [(word, 300 + i * 300, 550 + i * 300) for i, word in enumerate(GREETING_WORDS)]
    return Transcript(words, cpu_ms=400.0, audio_ms=len(ulaw) // 8)


class InstantRecognizer:
    """Stands in for the shared Whisper recognizer: transcripts are ready the moment they are asked for."""

    def __init__(self):
        self.requests = 0

    def submit(self, ulaw: bytes) -> Future:
        self.requests += 1
        future = Future()
        future.set_result(transcript_of(ulaw))
        return future

    def session(self) -> RecognizerSession:
        return RecognizerSession(self.submit)

    def transcribe(self, ulaw: bytes) -> Transcript:
        self.requests += 1
        return transcript_of(ulaw)


@pytest_asyncio.fixture
async def close_db_thread_connections():
    """Close the connection the async ORM opened on the database thread, so the test database can be
    flushed and dropped behind it."""
    yield
    await database_sync_to_async(lambda: None)()
