"""POST /v1/amd/config as the SDK sends it, and signing-secret rotation."""

import pytest

from accounts.models import Organization


@pytest.mark.django_db
def test_the_sdk_config_example_works_verbatim(tenant, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    response = tenant.client().post(
        "/v1/amd/config", '{"aggressiveness":0.25,"webhook_url":"https://you/amd-events"}',
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "aggressiveness": 0.25, "webhook_url": "https://you/amd-events", "detect_message_end": False,
        "webhook_signing_secret_hint": tenant.org.webhook_signing_secret_hint,
    }
    org = Organization.objects.get(pk=tenant.org.pk)
    assert (org.aggressiveness, org.webhook_url) == (0.25, "https://you/amd-events")


@pytest.mark.django_db
def test_changing_config_needs_the_configure_scope(tenant):
    _key, reader = tenant.new_key(scopes=["amd:read"])
    response = tenant.client(reader).post("/v1/amd/config", {"aggressiveness": 0.9}, format="json")
    assert response.status_code == 403 and "amd:configure" in response.json()["error"]["message"]
    assert Organization.objects.get(pk=tenant.org.pk).aggressiveness == 0.25


@pytest.mark.django_db
def test_rotating_the_signing_secret_changes_the_hint_and_the_signatures(tenant):
    old_hint = tenant.client().get("/v1/amd/config").json()["webhook_signing_secret_hint"]
    old_secret = tenant.org.webhook_signing_secret
    new_secret = tenant.org.rotate_signing_secret()
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    assert Organization.objects.get(pk=tenant.org.pk).webhook_signing_secret == new_secret
    new_hint = tenant.client().get("/v1/amd/config").json()["webhook_signing_secret_hint"]
    assert old_hint == f"whsec_…{old_secret[-4:]}"
    assert new_hint == f"whsec_…{new_secret[-4:]}"


@pytest.mark.django_db
@pytest.mark.parametrize("payload,field", [
    ({"aggressiveness": True}, "aggressiveness"),
    ({"aggressiveness": "0.5"}, "aggressiveness"),
    ({"detect_message_end": "true"}, "detect_message_end"),
    ({"detect_message_end": 1}, "detect_message_end"),
    ({"webhook_url": 42}, "webhook_url"),
])
def test_config_values_must_have_their_json_types(tenant, payload, field):
    response = tenant.client().post("/v1/amd/config", payload, format="json")
    assert response.status_code == 400 and field in response.json()["errors"]
    assert Organization.objects.get(pk=tenant.org.pk).aggressiveness == 0.25
