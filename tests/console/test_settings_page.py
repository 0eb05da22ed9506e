"""AMD settings in the console are the organization's config the API reads."""

import hashlib
import hmac
import re

import pytest

from .conftest import Receiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def local_hosts(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True


@pytest.fixture
def answering(local_hosts):
    instance = Receiver(status=200, body=b'{"ok": "yes"}')
    yield instance
    instance.close()


def test_saving_is_what_get_config_returns(console, tenant, local_hosts):
    response = console.post("/settings/", {"aggressiveness": "0.65", "webhook_url": "https://hooks.example.com/amd",
                                           "detect_message_end": "on"})
    assert response.status_code == 302
    config = tenant.client().get("/v1/amd/config").json()
    assert config["aggressiveness"] == 0.65
    assert config["webhook_url"] == "https://hooks.example.com/amd"
    assert config["detect_message_end"] is True

    console.post("/settings/", {"aggressiveness": "0", "webhook_url": ""})
    config = tenant.client().get("/v1/amd/config").json()
    assert config == {**config, "aggressiveness": 0.0, "webhook_url": None, "detect_message_end": False}


def test_the_page_shows_what_the_api_set(console, tenant):
    tenant.client().post("/v1/amd/config", {"aggressiveness": 0.8, "detect_message_end": True}, format="json")
    html = console.get("/settings/").content.decode()
    assert 'name="aggressiveness" value="0.8"' in html
    assert 'x1="80.0%"' in html
    assert "<span data-dial-band>machine-aggressive</span>" in html
    assert re.search(r'<input type="checkbox" name="detect_message_end"[^>]* checked>', html)


def test_the_curve_is_announced_until_the_evaluation_exists_then_drawn(console, tmp_path, monkeypatch, settings):
    from detection import console as pages

    settings.AMD_RECOGNIZER = False  # the timing-only curve (the other file is the same page's other case)
    monkeypatch.setattr(pages, "OPERATING_POINTS_PATH", tmp_path / "operating_points.json")
    html = console.get("/settings/").content.decode()
    assert 'id="curve-pending"' in html and "op-curve" not in html

    (tmp_path / "operating_points.json").write_text(
        '{"points": [{"aggressiveness": 0.0, "false_machine_rate": 0.01, "median_decision_ms": 2400},'
        ' {"aggressiveness": 1.0, "false_machine_rate": 0.08, "median_decision_ms": 1100}]}'
    )
    html = console.get("/settings/").content.decode()
    assert 'id="curve-pending"' not in html
    assert 'points="0.0000,0.9900 1.0000,0.9200"' in html
    assert "False machine rate" in html and "Median decision ms" in html and "2400" in html


def test_the_curve_drawn_is_the_one_measured_with_the_recognizer_when_the_server_runs_it(
        console, tmp_path, monkeypatch, settings):
    from detection import console as pages

    monkeypatch.setattr(pages, "OPERATING_POINTS_PATH", tmp_path / "timing.json")
    monkeypatch.setattr(pages, "OPERATING_POINTS_WITH_WORDS_PATH", tmp_path / "words.json")
    for name, rate in (("timing", 0.3), ("words", 0.05)):
        (tmp_path / f"{name}.json").write_text(
            '{"points": [{"aggressiveness": 0.0, "false_machine_rate": 0.01, "median_decision_ms": 2400},'
            f' {{"aggressiveness": 1.0, "false_machine_rate": {rate}, "median_decision_ms": 1100}}]}}'
        )
    settings.AMD_RECOGNIZER = False
    assert 'points="0.0000,0.9900 1.0000,0.7000"' in console.get("/settings/").content.decode()
    settings.AMD_RECOGNIZER = True
    assert 'points="0.0000,0.9900 1.0000,0.9500"' in console.get("/settings/").content.decode()


def test_the_signing_secret_is_revealed_only_on_request_and_rotates(console, tenant):
    secret = tenant.org.webhook_signing_secret
    assert secret not in console.get("/settings/").content.decode()
    revealed = console.post("/settings/signing-secret/", {"action": "reveal"}).content.decode()
    assert f'<code id="signing-secret-value">{secret}</code>' in revealed

    response = console.post("/settings/signing-secret/", {"action": "rotate"})
    assert response.status_code == 302
    tenant.org.refresh_from_db()
    assert tenant.org.webhook_signing_secret != secret
    assert tenant.org.webhook_signing_secret_hint in console.get("/settings/").content.decode()
    assert tenant.client().get("/v1/amd/config").json()["webhook_signing_secret_hint"] == \
        tenant.org.webhook_signing_secret_hint


def test_a_test_webhook_shows_the_receivers_answer(console, tenant, answering):
    tenant.org.webhook_url = answering.url
    tenant.org.save()
    html = console.post("/settings/test-webhook/", {"url": ""}).content.decode()
    answer = html.split('id="test-answer"', 1)[1].split("</div>", 1)[0]
    assert "HTTP 200" in answer and answering.url in answer and "{&quot;ok&quot;: &quot;yes&quot;}" in answer
    assert answering.wait(1)
    sent = answering.received[0]
    t, v1 = (part.split("=", 1)[1] for part in sent["headers"]["pyai-signature"].split(","))
    expected = hmac.new(tenant.org.webhook_signing_secret.encode(), f"{t}.".encode() + sent["body"], hashlib.sha256)
    assert v1 == expected.hexdigest()


def test_a_failing_receiver_is_reported(console, local_hosts):
    failing = Receiver(status=503, body=b"maintenance")
    try:
        html = console.post("/settings/test-webhook/", {"url": failing.url}).content.decode()
    finally:
        failing.close()
    assert 'class="callout bad"' in html and "HTTP 503" in html and "maintenance" in html


def test_a_test_webhook_needs_a_url(console):
    from .html import field_errors

    response = console.post("/settings/test-webhook/", {"url": ""})
    assert response.status_code == 400
    assert field_errors(response.content.decode(), "url") == [
        "There is no default webhook URL: enter one here or save one above."
    ]
