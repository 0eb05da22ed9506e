"""Every way a request authenticates, or is refused, and the envelopes it gets."""

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKey

ERROR_KEYS = {"message", "type", "code", "param"}


def assert_error(response, status, code):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == ERROR_KEYS
    assert body["error"]["code"] == code
    assert body["error"]["param"] is None
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


@pytest.mark.django_db
class TestMe:
    def test_it_returns_the_spec_shape(self, tenant):
        response = tenant.client().get("/v1/me")
        assert response.status_code == 200
        body = response.json()
        assert set(body) == {"object", "key", "organization", "limits", "usage", "credit"}
        assert body["object"] == "key"
        assert set(body["key"]) == {"id", "name", "env", "masked", "scopes", "created", "last_used"}
        assert body["key"]["id"] == tenant.key.pk
        assert body["key"]["env"] == "test"
        assert body["key"]["masked"] == tenant.key.masked
        assert body["key"]["scopes"] == ["amd:*"]
        assert body["key"]["last_used"] is not None
        assert body["organization"] == {"id": tenant.org.id, "name": tenant.org.name}
        assert body["limits"] == {"requests_per_second": 20, "burst": 40, "concurrent_streams": 100}
        assert set(body["usage"]) == {"period", "billable_calls", "free_remaining", "charged_calls", "amount_usd"}
        assert body["usage"]["free_remaining"] == 5000
        assert body["usage"]["amount_usd"] == "0.000"
        assert body["credit"] == {"balance_usd": "0.00", "gate": "open"}

    def test_x_api_key_works_like_bearer(self, tenant):
        client = APIClient()
        client.credentials(HTTP_X_API_KEY=tenant.token)
        response = client.get("/v1/me")
        assert response.status_code == 200
        assert response.json()["key"]["id"] == tenant.key.pk

    def test_it_rejects_a_request_without_a_key(self, anon, db):
        response = anon.get("/v1/me")
        error = assert_error(response, 401, "unauthorized")
        assert "Authorization: Bearer" in error["message"]
        assert response["WWW-Authenticate"].startswith("Bearer")

    def test_it_rejects_a_forged_key_without_touching_the_database(self, tenant, django_assert_num_queries):
        forged = tenant.token[:-3] + ("AAA" if not tenant.token.endswith("AAA") else "BBB")
        client = tenant.client(forged)
        with django_assert_num_queries(0):
            response = client.get("/v1/me")
        assert_error(response, 401, "unauthorized")

    def test_it_rejects_a_well_formed_key_whose_secret_does_not_match(self, tenant):
        other_key, other_token = tenant.new_key()
        ApiKey.objects.filter(pk=other_key.pk).update(secret_hash="0" * 64)
        assert_error(tenant.client(other_token).get("/v1/me"), 401, "unauthorized")

    def test_it_rejects_a_malformed_authorization_header(self, tenant):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {tenant.token}")
        assert_error(client.get("/v1/me"), 401, "unauthorized")

    def test_a_new_key_works_at_once_and_a_revoked_one_stops_at_once(self, tenant):
        key, token = tenant.new_key(env="live")
        client = tenant.client(token)
        assert client.get("/v1/me").status_code == 200
        key.revoke()
        error = assert_error(client.get("/v1/me"), 401, "unauthorized")
        assert "revoked" in error["message"]

    def test_it_rejects_a_deleted_key(self, tenant):
        key, token = tenant.new_key()
        key.delete()
        assert_error(tenant.client(token).get("/v1/me"), 401, "unauthorized")

    def test_origin_list_refuses_other_origins(self, tenant):
        _key, token = tenant.new_key(allowed_origins=["https://app.example.com"])
        client = tenant.client(token)
        assert client.get("/v1/me", HTTP_ORIGIN="https://app.example.com").status_code == 200
        assert_error(client.get("/v1/me", HTTP_ORIGIN="https://evil.example"), 403, "origin_not_allowed")
        assert_error(client.get("/v1/me"), 403, "origin_not_allowed")

    def test_origin_is_free_when_the_list_is_empty(self, tenant):
        assert tenant.client().get("/v1/me", HTTP_ORIGIN="https://anywhere.example").status_code == 200


@pytest.mark.django_db
class TestScopes:
    def test_a_key_without_the_scope_is_refused_naming_it(self, tenant):
        _key, token = tenant.new_key(scopes=["amd:detect", "amd:read"])
        error = assert_error(tenant.client(token).get("/v1/amd/config"), 403, "forbidden")
        assert "amd:configure" in error["message"]

    @pytest.mark.parametrize("scopes", [["amd:configure"], ["amd:*"], ["*"]])
    def test_exact_and_wildcard_scopes_grant_access(self, tenant, scopes):
        _key, token = tenant.new_key(scopes=scopes)
        assert tenant.client(token).get("/v1/amd/config").status_code == 200

    def test_the_catalog_lists_scopes_and_wildcards(self, tenant):
        body = tenant.client().get("/v1/scopes").json()
        assert body["object"] == "list"
        names = {item["scope"]: item["wildcard"] for item in body["data"]}
        assert names == {"amd:detect": False, "amd:configure": False, "amd:read": False, "amd:*": True, "*": True}

    def test_scopes_endpoint_needs_a_key(self, anon, db):
        assert_error(anon.get("/v1/scopes"), 401, "unauthorized")

    def test_any_active_key_reads_me_scopes_and_models(self, tenant):
        _key, token = tenant.new_key(scopes=["amd:read"])
        client = tenant.client(token)
        for path in ("/v1/me", "/v1/scopes", "/v1/models"):
            assert client.get(path).status_code == 200, path


@pytest.mark.django_db
class TestModels:
    def test_it_lists_the_detector_model_and_version(self, tenant):
        body = tenant.client().get("/v1/models").json()
        assert body["object"] == "list"
        assert body["data"] and all({"id", "version"} <= set(model) for model in body["data"])


@pytest.mark.django_db
class TestIsolation:
    def test_me_shows_only_the_callers_organization(self, tenant, outsider):
        mine = tenant.client().get("/v1/me").json()
        theirs = outsider.client().get("/v1/me").json()
        assert mine["organization"]["id"] == tenant.org.id
        assert theirs["organization"]["id"] == outsider.org.id

    def test_config_changes_stay_in_the_callers_organization(self, tenant, outsider):
        response = outsider.client().post("/v1/amd/config", {"aggressiveness": 0.9}, format="json")
        assert response.status_code == 200
        assert tenant.client().get("/v1/amd/config").json()["aggressiveness"] == 0.25
