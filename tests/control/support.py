"""Helpers for control-plane tests: calls, problem responses, signatures, a scripted HTTP receiver."""

import hashlib
import hmac
import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from detection.models import Call

PROBLEM_KEYS = {"type", "title", "status", "detail"}
_sids = itertools.count(1)


def assert_problem(response, status: int, param: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert PROBLEM_KEYS <= set(body) and body["status"] == status
    if param is not None:
        assert param in body.get("errors", {}), body
    return body


def make_call(org, livemode: bool = False, **fields) -> Call:
    number = next(_sids)
    defaults = {
        "call_sid": f"CA{number:032x}", "stream_sid": f"MZ{number:032x}", "account_sid": f"AC{1:032x}",
        "aggressiveness": 0.25, "status": Call.COMPLETED, "answered_by": "human", "answered_by_twilio": "human",
        "confidence": 0.9, "decision_ms": 800, "reason": "speech at 0.3s then a pause", "audio_ms": 4000,
        "evidence": [{"kind": "speech", "start_ms": 300, "end_ms": 1100}],
    }
    defaults.update(fields)
    return Call.objects.create(organization=org, livemode=livemode, **defaults)


def add_calls(org, count: int, created: datetime, billable: bool = True, livemode: bool = True) -> None:
    """``count`` finished calls created at ``created``, in one bulk insert."""
    Call.objects.bulk_create([
        Call(organization=org, livemode=livemode, aggressiveness=0.25, billable=billable, answered_by="human",
             audio_ms=3000, created=created, started_at=created)
        for _ in range(count)
    ], batch_size=1000)


def verify_signature(secret: str, body: bytes, header: str, tolerance_s: int = 300) -> bool:
    """A receiver's check of PyAI-Signature, written from the contract."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return abs(time.time() - timestamp) <= tolerance_s and hmac.compare_digest(expected, parts["v1"])


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes
    at: float


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1 answering POSTs from a per-path script of (status, headers, body, delay)."""

    base_url: str = ""
    requests: list = field(default_factory=list)
    scripts: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def script(self, path: str, *answers) -> str:
        """Answers for successive POSTs to ``path`` (the last one repeats); returns its URL."""
        self.scripts[path] = list(answers)
        return self.url(path)

    def next_answer(self, path: str) -> tuple:
        with self.lock:
            answers = self.scripts.get(path) or [200]
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
        answer = answer if isinstance(answer, tuple) else (answer,)
        return answer + (200, {}, b"ok", 0)[len(answer):]

    def received(self, path: str | None = None) -> list:
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]

    def wait_for(self, path: str, count: int, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(path)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        return self.received(path)
