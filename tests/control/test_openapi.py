"""The OpenAPI document describes every endpoint, its scope, both error envelopes and examples."""

import pytest


@pytest.fixture
def schema(anon, db):
    response = anon.get("/v1/openapi.json")
    assert response.status_code == 200
    return response.json()


def operation(schema, path, method="get"):
    return schema["paths"][path][method]


def test_every_endpoint_is_described(schema):
    assert {("/v1/me", "get"), ("/v1/scopes", "get"), ("/v1/models", "get"), ("/v1/sandbox/keys", "post"),
            ("/v1/amd/config", "get"), ("/v1/amd/config", "post"), ("/v1/amd/calls", "get"),
            ("/v1/amd/calls/{id}", "get")} <= {(path, method) for path, item in schema["paths"].items()
                                               for method in item}


@pytest.mark.parametrize("path,method,scope", [
    ("/v1/amd/calls", "get", "amd:read"),
    ("/v1/amd/calls/{id}", "get", "amd:read"),
    ("/v1/amd/config", "get", "amd:configure"),
    ("/v1/amd/config", "post", "amd:configure"),
])
def test_scoped_operations_name_their_scope(schema, path, method, scope):
    op = operation(schema, path, method)
    assert op["x-required-scope"] == scope
    assert scope in op["description"]


def test_the_calls_list_documents_its_filters_pagination_and_errors(schema):
    op = operation(schema, "/v1/amd/calls")
    params = {p["name"]: p for p in op["parameters"]}
    assert {"limit", "cursor", "starting_after", "answered_by", "call_sid", "created_after",
            "created_before"} <= set(params)
    assert params["limit"]["schema"]["minimum"] == 1 and params["limit"]["schema"]["maximum"] == 100
    assert "sit_invalid" in params["answered_by"]["schema"]["enum"]
    assert set(op["responses"]) >= {"200", "400", "401", "403", "429"}
    assert "application/problem+json" in op["responses"]["400"]["content"]
    assert "application/json" in op["responses"]["401"]["content"]
    page = schema["components"]["schemas"]["CallList"]["properties"]
    assert {"object", "data", "has_more", "next_cursor"} <= set(page)
    assert op["responses"]["200"]["content"]["application/json"]["examples"]


def test_the_call_schema_has_every_contract_field_and_an_example(schema):
    op = operation(schema, "/v1/amd/calls/{id}")
    assert "application/problem+json" in op["responses"]["404"]["content"]
    call = schema["components"]["schemas"]["Call"]
    assert {"id", "object", "call_sid", "stream_sid", "account_sid", "call_id", "status", "answered_by",
            "answered_by_twilio", "confidence", "decision_ms", "reason", "evidence", "aggressiveness",
            "message_end", "started_at", "ended_at", "audio_ms", "livemode", "billable",
            "webhook"} <= set(call["properties"])
    example = op["responses"]["200"]["content"]["application/json"]["examples"]
    assert any(item["value"]["object"] == "amd.call" for item in example.values())


def test_both_error_envelopes_are_components(schema):
    components = schema["components"]["schemas"]
    assert {"type", "title", "status", "detail", "errors"} <= set(components["Problem"]["properties"])
    assert "error" in components["ErrorEnvelope"]["properties"]
    code = components["ErrorBody"]["properties"]["code"]
    codes = components[code["$ref"].rsplit("/", 1)[1]]["enum"] if "$ref" in code else code["enum"]
    assert {"unauthorized", "forbidden", "credit_exhausted", "rate_limit_exceeded"} <= set(codes)


def test_the_config_update_documents_the_sdk_example(schema):
    op = operation(schema, "/v1/amd/config", "post")
    examples = op["requestBody"]["content"]["application/json"]["examples"]
    assert {"aggressiveness": 0.25, "webhook_url": "https://you/amd-events"} in [e["value"] for e in examples.values()]
