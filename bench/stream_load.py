"""Load test of the stream socket: N concurrent Twilio-style streams against one daphne process.

Starts daphne on a free 127.0.0.1 port with a throwaway SQLite database (or --database-url) and a test
key sized for the load, or targets a server given with --url and --key. Streams a generated call clip
on each of --streams sockets: all at once as fast as the server takes them (default), or paced in real
time (--realtime, 20 ms per frame) with calls arriving at --arrival-rate per second. Reports the frames
per second the server sustained, its CPU time per frame, and the decision latency: wall time from
sending the frame at which the detector decided (``decision_ms``) to receiving the ``amd`` event.
Traffic goes only to loopback; the run is bounded by --streams (at most 500) and --time-limit, and
stops by itself. The server's speech recognizer follows AMD_RECOGNIZER (on unless set to false).

    AMD_RECOGNIZER=false .venv/bin/python bench/stream_load.py --streams 200
    AMD_RECOGNIZER=false .venv/bin/python bench/stream_load.py --streams 50 --realtime
    .venv/bin/python bench/stream_load.py --streams 40 --realtime --arrival-rate 4 --seconds 10
"""

import argparse
import asyncio
import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from detection.engine import audio, ulaw  # noqa: E402

MAX_STREAMS = 500
FRAME_S = audio.FRAME_MS / 1000
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
GREETING = ("Hi, you have reached the voicemail of John Smith at Acme Corporation. I am not available right now, "
            "so please leave your name, your number and a short message after the tone.")


def clip_ulaw(seconds: float) -> bytes:
    """A voicemail-like call: 0.3 s of line noise, then a spoken greeting (espeak-ng) or, without it,
    syllable-rate modulated harmonics; cut or padded with noise to ``seconds``."""
    rng = np.random.default_rng(7)
    n = int(seconds * audio.TARGET_RATE)
    if shutil.which("espeak-ng"):
        with tempfile.TemporaryDirectory() as folder:
            wav = Path(folder) / "greeting.wav"
            subprocess.run(["espeak-ng", "-w", str(wav), GREETING], check=True, capture_output=True)
            speech = audio.load_linear(wav)
    else:
        t = np.arange(n) / audio.TARGET_RATE
        voiced = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 12))
        speech = 4000 * voiced * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) ** 2
    x = np.concatenate([np.zeros(int(0.3 * audio.TARGET_RATE)), speech])[:n]
    x = np.concatenate([x, np.zeros(n - len(x))]) + 30 * rng.standard_normal(n)
    return ulaw.encode(x)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Server:
    """daphne on a free loopback port, its own SQLite database and a test key sized for the load."""

    def __init__(self, streams: int, database_url: str | None):
        self.folder = Path(tempfile.mkdtemp(prefix="amd-bench-"))
        self.env = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "REDIS_URL")}
        if database_url:
            self.env["DATABASE_URL"] = database_url
        self.env.update(SECRET_KEY="bench-secret", SQLITE_PATH=str(self.folder / "db.sqlite3"), DEBUG="false",
                        LOG_LEVEL="WARNING", KEY_DEFAULT_CONCURRENT_STREAMS=str(streams + 10),
                        KEY_DEFAULT_RATE_PER_SECOND="1000", KEY_DEFAULT_BURST=str(streams + 100))
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=self.env, cwd=ROOT, check=True)
        self.key = subprocess.run([*manage, "createapikey", "--org", "bench", "--env", "test"], env=self.env,
                                  cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
        self.port = free_port()
        self.url = f"ws://127.0.0.1:{self.port}/v1/amd/stream"
        self.log = open(self.folder / "daphne.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / "daphne"), "-b", "127.0.0.1", "-p", str(self.port),
             "amd_project.asgi:application"], env=self.env, cwd=ROOT, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"daphne exited; see {self.folder / 'daphne.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise SystemExit("daphne did not start listening")

    def stop(self, show_log: bool = False):
        self.process.terminate()
        self.process.wait(timeout=15)
        self.log.close()
        if show_log:
            lines = (self.folder / "daphne.log").read_text(errors="replace").splitlines()
            print("daphne log (last 40 lines):", *lines[-40:], sep="\n")
        shutil.rmtree(self.folder, ignore_errors=True)


class Result:
    def __init__(self):
        self.frames = 0
        self.latency_s: float | None = None
        self.decision_ms: int | None = None
        self.close_code: int | None = None
        self.error: str | None = None


async def one_stream(index: int, url: str, key: str, pushes: list, realtime: bool, go: asyncio.Event,
                     delay_s: float, connected: list) -> Result:
    result = Result()
    stream_sid, call_sid = f"MZbench{index:06d}", f"CAbench{index:06d}"
    sent_at: dict[int, float] = {}
    amd = asyncio.get_running_loop().create_future()

    async def listen(ws):
        try:
            async for frame in ws:
                event = json.loads(frame)
                if event.get("event") == "amd" and not amd.done():
                    amd.set_result((time.perf_counter(), event["decision_ms"]))
                elif event.get("event") == "error":
                    result.error = event["error"]["message"]
        except ConnectionClosed as exc:
            result.error = result.error or repr(exc)

    await asyncio.sleep(delay_s)
    try:
        async with connect(url, compression=None, proxy=None, open_timeout=60, max_queue=None) as ws:
            listener = asyncio.create_task(listen(ws))
            await ws.send(json.dumps({"event": "connected", "protocol": "Call", "version": "1.0.0"}))
            await ws.send(json.dumps({
                "event": "start", "sequenceNumber": "1", "streamSid": stream_sid,
                "start": {"accountSid": "ACbench", "streamSid": stream_sid, "callSid": call_sid,
                          "tracks": ["inbound"], "customParameters": {"api_key": key},
                          "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}},
            }))
            connected.append(index)
            await go.wait()
            began = time.perf_counter()
            for i, (payload, timestamp) in enumerate(pushes):
                if realtime:
                    delay = began + i * FRAME_S - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                elif i % 25 == 0:
                    await asyncio.sleep(0)  # let the other streams send too
                sent_at[timestamp] = time.perf_counter()
                await ws.send(json.dumps({
                    "event": "media", "sequenceNumber": str(i + 2), "streamSid": stream_sid,
                    "media": {"track": "inbound", "chunk": str(i + 1), "timestamp": str(timestamp),
                              "payload": payload},
                }))
                result.frames += 1
            await ws.send(json.dumps({"event": "stop", "sequenceNumber": str(len(pushes) + 2),
                                      "streamSid": stream_sid, "stop": {"accountSid": "ACbench",
                                                                        "callSid": call_sid}}))
            await listener
            result.close_code = ws.close_code
            if ws.close_code is None:
                result.close_code = getattr(ws.close_rcvd, "code", None)
    except (ConnectionClosed, OSError, TimeoutError) as exc:
        result.error = result.error or repr(exc)
    if amd.done():
        received, decision_ms = amd.result()
        result.decision_ms = decision_ms
        deciding = max((ts for ts in sent_at if ts < decision_ms), default=None)
        if deciding is not None:
            result.latency_s = received - sent_at[deciding]
    return result


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def run(url: str, key: str, streams: int, pushes: list, realtime: bool, arrival_rate: float,
              time_limit: float, pid: int | None):
    """Real time: calls arrive at ``arrival_rate`` per second and each streams at once. As fast as possible:
    every call connects and starts first, then all stream together."""
    go = asyncio.Event()
    connected: list[int] = []
    tasks = [asyncio.create_task(one_stream(i, url, key, pushes, realtime, go, i / arrival_rate if realtime else 0,
                                            connected)) for i in range(streams)]
    if realtime:
        go.set()
    else:
        settle_until = time.monotonic() + min(30.0, 5 + streams * 0.05)
        while len(connected) < streams and time.monotonic() < settle_until:
            await asyncio.sleep(0.05)
        await asyncio.sleep(min(5.0, 0.5 + streams * 0.02))  # the server creates each call's record on start
    cpu_before = cpu_seconds(pid) if pid else None
    client_before = time.process_time()
    began = time.perf_counter()
    go.set()
    done, pending = await asyncio.wait(tasks, timeout=time_limit)
    elapsed = time.perf_counter() - began
    cpu_used = cpu_seconds(pid) - cpu_before if pid else None
    client_cpu = time.process_time() - client_before
    for task in pending:
        task.cancel()
    return [task.result() for task in done], len(pending), elapsed, cpu_used, client_cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=100, help=f"concurrent streams (at most {MAX_STREAMS})")
    parser.add_argument("--seconds", type=float, default=8.0, help="audio per stream (s)")
    parser.add_argument("--realtime", action="store_true", help="pace each stream at 20 ms per frame")
    parser.add_argument("--arrival-rate", type=float, default=50.0,
                        help="with --realtime: new calls per second (default 50)")
    parser.add_argument("--time-limit", type=float, default=180.0, help="stop after this many seconds")
    parser.add_argument("--database-url", help="the started server's database (default: a throwaway SQLite file)")
    parser.add_argument("--url", help="target this server instead of starting one (loopback only)")
    parser.add_argument("--key", help="API key for --url")
    args = parser.parse_args()
    if args.arrival_rate <= 0:
        parser.error("--arrival-rate must be positive")
    if not 1 <= args.streams <= MAX_STREAMS:
        parser.error(f"--streams must be 1..{MAX_STREAMS}")
    if args.url and (not args.key or urlsplit(args.url).hostname not in LOOPBACK_HOSTS):
        parser.error("--url must be a loopback address and needs --key")

    pushes = [(base64.b64encode(payload).decode(), ts) for payload, ts in audio.frames(clip_ulaw(args.seconds))]
    server = None if args.url else Server(args.streams, args.database_url)
    results, unfinished = [], 0
    try:
        url, key = (args.url, args.key) if args.url else (server.url, server.key)
        results, unfinished, elapsed, cpu, client_cpu = asyncio.run(
            run(url, key, args.streams, pushes, args.realtime, args.arrival_rate, args.time_limit,
                server and server.process.pid))
    finally:
        if server:
            server.stop(show_log=unfinished > 0 or any(r.close_code != 1000 for r in results))

    frames = sum(r.frames for r in results)
    load = os.getloadavg()
    latencies = [r.latency_s * 1000 for r in results if r.latency_s is not None]
    decisions = [r.decision_ms for r in results if r.decision_ms is not None]
    failed = [r for r in results if r.close_code != 1000]
    mode = f"real time, {args.arrival_rate:g} new calls/s" if args.realtime else "as fast as possible"
    print(f"streams: {args.streams} ({mode}), "
          f"{len(pushes)} frames of 20 ms each ({args.seconds:g} s of audio)")
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} (other processes share the cores)")
    if server:
        words = os.getenv("AMD_RECOGNIZER", "true").strip().lower() in {"1", "true", "yes", "on"}
        print(f"server: one daphne, {'PostgreSQL' if args.database_url else 'SQLite'}, speech recognizer "
              f"{'on' if words else 'off (AMD_RECOGNIZER=false)'}")
    print(f"completed: {len(results) - len(failed)}  failed: {len(failed)}  unfinished: {unfinished}")
    for r in failed[:3]:
        print(f"  failure: close {r.close_code} {r.error or ''}")
    print(f"frames: {frames} in {elapsed:.2f} s = {frames / elapsed:,.0f} frames/s sustained "
          f"({frames / elapsed / 50:,.0f} real-time call equivalents)")
    if cpu is not None:
        print(f"daphne CPU: {cpu:.2f} s = {cpu / max(1, frames) * 1e6:.0f} µs per frame "
              f"({cpu / elapsed * 100:.0f}% of one core)")
    print(f"load client CPU: {client_cpu:.2f} s ({client_cpu / elapsed * 100:.0f}% of one core)")
    if latencies:
        print(f"decision latency (frame at decision_ms sent → amd received): median {statistics.median(latencies):.1f} "
              f"ms, p95 {percentile(latencies, 0.95):.1f} ms, max {max(latencies):.1f} ms over {len(latencies)} calls")
    if decisions:
        print(f"decision_ms (audio time): median {statistics.median(decisions):.0f} ms")
    return 0 if not failed and not unfinished else 1


if __name__ == "__main__":
    sys.exit(main())
