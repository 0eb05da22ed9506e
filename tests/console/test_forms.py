"""Form errors are shown next to the field they are about."""

import pytest
from django.test import Client

from detection import tryit

from .html import field_block, field_errors

pytestmark = pytest.mark.django_db


def test_settings_errors_sit_next_to_their_fields(console, tenant):
    response = console.post("/settings/", {"aggressiveness": "1.5", "webhook_url": "ftp://example.com/hook"})
    assert response.status_code == 400
    html = response.content.decode()
    assert field_errors(html, "aggressiveness") == ["Ensure this value is less than or equal to 1.0."]
    assert field_errors(html, "webhook_url") == ["Webhook URL must use http or https."]
    assert field_errors(html, "detect_message_end") == []
    assert 'value="ftp://example.com/hook"' in field_block(html, "webhook_url")
    tenant.org.refresh_from_db()
    assert tenant.org.aggressiveness == 0.25 and tenant.org.webhook_url == ""


def test_a_private_webhook_host_is_refused_inline_unless_allowed(console, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    html = console.post("/settings/", {"aggressiveness": "0.3", "webhook_url": "http://10.1.2.3/hook"}).content
    assert field_errors(html.decode(), "webhook_url") == ["Webhook host resolves to a non-public address (10.1.2.3)."]


def test_key_form_errors_sit_next_to_their_fields(console):
    response = console.post("/keys/new/", {"name": "", "env": "prod"})
    html = response.content.decode()
    assert field_errors(html, "name") == ["This field is required."]
    assert field_errors(html, "env") == ["Select a valid choice. prod is not one of the available choices."]
    assert field_errors(html, "scopes") == ["Choose at least one scope."]


def test_sign_up_errors_sit_next_to_their_fields(tenant):
    response = Client().post("/signup/", {"organization": "  ", "username": tenant.owner.username,
                                          "password1": "Tr1cky-Passw0rd!", "password2": "different-Passw0rd!"})
    html = response.content.decode()
    assert field_errors(html, "organization") == ["This field is required."]
    assert field_errors(html, "username") == ["A user with that username already exists."]
    assert field_errors(html, "password2") == ["The two password fields didn’t match."]
    assert field_errors(html, "password1") == []


def test_a_wrong_password_is_reported_on_the_form(tenant):
    html = Client().post("/login/", {"username": tenant.owner.username, "password": "wrong"}).content.decode()
    assert "Please enter a correct username and password" in html.split('class="form-errors"', 1)[1]


def test_try_it_errors_sit_next_to_the_recording_field(console, monkeypatch):
    def upload(name, data, aggressiveness="0.25"):
        from django.core.files.uploadedfile import SimpleUploadedFile

        response = console.post("/try/", {"recording": SimpleUploadedFile(name, data),
                                          "aggressiveness": aggressiveness})
        assert response.status_code == 400
        return response.content.decode()

    html = upload("notes.txt", b"hello, not audio")
    assert field_errors(html, "recording")[0].startswith("This is not a WAV file.")
    html = upload("long.ulaw", b"\xff" * 8 * 61_000)
    assert field_errors(html, "recording") == ["The recording is 61.0 s long; the limit is 60 s."]
    html = upload("x.ulaw", b"\xff" * 800, aggressiveness="2")
    assert field_errors(html, "aggressiveness") == ["Ensure this value is less than or equal to 1.0."]
    monkeypatch.setattr(tryit, "MAX_UPLOAD_BYTES", 1024 * 1024)
    html = upload("big.ulaw", b"\xff" * (1024 * 1024 + 1))
    assert field_errors(html, "recording") == ["The file is 1.0 MB; the limit is 1 MB."]


def test_a_reversed_date_range_is_reported_on_the_end_date(console):
    html = console.get("/calls/", {"created_after": "2026-05-02", "created_before": "2026-05-01"}).content.decode()
    assert field_errors(html, "created_before") == ["The end date is before the start date."]
    assert field_errors(html, "created_after") == []


def test_an_oversized_upload_is_refused_before_it_is_read(console, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from detection import console as pages

    monkeypatch.setattr(tryit, "MAX_UPLOAD_BYTES", 1024 * 1024)
    monkeypatch.setattr(pages, "UPLOAD_OVERHEAD_BYTES", 1024)
    monkeypatch.setattr(tryit, "run_file", lambda *args, **kwargs: pytest.fail("the upload was analysed"))
    response = console.post("/try/", {"recording": SimpleUploadedFile("big.ulaw", b"\xff" * (1024 * 1024 + 4096)),
                                      "aggressiveness": "0.25"})
    assert response.status_code == 400
    assert field_errors(response.content.decode(), "recording") == ["The file is larger than 1 MB."]
