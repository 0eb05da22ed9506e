"""API keys in the console: created with a secret shown exactly once, listed masked, revoked for good."""

import re

import pytest

from accounts.models import ApiKey
from accounts.views import NEW_KEY_SESSION_PREFIX

pytestmark = pytest.mark.django_db


def _create(console, **data):
    response = console.post("/keys/new/", {"name": "dialer", "env": "live", "scopes": ["amd:detect", "amd:read"],
                                           **data})
    assert response.status_code == 302
    page = console.get(response["Location"])
    token = re.search(r'<code id="new-key-secret">([^<]+)</code>', page.content.decode()).group(1)
    return response["Location"], page, token


def test_a_new_key_is_shown_once_and_works(console, tenant):
    location, page, token = _create(console)
    assert page["Cache-Control"].startswith("max-age=0") and "no-store" in page["Cache-Control"]
    key = ApiKey.objects.get(organization=tenant.org, name="dialer")
    assert location == f"/keys/{key.pk}/created/"
    assert token.startswith("pyai_live_") and key.masked == f"pyai_live_{token[10:14]}…{token[-4:]}"
    assert key.scopes == ["amd:detect", "amd:read"] and key.env == "live" and key.created_by == tenant.owner
    assert tenant.client(token).get("/v1/me").json()["key"]["id"] == key.pk

    again = console.get(location).content.decode()
    assert token not in again
    assert "cannot be shown" in again and key.masked in again
    assert not [name for name in console.session.keys() if name.startswith(NEW_KEY_SESSION_PREFIX)]


def test_the_key_list_shows_masked_keys_never_secrets(console, tenant):
    _, _, token = _create(console, name="listed")
    listing = console.get("/keys/").content.decode()
    key = ApiKey.objects.get(name="listed")
    assert token not in listing
    assert token[10:-4] not in listing
    assert key.masked in listing and "amd:detect" in listing and "live" in listing
    assert tenant.key.masked in listing


def test_revoking_needs_a_confirmation_then_the_api_refuses_the_key(console, tenant):
    _, _, token = _create(console)
    key = ApiKey.objects.get(name="dialer")
    confirm = console.get(f"/keys/{key.pk}/revoke/")
    assert confirm.status_code == 200 and b"Revoke key" in confirm.content
    key.refresh_from_db()
    assert key.revoked_at is None

    response = console.post(f"/keys/{key.pk}/revoke/")
    assert response.status_code == 302 and response["Location"] == "/keys/"
    key.refresh_from_db()
    assert key.revoked_at is not None
    refused = tenant.client(token).get("/v1/me")
    assert refused.status_code == 401
    assert "revoked" in console.get("/keys/").content.decode()


def test_a_test_key_gets_the_test_prefix(console):
    _, _, token = _create(console, env="test", scopes=["amd:*"])
    assert token.startswith("pyai_test_")
