"""GET /v1/amd/calls and GET /v1/amd/calls/{id}."""

from datetime import UTC, datetime, timedelta

import pytest

from detection.models import WebhookAttempt, WebhookDelivery

from .support import assert_problem, make_call

SPEC_FIELDS = {
    "id", "call_sid", "stream_sid", "account_sid", "call_id", "status", "answered_by", "answered_by_twilio",
    "confidence", "decision_ms", "reason", "evidence", "aggressiveness", "message_end", "started_at", "ended_at",
    "audio_ms", "livemode", "billable", "webhook",
}


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [call["id"] for call in response.json()["data"]]


@pytest.mark.django_db
def test_the_sdk_reads_a_call_by_its_id_and_by_its_call_sid(tenant):
    call = make_call(tenant.org, client_call_id="order-4711", ended_at=datetime(2026, 11, 2, tzinfo=UTC),
                     message_end={"answered_by_twilio": "machine_end_beep", "beep_ms": 4120})
    client = tenant.client()
    by_id = client.get(f"/v1/amd/calls/{call.id}")
    by_sid = client.get(f"/v1/amd/calls/{call.call_sid}")
    assert by_id.status_code == 200 and by_sid.status_code == 200
    body = by_id.json()
    assert by_sid.json() == body
    assert set(body) == SPEC_FIELDS | {"object"}
    assert body["object"] == "amd.call"
    assert body["id"] == call.id and body["call_sid"] == call.call_sid
    assert body["stream_sid"] == call.stream_sid and body["account_sid"] == call.account_sid
    assert body["call_id"] == "order-4711"
    assert body["status"] == "completed"
    assert (body["answered_by"], body["answered_by_twilio"]) == ("human", "human")
    assert body["confidence"] == 0.9 and body["decision_ms"] == 800 and body["audio_ms"] == 4000
    assert body["evidence"] == [{"kind": "speech", "start_ms": 300, "end_ms": 1100}]
    assert body["message_end"] == {"answered_by_twilio": "machine_end_beep", "beep_ms": 4120}
    assert body["ended_at"] == "2026-11-02T00:00:00Z"
    assert body["livemode"] is False and body["billable"] is False
    assert body["webhook"] == {"url": None, "deliveries": []}


@pytest.mark.django_db
def test_an_undecided_call_shows_nulls_not_empty_strings(tenant):
    call = make_call(tenant.org, status="in_progress", answered_by="", answered_by_twilio="", confidence=None,
                     decision_ms=None, reason="", evidence=[], client_call_id="")
    body = tenant.client().get(f"/v1/amd/calls/{call.id}").json()
    assert body["status"] == "in_progress"
    for name in ("answered_by", "answered_by_twilio", "confidence", "decision_ms", "reason", "call_id",
                 "ended_at", "message_end"):
        assert body[name] is None, name
    assert body["evidence"] == []


@pytest.mark.django_db
def test_a_call_shows_a_summary_of_its_webhook_deliveries(tenant):
    call = make_call(tenant.org, webhook_url="https://hooks.example.com/amd")
    done = WebhookDelivery.objects.create(
        organization=tenant.org, call=call, event_type="amd", url=call.webhook_url, body="{}",
        status="succeeded", attempt_count=2, last_status_code=200, delivered_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    WebhookAttempt.objects.create(delivery=done, status_code=503)
    WebhookAttempt.objects.create(delivery=done, status_code=200)
    waiting = WebhookDelivery.objects.create(
        organization=tenant.org, call=call, event_type="amd.message_end", url=call.webhook_url, body="{}",
        attempt_count=1, last_error="ConnectError: refused", next_attempt_at=datetime(2026, 11, 1, 0, 1, tzinfo=UTC),
    )
    webhook = tenant.client().get(f"/v1/amd/calls/{call.id}").json()["webhook"]
    assert webhook["url"] == "https://hooks.example.com/amd"
    first, second = webhook["deliveries"]
    assert first == {
        "id": done.id, "object": "webhook_delivery", "event_id": done.event_id, "event_type": "amd",
        "url": "https://hooks.example.com/amd", "status": "succeeded", "attempts": 2, "last_status_code": 200,
        "last_error": None, "next_attempt_at": None, "created": first["created"],
        "delivered_at": "2026-11-01T00:00:00Z",
    }
    assert second["id"] == waiting.id and second["status"] == "pending"
    assert second["last_error"] == "ConnectError: refused" and second["last_status_code"] is None
    assert second["next_attempt_at"] == "2026-11-01T00:01:00Z"


@pytest.mark.django_db
def test_a_call_sid_names_the_newest_call_with_it(tenant):
    older = make_call(tenant.org, call_sid="CA" + "a" * 32, created=datetime(2026, 11, 1, tzinfo=UTC))
    newer = make_call(tenant.org, call_sid="CA" + "a" * 32, created=datetime(2026, 11, 2, tzinfo=UTC))
    assert tenant.client().get(f"/v1/amd/calls/{older.call_sid}").json()["id"] == newer.id


@pytest.mark.django_db
@pytest.mark.parametrize("call_id", ["C_doesnotexist", "CA" + "f" * 32, "x" * 300, "C_%00", "%E2%98%83", "C_a.b"])
def test_an_unknown_call_is_a_404_problem(tenant, call_id):
    assert_problem(tenant.client().get(f"/v1/amd/calls/{call_id}"), 404)


@pytest.mark.django_db
def test_the_list_is_newest_first_and_wrapped_like_stripe(tenant):
    base = datetime(2026, 11, 1, tzinfo=UTC)
    calls = [make_call(tenant.org, created=base + timedelta(minutes=n)) for n in range(3)]
    body = tenant.client().get("/v1/amd/calls").json()
    assert set(body) == {"object", "data", "has_more", "next_cursor"}
    assert body["object"] == "list" and body["has_more"] is False and body["next_cursor"] is None
    assert [c["id"] for c in body["data"]] == [c.id for c in reversed(calls)]
    assert all(set(item) == SPEC_FIELDS | {"object"} for item in body["data"])


@pytest.mark.django_db
def test_the_cursor_walks_every_call_once_even_with_equal_timestamps(tenant):
    same = datetime(2026, 11, 1, tzinfo=UTC)
    made = {make_call(tenant.org, created=same).id for _ in range(4)}
    made |= {make_call(tenant.org, created=same + timedelta(seconds=n)).id for n in range(1, 4)}
    client, seen, cursor, pages = tenant.client(), [], None, 0
    while True:
        response = client.get("/v1/amd/calls", {"limit": 2, **({"cursor": cursor} if cursor else {})})
        body = response.json()
        seen += [c["id"] for c in body["data"]]
        pages += 1
        if not body["has_more"]:
            assert body["next_cursor"] is None
            break
        cursor = body["next_cursor"]
    assert pages == 4 and len(seen) == 7 and set(seen) == made


@pytest.mark.django_db
def test_starting_after_pages_like_stripe(tenant):
    base = datetime(2026, 11, 1, tzinfo=UTC)
    calls = [make_call(tenant.org, created=base + timedelta(minutes=n)) for n in range(5)]
    client = tenant.client()
    first = client.get("/v1/amd/calls", {"limit": 2}).json()
    assert [c["id"] for c in first["data"]] == [calls[4].id, calls[3].id] and first["has_more"]
    after = ids(client.get("/v1/amd/calls", {"limit": 2, "starting_after": first["data"][-1]["id"]}))
    assert after == [calls[2].id, calls[1].id]


@pytest.mark.django_db
def test_filters_narrow_the_list(tenant):
    voicemail = make_call(tenant.org, answered_by="voicemail", answered_by_twilio="machine_start",
                          created=datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC))
    human = make_call(tenant.org, answered_by="human", created=datetime(2026, 11, 1, tzinfo=UTC))
    later = make_call(tenant.org, answered_by="human", created=datetime(2026, 11, 5, tzinfo=UTC))
    client = tenant.client()
    assert ids(client.get("/v1/amd/calls", {"answered_by": "voicemail"})) == [voicemail.id]
    assert ids(client.get("/v1/amd/calls", {"call_sid": human.call_sid})) == [human.id]
    assert ids(client.get("/v1/amd/calls", {"created_after": "2026-11-01T00:00:00Z"})) == [later.id, human.id]
    assert ids(client.get("/v1/amd/calls", {"created_before": "2026-11-01T00:00:00Z"})) == [voicemail.id]
    assert ids(client.get("/v1/amd/calls", {"created_after": "2026-11-01", "created_before": "2026-11-02"})) == [
        human.id]
    # An offset, including one whose "+" arrived unencoded as a space.
    assert ids(client.get("/v1/amd/calls", {"created_after": "2026-11-01T01:00:00+01:00"})) == [later.id, human.id]
    assert ids(client.get("/v1/amd/calls?created_after=2026-11-01T01:00:00+01:00")) == [later.id, human.id]
    assert ids(client.get("/v1/amd/calls", {"created_after": str(int(human.created.timestamp()))})) == [
        later.id, human.id]
    assert ids(client.get("/v1/amd/calls", {"answered_by": "human", "created_before": "2026-11-02"})) == [human.id]


@pytest.mark.django_db
@pytest.mark.parametrize("params,param", [
    ({"answered_by": "machine"}, "answered_by"),
    ({"answered_by": ""}, "answered_by"),
    ({"created_after": "yesterday"}, "created_after"),
    ({"created_after": "2026-13-01T00:00:00Z"}, "created_after"),
    ({"created_before": "2026-11-31"}, "created_before"),
    ({"created_before": "0001-01-01T00:00:00+14:00"}, "created_before"),
    ({"created_after": "99999999999999999999"}, "created_after"),
    ({"limit": 0}, "limit"),
    ({"limit": 101}, "limit"),
    ({"limit": "ten"}, "limit"),
    ({"cursor": "not-a-cursor"}, "cursor"),
    ({"cursor": "!!!"}, "cursor"),
    ({"cursor": "MjAyNi0xMS0wMXxub3BlIGlk"}, "cursor"),
    ({"starting_after": "C_missing"}, "starting_after"),
    ({"call_sid": "CA\x00"}, "call_sid"),
    ({"call_sid": "CA" + "0" * 100}, "call_sid"),
    ({"answerd_by": "human"}, "answerd_by"),
])
def test_a_bad_parameter_is_a_400_problem_naming_it(tenant, params, param):
    make_call(tenant.org)
    body = assert_problem(tenant.client().get("/v1/amd/calls", params), 400, param)
    assert param in body["detail"]


@pytest.mark.django_db
def test_cursor_and_starting_after_together_are_refused(tenant):
    call = make_call(tenant.org)
    first = tenant.client().get("/v1/amd/calls", {"limit": 1})
    assert first.status_code == 200
    make_call(tenant.org)
    cursor = tenant.client().get("/v1/amd/calls", {"limit": 1}).json()["next_cursor"]
    assert_problem(tenant.client().get("/v1/amd/calls", {"cursor": cursor, "starting_after": call.id}), 400,
                   "starting_after")


@pytest.mark.django_db
def test_the_list_loads_deliveries_without_a_query_per_call(tenant, django_assert_max_num_queries):
    for _n in range(15):
        call = make_call(tenant.org)
        for event_type in ("amd", "amd.message_end"):
            WebhookDelivery.objects.create(organization=tenant.org, call=call, event_type=event_type,
                                           url="https://hooks.example.com/x", body="{}")
    client = tenant.client()
    client.get("/v1/amd/calls")  # warm the key's last_used stamp
    with django_assert_max_num_queries(4):
        body = client.get("/v1/amd/calls", {"limit": 100}).json()
    assert len(body["data"]) == 15
    assert all(len(c["webhook"]["deliveries"]) == 2 for c in body["data"])


@pytest.mark.django_db
def test_reading_calls_needs_the_read_scope(tenant):
    call = make_call(tenant.org)
    _key, token = tenant.new_key(scopes=["amd:detect", "amd:configure"])
    for path in ("/v1/amd/calls", f"/v1/amd/calls/{call.id}"):
        response = tenant.client(token).get(path)
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "forbidden"
        assert "amd:read" in response.json()["error"]["message"]
    _key, reader = tenant.new_key(scopes=["amd:read"])
    assert tenant.client(reader).get(f"/v1/amd/calls/{call.id}").status_code == 200


@pytest.mark.django_db
def test_reading_calls_needs_a_key(anon, tenant):
    call = make_call(tenant.org)
    for path in ("/v1/amd/calls", f"/v1/amd/calls/{call.id}"):
        response = anon.get(path)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthorized"


@pytest.mark.django_db
def test_writing_to_calls_is_a_405_problem(tenant):
    call = make_call(tenant.org)
    assert_problem(tenant.client().post("/v1/amd/calls", {}, format="json"), 405)
    assert_problem(tenant.client().delete(f"/v1/amd/calls/{call.id}"), 405)
