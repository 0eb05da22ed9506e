import pytest
from django.test import override_settings

from accounts.models import ApiKey


@pytest.mark.django_db
def test_it_issues_a_test_key_with_all_amd_scopes_in_a_new_organization(anon):
    response = anon.post("/v1/sandbox/keys")
    assert response.status_code == 201
    body = response.json()
    assert body["key"].startswith("pyai_test_")
    assert body["scopes"] == ["amd:*"]
    key = ApiKey.objects.get(pk=body["key_id"])
    assert key.organization.id == body["organization"]["id"]
    anon.credentials(HTTP_AUTHORIZATION=f"Bearer {body['key']}")
    me = anon.get("/v1/me").json()
    assert me["key"]["env"] == "test"


@pytest.mark.django_db
@override_settings(SANDBOX_KEYS_PER_HOUR=2)
def test_it_limits_sandbox_keys_per_client_address(anon):
    assert anon.post("/v1/sandbox/keys").status_code == 201
    assert anon.post("/v1/sandbox/keys").status_code == 201
    response = anon.post("/v1/sandbox/keys")
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert int(response["Retry-After"]) >= 1
    other = anon.post("/v1/sandbox/keys", REMOTE_ADDR="10.1.2.3")
    assert other.status_code == 201
