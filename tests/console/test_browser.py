"""The console in a real browser (headless Chromium) against a live daphne server."""

import hashlib
import hmac
import json
import re

import pytest

from detection import tryit

from .audio import greeting_with_beep_wav, speech_wav
from .conftest import create_key, shot, sign_in, sign_up

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VOICEMAIL_EVIDENCE = [
    {"type": "speech", "start_ms": 180, "end_ms": 1460},
    {"type": "speech", "start_ms": 1650, "end_ms": 3120},
    {"type": "phrase", "start_ms": 1700, "end_ms": 2900, "text": "leave a message", "answered_by": "voicemail"},
    {"type": "beep", "start_ms": 4300, "end_ms": 4720, "freq_hz": 1000, "share": 0.93},
]


def test_sign_up_create_a_key_see_it_once_then_revoke_it_and_the_api_refuses_it(desktop, live_app):
    page = desktop
    page.goto("/signup/")
    shot(page, "signup")
    sign_up(page, organization="Acme Dialers")
    assert page.inner_text(".org-name") == "Acme Dialers"
    assert page.inner_text("[data-stat=answered] .value") == "0"
    assert "of 5,000 free" in page.inner_text("[data-stat=answered]")
    shot(page, "overview-empty")

    token = create_key(page, "dialer staging", env="test", scopes=("amd:*",))
    assert re.fullmatch(r"pyai_test_[A-Za-z0-9_-]+", token)
    assert page.is_visible("[data-copy=new-key-secret]")
    assert "shown only this once" in page.inner_text(".callout.warning")
    shot(page, "key-created")

    me = live_app.api("/v1/me", token)
    assert me.status_code == 200, me.text
    assert me.json()["organization"]["name"] == "Acme Dialers"
    assert me.json()["key"]["name"] == "dialer staging"

    page.reload()
    assert token not in page.content()
    assert page.locator("#new-key-secret").count() == 0
    assert page.is_visible("#secret-gone")

    page.goto("/keys/")
    row = page.locator("#keys-table tbody tr", has_text="dialer staging")
    assert token not in page.content()
    assert row.locator("code").first.inner_text() == me.json()["key"]["masked"]
    shot(page, "keys")

    row.locator("text=Revoke").click()
    page.wait_for_url(re.compile(r"/revoke/$"))
    shot(page, "key-revoke")
    page.click("button:has-text('Revoke key')")
    page.wait_for_url(re.compile(r"/keys/$"))
    assert "revoked" in page.locator("#keys-table tbody tr", has_text="dialer staging").inner_text()

    refused = live_app.api("/v1/me", token)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "unauthorized"


def test_the_dial_and_webhook_settings_are_what_the_api_returns(desktop, live_app, receiver):
    page = desktop
    sign_up(page, organization="Dial Co")
    token = create_key(page, "config key", env="live", scopes=("amd:configure",))
    before = live_app.api("/v1/amd/config", token).json()
    assert before["aggressiveness"] == 0.25

    page.goto("/settings/")
    page.fill("#id_aggressiveness", "0.72")
    assert page.input_value("#aggressiveness-range") == "0.72"
    assert page.inner_text("[data-dial-band]") == "machine-aggressive"
    page.fill("#id_webhook_url", "ftp://example.com/hook")
    page.click("#settings-form button[type=submit]")
    errors = page.locator("[data-field=webhook_url] .field-errors")
    assert "http or https" in errors.inner_text()
    assert live_app.api("/v1/amd/config", token).json()["aggressiveness"] == 0.25

    page.fill("#id_aggressiveness", "0.72")
    page.fill("#id_webhook_url", receiver.url)
    page.check("#id_detect_message_end")
    page.click("#settings-form button[type=submit]")
    page.wait_for_selector(".messages li.success")
    config = live_app.api("/v1/amd/config", token).json()
    assert config["aggressiveness"] == 0.72
    assert config["webhook_url"] == receiver.url
    assert config["detect_message_end"] is True
    assert page.get_attribute("[data-dial-marker]", "x1") == "72.0%"
    shot(page, "settings")

    page.click("#test-webhook button[type=submit]")
    answer = page.locator("#test-answer")
    assert "HTTP 200" in answer.inner_text()
    assert '"received": true' in answer.inner_text()
    assert receiver.wait(1)
    shot(page, "settings-test-webhook")
    request = receiver.received[0]
    page.click("#signing-secret button:has-text('Reveal')")
    secret = page.inner_text("#signing-secret-value").strip()
    assert config["webhook_signing_secret_hint"].endswith(secret[-4:])
    signature = dict(part.split("=", 1) for part in request["headers"]["pyai-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{signature['t']}.".encode() + request["body"], hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature["v1"], expected)

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#signing-secret button:has-text('Rotate')")
    page.wait_for_selector(".messages li.success")
    rotated = live_app.api("/v1/amd/config", token).json()["webhook_signing_secret_hint"]
    assert rotated != config["webhook_signing_secret_hint"]
    assert page.inner_text("#signing-secret-hint") == rotated


def test_try_it_runs_a_recording_through_the_detector_and_draws_its_timeline(desktop):
    page = desktop
    sign_up(page, organization="Tryout Ltd")
    page.goto("/try/")
    shot(page, "try-empty")

    recording = speech_wav("hello?", silence_s=3.0)
    expected = tryit.run_file(recording, 0.25)["decision"]
    page.set_input_files("#id_recording", {"name": "hello.wav", "mimeType": "audio/wav", "buffer": recording})
    page.fill("#id_aggressiveness", "0.25")
    page.click("main form button[type=submit]")
    page.wait_for_selector("#try-timeline")
    result = page.inner_text("#result")
    assert expected["answered_by"] in result
    assert f"{expected['decision_ms']} ms" in result
    assert expected["reason"] in result
    speech = page.locator("#try-timeline rect.ev-speech")
    assert speech.count() == sum(1 for item in expected["evidence"] if item["type"] == "speech") > 0
    marker = page.locator("#try-timeline [data-marker=decision]")
    assert marker.count() == 1
    assert float(marker.get_attribute("x1").rstrip("%")) > float(speech.first.get_attribute("x").rstrip("%"))
    shot(page, "try-result")

    page.set_input_files("#id_recording", {"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not audio"})
    page.click("main form button[type=submit]")
    error = page.locator("[data-field=recording] .field-errors")
    assert "not a WAV file" in error.inner_text()
    assert page.locator("#try-timeline").count() == 0

    greeting = greeting_with_beep_wav()
    expected = tryit.run_file(greeting, 0.6, detect_message_end=True)
    page.set_input_files("#id_recording", {"name": "greeting.wav", "mimeType": "audio/wav", "buffer": greeting})
    page.fill("#id_aggressiveness", "0.6")
    page.check("#id_detect_message_end")
    page.click("main form button[type=submit]")
    page.wait_for_selector("#try-timeline")
    assert expected["decision"]["answered_by"] in page.inner_text("#result .decision-head")
    assert expected["message_end"]["answered_by_twilio"] in page.inner_text("#result")
    assert page.locator("#try-timeline [data-marker=message-end]").count() == 1
    beeps = [item for item in expected["decision"]["evidence"] + expected["message_end"]["evidence"]
             if item["type"] == "beep"]
    assert beeps and page.locator("#try-timeline rect.ev-beep").count() == len({b["start_ms"] for b in beeps})
    shot(page, "try-voicemail")


def test_a_call_page_shows_the_decision_timeline_and_replays_a_webhook(desktop, live_app, receiver):
    page = desktop
    username = sign_up(page, organization="Callers Inc")
    seeded = live_app.seed({"username": username, "calls": [
        {"livemode": True, "aggressiveness": 0.25, "status": "completed", "call_sid": "CA" + "1" * 32,
         "answered_by": "voicemail", "answered_by_twilio": "machine_start", "confidence": 0.94, "decision_ms": 3120,
         "reason": "machine phrase: 'leave a message' at 1.7s", "evidence": VOICEMAIL_EVIDENCE,
         "message_end": {"answered_by_twilio": "machine_end_beep", "beep_ms": 4300, "message_end_ms": 4720,
                         "reason": "1000 Hz beep, 420 ms, at 4.3s"},
         "audio_ms": 9000, "ago_minutes": 5,
         "deliveries": [{"url": receiver.url, "event_type": "amd", "status": "failed",
                         "attempts": [{"status_code": 500, "duration_ms": 31, "response_body": "oops"}]}]},
        {"livemode": False, "aggressiveness": 0.8, "status": "completed", "call_sid": "CA" + "2" * 32,
         "answered_by": "human", "answered_by_twilio": "human", "confidence": 0.88, "decision_ms": 900,
         "reason": "short reply", "evidence": [{"type": "speech", "start_ms": 100, "end_ms": 600}],
         "ago_minutes": 1},
    ]})
    call_id = seeded["calls"][0]

    page.goto("/calls/")
    assert page.locator("#calls-table tbody tr").count() == 2
    page.select_option("#id_answered_by", "voicemail")
    page.click("form.filters button[type=submit]")
    rows = page.locator("#calls-table tbody tr")
    assert rows.count() == 1
    shot(page, "calls")
    rows.first.locator("a.answer").click()
    page.wait_for_url(re.compile(f"/calls/{call_id}/$"))

    timeline = page.locator("#call-timeline")
    assert timeline.locator("rect.ev-speech").count() == 2
    assert timeline.locator("rect.ev-beep").count() == 1
    assert timeline.locator("rect.ev-phrase").count() == 1
    assert "leave a message" in timeline.inner_text()
    decision = timeline.locator("[data-marker=decision]")
    beep = timeline.locator("rect.ev-beep")
    assert float(decision.get_attribute("x1").rstrip("%")) < float(beep.get_attribute("x").rstrip("%"))
    assert timeline.locator("[data-marker=message-end]").count() == 1
    assert "machine_start" in page.inner_text(".decision-head")
    assert "0.94" in page.inner_text(".kpis")
    shot(page, "call-detail")

    delivery = page.locator(f"[data-delivery-id='{seeded['deliveries'][0]}']")
    assert delivery.locator("tbody tr").count() == 1
    page.once("dialog", lambda dialog: dialog.accept())
    delivery.locator("button:has-text('Replay')").click()
    page.wait_for_selector(".messages li.success")
    assert receiver.wait(1), "the replayed event never reached the receiver"
    sent = json.loads(receiver.received[0]["body"])
    assert sent["call_id"] == call_id
    for _ in range(50):
        page.reload()
        if page.locator(f"[data-delivery-id='{seeded['deliveries'][0]}'] tbody tr").count() == 2:
            break
        page.wait_for_timeout(100)
    attempts = page.locator(f"[data-delivery-id='{seeded['deliveries'][0]}'] tbody tr")
    assert attempts.count() == 2
    assert "200" in attempts.nth(1).inner_text()


PAGES = ["/", "/calls/", "/calls/{call}/", "/try/", "/keys/", "/keys/new/", "/settings/", "/usage/"]


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_every_page_fits_the_screen_at_desktop_and_phone_width(request, live_app, width):
    page = request.getfixturevalue(width)
    if width == "desktop":
        username = sign_up(page, organization="Wide Screen Telecom")
    else:
        page.goto("/signup/")
        shot(page, "signup")
        username = sign_up(page, organization="Pocket Telecom")
    seeded = live_app.seed({"username": username, "calls": [
        {"livemode": True, "aggressiveness": 0.25, "status": "completed", "call_sid": f"CA{n:032d}",
         "answered_by": answered_by, "answered_by_twilio": twilio, "confidence": 0.9, "decision_ms": ms,
         "reason": "seeded", "evidence": VOICEMAIL_EVIDENCE if answered_by == "voicemail" else
         [{"type": "speech", "start_ms": 120, "end_ms": 700}], "audio_ms": 6000, "billable": True,
         "ago_minutes": n}
        for n, (answered_by, twilio, ms) in enumerate([
            ("voicemail", "machine_start", 3120), ("human", "human", 880), ("human", "human", 640),
            ("ivr", "machine_start", 1900), ("fax", "fax", 1200), ("silence", "unknown", 5000),
        ])
    ], "rollups": [{"period": "2025-12-01", "billable_calls": 6200, "free_calls": 5000, "charged_calls": 1200,
                    "amount_usd": "4.800"}]})
    token = create_key(page, "live dialer", env="live", scopes=("amd:detect", "amd:read"))
    assert token.startswith("pyai_live_")
    page.click("button:has-text('Sign out')")
    page.wait_for_url(re.compile(r"/login/$"))
    page.goto("/keys/")
    assert page.url.endswith("/login/?next=/keys/")
    shot(page, "login")
    sign_in(page, username)
    for path in PAGES:
        page.goto(path.format(call=seeded["calls"][0]))
        assert page.locator("main h1").count() == 1
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{path} scrolls sideways by {overflow}px at {width} width"
        name = {"/": "overview", "/calls/{call}/": "call-detail"}.get(path, path.strip("/").replace("/", "-"))
        shot(page, name)
    page.goto("/")
    assert page.locator("#decision-breakdown [data-answered-by]").count() == 5
    assert page.locator("#decision-histogram rect.bar").count() == 9
    twiml = page.inner_text("#twiml")
    assert f'<Stream url="ws://{live_app.url.split("://")[1]}/v1/amd/stream">' in twiml
    assert '<Parameter name="api_key" value="YOUR_API_KEY"/>' in twiml
