"""Every console form is protected by CSRF: a POST without the token is refused with 403."""

import re

import pytest
from django.test import Client

from accounts.models import ApiKey

from .conftest import make_call, make_delivery

pytestmark = pytest.mark.django_db


def _posts(tenant):
    call = make_call(tenant.org)
    delivery = make_delivery(call)
    key, _ = ApiKey.create(tenant.org, "to revoke", "test", ["amd:read"])
    return [
        ("/keys/new/", {"name": "k", "env": "test", "scopes": ["amd:*"]}),
        (f"/keys/{key.pk}/revoke/", {}),
        ("/settings/", {"aggressiveness": "0.9", "webhook_url": "", "detect_message_end": "on"}),
        ("/settings/signing-secret/", {"action": "rotate"}),
        ("/settings/test-webhook/", {"url": ""}),
        (f"/calls/{call.pk}/deliveries/{delivery.pk}/replay/", {}),
        ("/try/", {"aggressiveness": "0.5"}),
        ("/logout/", {}),
    ]


def _csrf_client(user=None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def test_console_posts_without_a_token_are_403_and_change_nothing(tenant, replays):
    client = _csrf_client(tenant.owner)
    secret = tenant.org.webhook_signing_secret
    keys_before = ApiKey.objects.count()
    for path, data in _posts(tenant):
        response = client.post(path, data)
        assert response.status_code == 403, path
        assert b"CSRF" in response.content, path
    tenant.org.refresh_from_db()
    assert tenant.org.webhook_signing_secret == secret
    assert tenant.org.aggressiveness == 0.25
    assert ApiKey.objects.count() == keys_before + 1  # only the one made for the revoke URL
    assert ApiKey.objects.filter(revoked_at__isnull=False).count() == 0
    assert replays == []
    assert client.get("/keys/").status_code == 200  # still signed in: logout was refused too


def test_the_same_posts_with_the_token_are_accepted(tenant, replays):
    client = _csrf_client(tenant.owner)
    page = client.get("/settings/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    for path, data in _posts(tenant):
        response = client.post(path, {**data, "csrfmiddlewaretoken": token})
        assert response.status_code != 403, path
    tenant.org.refresh_from_db()
    assert tenant.org.aggressiveness == 0.9
    assert len(replays) == 1


def test_sign_up_and_sign_in_need_the_token_too():
    client = _csrf_client()
    assert client.post("/signup/", {"organization": "X", "username": "x", "password1": "Tr1cky-Passw0rd!",
                                    "password2": "Tr1cky-Passw0rd!"}).status_code == 403
    assert client.post("/login/", {"username": "x", "password": "y"}).status_code == 403
