"""Fixtures: a real local HTTP receiver, webhook settings, and a way to wait for background webhook work."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from detection import webhooks

from .support import Received, Receiver


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            with state.lock:
                state.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()},
                                               body, time.monotonic()))
            status, headers, payload, delay = state.next_answer(self.path)
            if delay:
                time.sleep(delay)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def private_hosts(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    return settings


@pytest.fixture
def fast_retries(settings):
    settings.WEBHOOK_RETRY_DELAYS_S = [0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]
    return settings.WEBHOOK_RETRY_DELAYS_S


@pytest.fixture
def drain():
    """Wait for embedded webhook work; also guarantees none is left running after the test."""
    def wait(timeout: float = 15.0):
        assert webhooks.wait_for_embedded_deliveries(timeout), "background webhook work did not finish"

    yield wait
    webhooks.wait_for_embedded_deliveries(30)

