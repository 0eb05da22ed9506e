"""Who may open a stream: the three ways to send a key, and every refusal with its close code."""

import asyncio

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from accounts import limits
from accounts.models import ApiKey
from detection import consumers
from detection.models import Call
from detection.streams import twilio_signature

from .conftest import CALL_SID, Socket, connected, encode, espeak, frames, media, media_messages, silence, start, stop

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio,
              pytest.mark.usefixtures("close_db_thread_connections")]


def hello() -> bytes:
    return encode(np.concatenate([silence(200), espeak("Hello?"), silence(1500)]))


async def streams_to_decision(socket: Socket, parameters: dict | None = None) -> dict:
    await socket.send(connected(), start(parameters), *media_messages(frames(hello())), stop())
    assert await socket.until_closed() == 1000
    [event] = socket.of("amd")
    return event


async def refused(socket: Socket, *messages: dict) -> tuple[int, dict | None]:
    """Send ``messages``; return the close code and the error event sent before it (if any)."""
    await socket.send(*messages)
    code = await socket.until_closed()
    errors = socket.of("error")
    assert len(errors) <= 1
    await socket.drop()
    return code, errors[0]["error"] if errors else None


async def test_it_accepts_the_key_as_a_subprotocol_and_selects_it(tenant):
    socket = await Socket(subprotocols=["pyai-key." + tenant.token]).connect()
    assert socket.subprotocol == "pyai-key." + tenant.token
    event = await streams_to_decision(socket)
    await socket.drop()
    call = await Call.objects.aget(pk=event["call_id"])
    assert call.api_key_id == tenant.key.pk and call.organization_id == tenant.org.pk


async def test_it_accepts_the_key_in_the_query_string(tenant):
    socket = await Socket(query=f"api_key={tenant.token}").connect()
    assert socket.subprotocol is None
    event = await streams_to_decision(socket)
    await socket.drop()
    assert (await Call.objects.aget(pk=event["call_id"])).api_key_id == tenant.key.pk


async def test_it_accepts_the_key_as_a_start_parameter_like_twilio(tenant):
    socket = await Socket().connect()
    event = await streams_to_decision(socket, {"api_key": tenant.token})
    await socket.drop()
    assert (await Call.objects.aget(pk=event["call_id"])).api_key_id == tenant.key.pk


async def test_it_refuses_a_malformed_or_forged_key_with_4401(tenant):
    for token in ("pyai_test_short", "pyai_live_" + "A" * 66, "sk-not-ours"):  # 66: the right length, no MAC
        code, error = await refused(await Socket(query=f"api_key={token}").connect())
        assert code == 4401 and error["code"] == "unauthorized" and error["type"] == "authentication_error"


async def test_it_refuses_a_forged_subprotocol_key_after_accepting_it(tenant):
    tampered = tenant.token[:-1] + ("A" if tenant.token[-1] != "A" else "B")
    socket = await Socket(subprotocols=["pyai-key." + tampered]).connect()
    assert socket.subprotocol == "pyai-key." + tampered  # a browser only sees our close code if we select it
    code, error = await refused(socket)
    assert code == 4401 and error["message"] == "Invalid API key."


async def test_it_refuses_a_revoked_key_with_4401(tenant):
    await ApiKey.objects.filter(pk=tenant.key.pk).aupdate(revoked_at=timezone.now())
    code, error = await refused(await Socket().connect(), connected(), start({"api_key": tenant.token}))
    assert code == 4401 and "revoked" in error["message"]
    assert await Call.objects.acount() == 0


async def test_it_refuses_a_start_without_any_key_with_4401(tenant):
    code, error = await refused(await Socket().connect(), connected(), start())
    assert code == 4401 and "api_key" in error["message"]


async def test_it_refuses_media_on_an_unauthenticated_socket_with_4401(tenant):
    code, error = await refused(await Socket().connect(), connected(), media(bytes(160), 0))
    assert code == 4401 and error["code"] == "unauthorized"


async def test_it_refuses_media_before_start_on_an_authenticated_socket_with_4400(tenant):
    code, error = await refused(await Socket(query=f"api_key={tenant.token}").connect(), media(bytes(160), 0))
    assert code == 4400 and error["code"] == "invalid_request_error"


async def _new_key(tenant, **fields):
    return await sync_to_async(tenant.new_key)(**fields)


async def test_it_refuses_a_key_without_the_detect_scope_with_4403(tenant):
    _key, token = await _new_key(tenant, scopes=["amd:read", "amd:configure"])
    code, error = await refused(await Socket().connect(), connected(), start({"api_key": token}))
    assert code == 4403 and error["code"] == "forbidden" and "amd:detect" in error["message"]


async def test_it_refuses_an_origin_not_on_the_keys_list_with_4403(tenant):
    _key, token = await _new_key(tenant, allowed_origins=["https://app.example.com"])
    socket = await Socket(subprotocols=["pyai-key." + token], headers={"Origin": "https://evil.example.com"}).connect()
    code, error = await refused(socket)
    assert code == 4403 and error["code"] == "origin_not_allowed"

    allowed = await Socket(subprotocols=["pyai-key." + token], headers={"Origin": "https://app.example.com"}).connect()
    await streams_to_decision(allowed)
    await allowed.drop()


async def test_it_closes_4402_when_a_live_keys_organization_is_out_of_free_calls_and_credit(tenant, settings):
    settings.BILLING_FREE_CALLS_PER_MONTH = 1
    _live, live_token = await _new_key(tenant, env="live")
    await Call.objects.acreate(organization=tenant.org, livemode=True, aggressiveness=0.25, billable=True)

    code, error = await refused(await Socket().connect(), connected(), start({"api_key": live_token}))
    assert code == 4402 and error["code"] == "credit_exhausted" and error["type"] == "billing_error"

    test_socket = await Socket().connect()  # test keys skip the gate
    await streams_to_decision(test_socket, {"api_key": tenant.token})
    await test_socket.drop()

    tenant.org.credit_balance = 1
    await tenant.org.asave(update_fields=["credit_balance"])
    funded = await Socket().connect()
    event = await streams_to_decision(funded, {"api_key": live_token})
    await funded.drop()
    assert (await Call.objects.aget(pk=event["call_id"])).livemode is True


async def test_it_caps_concurrent_streams_with_4429_and_frees_the_slot_on_disconnect(tenant):
    _key, token = await _new_key(tenant, concurrent_streams=1)
    first = await Socket(subprotocols=["pyai-key." + token]).connect()
    await first.send(connected(), start())
    second = await Socket(subprotocols=["pyai-key." + token]).connect()
    code, error = await refused(second)
    assert code == 4429 and error["code"] == "concurrency_limit_exceeded" and error["type"] == "rate_limit_error"
    assert second.of("error")[0]["retry_after"] >= 1

    await first.drop()
    third = await Socket(subprotocols=["pyai-key." + token]).connect()
    await streams_to_decision(third)
    await third.drop()


async def test_an_open_stream_keeps_renewing_its_slot(tenant, monkeypatch):
    renewed = []
    monkeypatch.setattr(consumers, "SLOT_REFRESH_S", 0.05)
    monkeypatch.setattr(limits, "refresh_stream", lambda key, slot: renewed.append((key.pk, slot)))
    socket = await Socket().connect()
    await socket.send(connected(), start({"api_key": tenant.token}))
    await asyncio.sleep(0.5)
    await socket.drop()
    assert len(renewed) >= 3 and {key for key, _slot in renewed} == {tenant.key.pk}
    assert len({slot for _key, slot in renewed}) == 1
    count = len(renewed)
    await asyncio.sleep(0.2)
    assert len(renewed) == count  # stopped with the socket


async def test_it_counts_a_connect_against_the_keys_rate_and_refuses_past_the_burst_with_4429(tenant):
    _key, token = await _new_key(tenant, requests_per_second=1, burst=1)
    first = await Socket(query=f"api_key={token}").connect()
    code, error = await refused(await Socket(query=f"api_key={token}").connect())
    assert code == 4429 and error["code"] == "rate_limit_exceeded"
    await first.drop()


async def test_it_closes_an_idle_socket_that_never_starts_with_4400(tenant, monkeypatch):
    monkeypatch.setattr(consumers, "START_TIMEOUT_S", 0.2)
    socket = await Socket(query=f"api_key={tenant.token}").connect()
    await socket.send(connected())
    code = await socket.until_closed(timeout=3)
    assert code == 4400 and socket.of("error")[0]["error"]["param"] == "start"
    await socket.drop()


# Twilio as the peer ----------------------------------------------------------------------------

TWILIO_HOST = "amd.example.com"


def signed_headers(auth_token: str, url: str = f"wss://{TWILIO_HOST}/v1/amd/stream") -> dict:
    return {"Host": TWILIO_HOST, "X-Twilio-Signature": twilio_signature(auth_token, url)}


async def test_it_sends_twilio_no_frames_but_still_decides_and_records(tenant, enqueued):
    socket = await Socket(headers=signed_headers("any")).connect()
    await socket.send(connected(), start({"api_key": tenant.token}), *media_messages(frames(hello())), stop())
    assert await socket.until_closed() == 1000
    assert socket.events == []
    await socket.drop()
    call = await Call.objects.aget(call_sid=CALL_SID)
    assert call.status == Call.COMPLETED and call.answered_by
    assert [event["event"] for _id, event in enqueued] == ["amd"]


async def test_it_sends_twilio_events_when_the_call_asks_for_socket_events(tenant):
    socket = await Socket(headers=signed_headers("any")).connect()
    event = await streams_to_decision(socket, {"api_key": tenant.token, "socket_events": "true"})
    await socket.drop()
    assert event["call_sid"] == CALL_SID


async def test_it_gives_twilio_refusals_as_the_close_code_alone(tenant):
    socket = await Socket(headers=signed_headers("any")).connect()
    code, error = await refused(socket, connected(), start({"api_key": tenant.token, "aggressiveness": "2"}))
    assert code == 4400 and error is None


async def test_other_clients_can_turn_socket_events_off(tenant):
    socket = await Socket().connect()
    await socket.send(connected(), start({"api_key": tenant.token, "socket_events": "false"}),
                      *media_messages(frames(hello())), stop())
    assert await socket.until_closed() == 1000
    assert socket.events == []
    await socket.drop()


async def test_it_verifies_the_twilio_signature_when_the_organization_stored_its_auth_token(tenant):
    tenant.org.twilio_auth_token = "twilio-auth-token"
    await tenant.org.asave(update_fields=["twilio_auth_token"])

    forged = await Socket(headers=signed_headers("someone-elses-token")).connect()
    code, error = await refused(forged, connected(), start({"api_key": tenant.token}))
    assert code == 4403 and error is None
    assert await Call.objects.acount() == 0

    other_url = await Socket(headers=signed_headers("twilio-auth-token", f"wss://{TWILIO_HOST}/elsewhere")).connect()
    code, _error = await refused(other_url, connected(), start({"api_key": tenant.token}))
    assert code == 4403

    genuine = await Socket(headers=signed_headers("twilio-auth-token")).connect()
    await genuine.send(connected(), start({"api_key": tenant.token}), *media_messages(frames(hello())), stop())
    assert await genuine.until_closed() == 1000
    await genuine.drop()
    assert await Call.objects.filter(status=Call.COMPLETED).acount() == 1


async def test_it_verifies_the_signature_over_the_query_string_too(tenant):
    tenant.org.twilio_auth_token = "twilio-auth-token"
    await tenant.org.asave(update_fields=["twilio_auth_token"])
    url = f"wss://{TWILIO_HOST}/v1/amd/stream?tenant=acme"
    genuine = await Socket(query="tenant=acme", headers=signed_headers("twilio-auth-token", url)).connect()
    await genuine.send(connected(), start({"api_key": tenant.token}))
    assert await genuine.silent()
    await genuine.drop()

    altered = await Socket(query="tenant=globex", headers=signed_headers("twilio-auth-token", url)).connect()
    code, _error = await refused(altered, connected(), start({"api_key": tenant.token}))
    assert code == 4403
