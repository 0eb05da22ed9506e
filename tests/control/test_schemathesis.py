"""Property-based conformance: every documented operation, against the running app, with a valid key.

Requests go through Django's WSGI handler in process (the same middleware, views and error handlers the
ASGI server runs). For valid and invalid generated input alike: no 5xx, invalid input refused, a missing
key refused, and every response (status, content type, headers, body) as the schema describes it.
"""

import copy

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from detection import urlcheck

from .support import make_call

MAX_EXAMPLES = 25  # per operation and generation mode
# Schema-valid input the contract still refuses: an opaque cursor that is not one of ours, a
# starting_after id that does not exist, a webhook URL whose host is private, 31 February.
SEMANTIC_CHECKS = [positive_data_acceptance]
# List parameters whose valid values a schema cannot describe (see above).
SEMANTIC_LIST_PARAMETERS = {"cursor", "starting_after", "created_after", "created_before"}


@pytest.fixture
def calls(tenant, monkeypatch, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    # Generated webhook hosts are never looked up on the real network.
    monkeypatch.setattr(urlcheck, "resolve", lambda host, port: [])
    made = [make_call(tenant.org, webhook_url="https://hooks.example.com/amd" if n else "",
                      answered_by=outcome)
            for n, outcome in enumerate(["human", "voicemail", "fax"])]
    made.append(make_call(tenant.org, status="in_progress", answered_by="", answered_by_twilio="",
                          confidence=None, decision_ms=None, reason="", evidence=[]))
    return made


@pytest.fixture
def app():
    """Django's WSGI handler, keeping the test's database connection open between requests (as Client does)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield WSGIHandler()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def api_schema(calls, app):
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", app)
    # The key is sent on every request; refusing requests without one is the ignored_auth check's job.
    schema.config.generation.update(with_security_parameters=False)
    return schema


@pytest.fixture
def headers(tenant):
    _key, token = tenant.new_key(requests_per_second=100_000, burst=100_000)
    return {"Authorization": f"Bearer {token}"}


def checker(operation, mode, headers, seen: set):
    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis_settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
                         suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call_and_validate(headers=headers, excluded_checks=SEMANTIC_CHECKS)
        seen.add(response.status_code)

    return check


def exercise(schema, mode, headers) -> tuple[list[str], dict[str, set[int]]]:
    """Run every operation; return the failures and, per operation, the statuses seen."""
    failures, statuses = [], {}
    for result in schema.get_all_operations():
        operation = result.ok()
        seen = statuses.setdefault(operation.label, set())
        try:
            checker(operation, mode, headers, seen)()
        except Unsatisfiable:
            del statuses[operation.label]  # nothing in this operation's input can violate the schema
        except Exception as exc:  # collect every operation's failure, then report them together
            failures.append(f"{operation.label}: {exc}")
    return failures, statuses


@pytest.mark.django_db
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_conforms_and_never_fails(api_schema, headers, mode):
    failures, statuses = exercise(api_schema, mode, headers)
    assert not failures, "\n\n".join(failures)
    assert {"GET /v1/amd/calls", "POST /v1/amd/config"} <= set(statuses)
    if mode == GenerationMode.POSITIVE:
        assert {"GET /v1/me", "GET /v1/amd/calls/{id}", "POST /v1/sandbox/keys"} <= set(statuses)


@pytest.mark.django_db
def test_successful_call_reads_conform(api_schema, calls, headers):
    """The read endpoints again, with input the contract accepts, so their 200 bodies are checked too."""
    raw = copy.deepcopy(api_schema.raw_schema)
    paths = {path: raw["paths"][path] for path in ("/v1/amd/calls", "/v1/amd/calls/{id}")}
    listing = paths["/v1/amd/calls"]["get"]
    listing["parameters"] = [p for p in listing["parameters"] if p["name"] not in SEMANTIC_LIST_PARAMETERS]
    detail = paths["/v1/amd/calls/{id}"]["get"]
    (id_parameter,) = detail["parameters"]
    id_parameter["schema"] = {"type": "string", "enum": [c.id for c in calls] + [c.call_sid for c in calls]}
    raw["paths"] = paths
    schema = schemathesis.openapi.from_dict(raw)
    schema.app = api_schema.app
    schema.config.generation.update(with_security_parameters=False)
    failures, statuses = exercise(schema, GenerationMode.POSITIVE, headers)
    assert not failures, "\n\n".join(failures)
    assert 200 in statuses["GET /v1/amd/calls"] and statuses["GET /v1/amd/calls/{id}"] == {200}
