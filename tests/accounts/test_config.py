import pytest


@pytest.mark.django_db
def test_config_defaults(tenant):
    body = tenant.client().get("/v1/amd/config").json()
    assert body == {
        "aggressiveness": 0.25,
        "webhook_url": None,
        "detect_message_end": False,
        "webhook_signing_secret_hint": f"whsec_…{tenant.org.webhook_signing_secret[-4:]}",
    }
    assert tenant.org.webhook_signing_secret not in str(body)


@pytest.mark.django_db
def test_the_sdk_body_works_as_is(tenant, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    response = tenant.client().post(
        "/v1/amd/config", {"aggressiveness": 0.25, "webhook_url": "https://you/amd-events"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["webhook_url"] == "https://you/amd-events"


@pytest.mark.django_db
def test_partial_update_keeps_other_fields(tenant):
    client = tenant.client()
    client.post("/v1/amd/config", {"webhook_url": "https://hooks.example.com/amd"}, format="json")
    body = client.post("/v1/amd/config", {"aggressiveness": 0.7}, format="json").json()
    assert body["aggressiveness"] == 0.7
    assert body["webhook_url"] == "https://hooks.example.com/amd"
    body = client.post("/v1/amd/config", {"webhook_url": None, "detect_message_end": True}, format="json").json()
    assert body["webhook_url"] is None and body["detect_message_end"] is True


@pytest.mark.django_db
@pytest.mark.parametrize("payload,field", [
    ({"aggressiveness": -0.1}, "aggressiveness"),
    ({"aggressiveness": "high"}, "aggressiveness"),
    ({"webhook_url": "ftp://example.com/x"}, "webhook_url"),
    ({"webhook_url": "http://127.0.0.1:9000/hook"}, "webhook_url"),
    ({"webhook_url": "http://10.0.0.5/hook"}, "webhook_url"),
    ({"webhook_url": "http://169.254.169.254/latest"}, "webhook_url"),
    ({"webhook_url": "http://[::1]/hook"}, "webhook_url"),
    ({"webhook_url": "http://localhost/hook"}, "webhook_url"),
    ({"detect_message_end": "perhaps"}, "detect_message_end"),
    ({"colour": "blue"}, "colour"),
])
def test_invalid_values_are_400_naming_the_field(tenant, settings, payload, field):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    response = tenant.client().post("/v1/amd/config", payload, format="json")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/problem+json")
    assert field in response.json()["errors"]


@pytest.mark.django_db
def test_private_hosts_are_allowed_by_the_development_setting(tenant, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    response = tenant.client().post("/v1/amd/config", {"webhook_url": "http://127.0.0.1:9000/hook"}, format="json")
    assert response.status_code == 200
