"""``manage.py amd_stream`` against a real daphne serving the project on a loopback port."""

import json
import os
import socket
import subprocess
import sys
import time
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from .conftest import encode, espeak, silence

ROOT = Path(__file__).resolve().parents[2]
MANAGE = [sys.executable, str(ROOT / "manage.py")]
SPEC_AMD_FIELDS = {"event", "call_id", "call_sid", "stream_sid", "answered_by", "answered_by_twilio", "confidence",
                   "decision_ms", "reason", "evidence"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, deadline_s: float = 20.0) -> None:
    until = time.monotonic() + deadline_s
    while time.monotonic() < until:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("daphne did not start listening")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A daphne on a free loopback port with its own SQLite database and a test key."""
    folder = tmp_path_factory.mktemp("daphne")
    env = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "REDIS_URL")}
    env.update(SECRET_KEY="stream-test-secret", SQLITE_PATH=str(folder / "db.sqlite3"),
               WEBHOOK_ALLOW_PRIVATE_HOSTS="true", DEBUG="false")
    subprocess.run([*MANAGE, "migrate", "--noinput", "-v", "0"], env=env, cwd=ROOT, check=True)
    token = subprocess.run([*MANAGE, "createapikey", "--org", "stream-test", "--env", "test"], env=env, cwd=ROOT,
                           check=True, capture_output=True, text=True).stdout.strip()
    port = free_port()
    with open(folder / "daphne.log", "wb") as log:
        process = subprocess.Popen([str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(port),
                                    "amd_project.asgi:application"], env=env, cwd=ROOT, stdout=log, stderr=log)
    try:
        wait_for_port(port, process)
        yield {"url": f"ws://127.0.0.1:{port}/v1/amd/stream", "token": token, "env": env}
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "hello.ulaw"
    path.write_bytes(encode(np.concatenate([silence(200), espeak("Hello? Who is this?"), silence(1200)])))
    return path


def stream(clip: Path, server: dict, *args: str) -> tuple[list[dict], str]:
    out, err = StringIO(), StringIO()
    call_command("amd_stream", str(clip), "--url", server["url"], "--key", server["token"], *args,
                 stdout=out, stderr=err)
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_it_streams_like_twilio_and_prints_the_amd_event_with_every_field(server, clip):
    result = subprocess.run([*MANAGE, "amd_stream", str(clip), "--url", server["url"], "--key", server["token"],
                             "--fast", "--call-id", "ticket-9", "--call-sid", "CA" + "1" * 32],
                            env=server["env"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    [event] = [json.loads(line) for line in result.stdout.splitlines()]
    assert set(event) == SPEC_AMD_FIELDS | {"client_call_id"}
    assert event["event"] == "amd" and event["call_id"].startswith("C_")
    assert event["call_sid"] == "CA" + "1" * 32 and event["stream_sid"].startswith("MZ")
    assert event["client_call_id"] == "ticket-9"
    assert event["answered_by_twilio"] in ("human", "machine_start", "fax", "unknown")
    assert 0 <= event["confidence"] <= 1 and event["decision_ms"] >= 0 and event["reason"]


@pytest.mark.parametrize("auth", ["subprotocol", "query"])
def test_it_can_send_the_key_the_other_two_ways(server, clip, auth):
    events, _err = stream(clip, server, "--fast", "--auth", auth)
    assert [event["event"] for event in events] == ["amd"]


def test_it_paces_frames_in_real_time_unless_fast(server, clip):
    duration_s = len(clip.read_bytes()) / 8000
    began = time.monotonic()
    events, _err = stream(clip, server, "--aggressiveness", "0.9")
    assert time.monotonic() - began >= duration_s - 0.1
    assert [event["event"] for event in events] == ["amd"]


def test_it_exits_non_zero_when_the_server_closes_with_an_error(server, clip):
    with pytest.raises(SystemExit) as exit_info:
        stream(clip, {**server, "token": "pyai_test_" + "x" * 66}, "--fast")
    assert exit_info.value.code == 1
    result = subprocess.run([*MANAGE, "amd_stream", str(clip), "--url", server["url"], "--key", server["token"],
                             "--fast", "--aggressiveness", "7"],
                            env=server["env"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "4400" in result.stderr
    [error] = [json.loads(line) for line in result.stdout.splitlines()]
    assert error["event"] == "error" and error["error"]["param"] == "aggressiveness"


def test_as_twilio_it_gets_no_events_unless_it_asks(server, clip):
    events, _err = stream(clip, server, "--fast", "--twilio")
    assert events == []
    events, _err = stream(clip, server, "--fast", "--twilio", "--socket-events", "true")
    assert [event["event"] for event in events] == ["amd"]
