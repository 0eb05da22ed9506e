import pytest


@pytest.mark.django_db
def test_the_schema_is_served_without_a_key(anon):
    response = anon.get("/v1/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    for path in ("/v1/me", "/v1/scopes", "/v1/models", "/v1/amd/config", "/v1/sandbox/keys"):
        assert path in schema["paths"], path
    schemes = schema["components"]["securitySchemes"]
    assert schemes["BearerAuth"]["scheme"] == "bearer"
    assert schemes["ApiKeyHeader"]["name"] == "x-api-key"
