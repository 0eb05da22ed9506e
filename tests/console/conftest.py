"""A live console for the browser tests: daphne in a subprocess on a loopback port, on its own SQLite
database (migrated once per test module), driven by Debian's Chromium through Playwright."""

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.getenv("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}
PASSWORD = "Tr1cky-Passw0rd!"
STARTUP_TIMEOUT_S = 30


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LiveApp:
    """The console served by daphne; ``seed`` writes rows into its database."""

    def __init__(self, url: str, env: dict, log: Path):
        self.url = url
        self.env = env
        self.log = log

    def api(self, path: str, token: str, method: str = "GET", **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return httpx.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def seed(self, spec: dict) -> dict:
        done = subprocess.run([sys.executable, "-m", "tests.console.seed", json.dumps(spec)], cwd=ROOT,
                              env=self.env, capture_output=True, text=True, timeout=60)
        if done.returncode:
            raise RuntimeError(f"seeding failed:\n{done.stderr}")
        return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def live_app(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("console-live")
    env = {name: value for name, value in os.environ.items() if name not in ("DATABASE_URL", "REDIS_URL")}
    port = _free_port()
    env.update({
        "DJANGO_SETTINGS_MODULE": "amd_project.settings",
        "SECRET_KEY": os.getenv("SECRET_KEY") or "console-browser-tests",
        "DEBUG": "false",
        "SQLITE_PATH": str(tmp / "db.sqlite3"),
        "STATIC_ROOT": str(tmp / "static"),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "WEBHOOK_ALLOW_PRIVATE_HOSTS": "true",
        "PYTHONUNBUFFERED": "1",
    })
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True,
                   timeout=120)
    log = tmp / "daphne.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "amd_project.asgi:application"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    app = LiveApp(f"http://127.0.0.1:{port}", env, log)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while True:
        try:
            if httpx.get(app.url + "/login/", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            pytest.fail(f"the live server did not start:\n{log.read_text()[-4000:]}")
        time.sleep(0.2)
    yield app
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture(scope="module")
def browser():
    """Chromium through Playwright's sync API, for one test module only: while Playwright runs, its event
    loop is the thread's running loop, which other tests' ``async_to_sync`` and ``asyncio.run`` refuse."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: run bin/system-deps (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def desktop(browser, live_app):
    context = browser.new_context(viewport=DESKTOP, base_url=live_app.url)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def phone(browser, live_app):
    context = browser.new_context(viewport=PHONE, base_url=live_app.url, is_mobile=True, has_touch=True,
                                  device_scale_factor=2)
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


def shot(page, name: str) -> Path:
    """Save a full-page screenshot to artifacts/screenshots/<name>-<width>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"]
    path = SCREENSHOTS / f"{name}-{'phone' if width < 600 else 'desktop'}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


_counter = iter(range(1, 1_000_000))


def sign_up(page, organization: str = "Acme Dialers") -> str:
    """Create an account through the sign-up page; return the username."""
    username = f"user{os.getpid()}x{next(_counter)}"
    page.goto("/signup/")
    page.fill("#id_organization", organization)
    page.fill("#id_username", username)
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    return username


def sign_in(page, username: str) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))


def create_key(page, name: str, env: str = "test", scopes: tuple = ("amd:*",)) -> str:
    """Create a key through the console; return the secret shown once."""
    page.goto("/keys/new/")
    page.fill("#id_name", name)
    page.check(f"input[name=env][value='{env}']")
    for box in page.locator("input[name=scopes]").all():
        if box.get_attribute("value") in scopes:
            box.check()
        else:
            box.uncheck()
    page.click("main form button[type=submit]")
    page.wait_for_url(re.compile(r"/keys/[^/]+/created/$"))
    return page.inner_text("#new-key-secret").strip()


class Receiver:
    """A webhook receiver on a loopback port that records what it is sent."""

    def __init__(self, status: int = 200, body: bytes = b'{"received": true}'):
        received = self.received = []
        self.event = threading.Event()
        event = self.event

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                received.append({"path": self.path, "body": self.rfile.read(length),
                                 "headers": {name.lower(): value for name, value in self.headers.items()}})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                event.set()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/amd-events"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def wait(self, count: int = 1, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return len(self.received) >= count

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    instance = Receiver()
    yield instance
    instance.close()


# -- Django test-client fixtures ----------------------------------------------------------------------

def make_call(org, **fields):
    from detection.models import Call

    defaults = {"livemode": True, "aggressiveness": 0.25, "status": "completed", "answered_by": "human",
                "answered_by_twilio": "human", "confidence": 0.9, "decision_ms": 700, "reason": "short reply",
                "evidence": [{"type": "speech", "start_ms": 100, "end_ms": 500}]}
    defaults.update(fields)
    return Call.objects.create(organization=org, **defaults)


def make_delivery(call, url="https://hooks.example.com/amd", attempts=()):
    from detection.models import WebhookAttempt, WebhookDelivery

    delivery = WebhookDelivery.objects.create(organization=call.organization, call=call, event_type="amd", url=url,
                                              body=json.dumps({"call_id": call.pk}), status="failed",
                                              attempt_count=len(attempts))
    for attempt in attempts:
        WebhookAttempt.objects.create(delivery=delivery, **attempt)
    return delivery


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The tenant fixtures create several users; a slow hasher only slows the suite."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def console(tenant):
    """A test client signed in as the tenant's owner."""
    from django.test import Client

    client = Client()
    client.force_login(tenant.owner)
    return client


@pytest.fixture
def replays(monkeypatch):
    """Deliveries passed to ``detection.webhooks.replay`` (recorded, not sent)."""
    from detection import webhooks

    seen = []
    monkeypatch.setattr(webhooks, "replay", lambda delivery: seen.append(delivery.pk) or delivery)
    return seen
