"""The problem+json envelope of control-plane errors."""

import pytest

PROBLEM_KEYS = {"type", "title", "status", "detail"}


def assert_problem(response, status):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert PROBLEM_KEYS <= set(body)
    assert body["status"] == status
    return body


@pytest.mark.django_db
def test_validation_errors_name_the_field(tenant):
    body = assert_problem(tenant.client().post("/v1/amd/config", {"aggressiveness": 1.5}, format="json"), 400)
    assert set(body["errors"]) == {"aggressiveness"}
    assert "aggressiveness" in body["detail"]


@pytest.mark.django_db
def test_malformed_json_is_a_400_problem(tenant):
    response = tenant.client().post("/v1/amd/config", "{not json", content_type="application/json")
    assert_problem(response, 400)


@pytest.mark.django_db
def test_unsupported_media_type_is_a_415_problem(tenant):
    response = tenant.client().post("/v1/amd/config", "aggressiveness=0.5",
                                    content_type="application/x-www-form-urlencoded")
    assert_problem(response, 415)


@pytest.mark.django_db
def test_wrong_method_is_a_405_problem(tenant):
    assert_problem(tenant.client().delete("/v1/me"), 405)


@pytest.mark.django_db
def test_unknown_v1_path_is_a_404_problem(tenant):
    assert_problem(tenant.client().get("/v1/nothing-here"), 404)
