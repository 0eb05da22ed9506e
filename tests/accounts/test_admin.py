import re

import pytest
from django.contrib.admin.utils import quote

from accounts.models import ApiKey


@pytest.mark.django_db
def test_admin_creates_a_key_and_shows_the_secret_once(staff_client, tenant):
    response = staff_client.post("/admin/accounts/apikey/add/", {
        "organization": tenant.org.pk, "name": "from admin", "env": "live",
        "scopes": ["amd:detect", "amd:read"], "allowed_origins": "[]",
        "requests_per_second": 20, "burst": 40, "concurrent_streams": 100,
    }, follow=True)
    assert response.status_code == 200
    page = response.content.decode()
    match = re.search(r"pyai_live_[A-Za-z0-9_-]+", page)
    assert match, "the new key is shown"
    token = match.group(0)
    key = ApiKey.objects.get(name="from admin")
    assert key.scopes == ["amd:detect", "amd:read"]
    listing = staff_client.get("/admin/accounts/apikey/").content.decode()
    assert token not in listing and key.masked in listing
    assert token not in staff_client.get(f"/admin/accounts/apikey/{quote(key.pk)}/change/").content.decode()
    api = tenant.client(token)
    assert api.get("/v1/me").status_code == 200


@pytest.mark.django_db
def test_admin_revoke_action_stops_the_key(staff_client, tenant):
    response = staff_client.post("/admin/accounts/apikey/", {
        "action": "revoke_keys", "_selected_action": [tenant.key.pk],
    }, follow=True)
    assert response.status_code == 200
    assert tenant.client().get("/v1/me").status_code == 401
