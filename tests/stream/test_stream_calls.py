"""The Call record behind each stream, the webhook events it hands on, and whether it is billed."""

import numpy as np
import pytest
from asgiref.sync import sync_to_async

from accounts.models import Organization
from detection import detector_factory, webhooks
from detection.models import Call

from .conftest import (
    ACCOUNT_SID,
    CALL_SID,
    STREAM_SID,
    InstantRecognizer,
    Socket,
    connected,
    direct,
    encode,
    espeak,
    frames,
    greeting,
    media_messages,
    silence,
    start,
    stop,
    tone,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio,
              pytest.mark.usefixtures("close_db_thread_connections")]


def hello(tail_ms: int = 1500) -> bytes:
    return encode(np.concatenate([silence(200), espeak("Hello?"), silence(tail_ms)]))


async def opened(token: str, parameters: dict | None = None) -> Socket:
    socket = await Socket().connect()
    await socket.send(connected(), start({"api_key": token, **(parameters or {})}))
    return socket


async def the_call() -> Call:
    return await Call.objects.select_related("organization").aget(call_sid=CALL_SID)


async def test_the_call_record_follows_the_stream_from_start_to_decision_to_end(tenant, enqueued):
    tenant.org.webhook_url = "https://hooks.example.com/org-default"
    tenant.org.detect_message_end = True
    await tenant.org.asave(update_fields=["webhook_url", "detect_message_end"])
    socket = await opened(tenant.token, {"aggressiveness": "0.6", "call_id": "lead-42"})
    assert await socket.silent()

    call = await the_call()
    assert call.status == Call.IN_PROGRESS
    assert (call.organization_id, call.api_key_id, call.livemode) == (tenant.org.pk, tenant.key.pk, False)
    assert (call.call_sid, call.stream_sid, call.account_sid) == (CALL_SID, STREAM_SID, ACCOUNT_SID)
    assert call.client_call_id == "lead-42"
    assert call.aggressiveness == 0.6
    assert call.detect_message_end is True  # the organization's default
    assert call.webhook_url == "https://hooks.example.com/org-default"
    assert call.answered_by == "" and call.decided_at is None and call.ended_at is None

    pushes = frames(hello())
    expected, _end, detector = direct(pushes, aggressiveness=0.6, stop=False)
    deciding = next(i for i, (_p, ts) in enumerate(pushes) if ts + 20 >= expected.decision_ms)
    await socket.send(*media_messages(pushes[: deciding + 1]))
    event = await socket.next_event()
    assert event["event"] == "amd"

    call = await the_call()
    assert call.status == Call.DECIDED and call.decided_at is not None and call.ended_at is None
    assert call.answered_by == expected.answered_by and call.answered_by_twilio == expected.answered_by_twilio
    assert call.confidence == expected.confidence and call.decision_ms == expected.decision_ms
    assert call.reason == expected.reason and call.evidence == expected.to_dict()["evidence"]
    assert enqueued == [(call.id, event)]

    await socket.send(*media_messages(pushes[deciding + 1:]), stop())
    assert await socket.until_closed() == 1000
    await socket.drop()
    call = await the_call()
    assert call.status == Call.COMPLETED and call.ended_at >= call.decided_at
    assert call.audio_ms == sum(len(payload) for payload, _ts in pushes) // 8
    assert call.billable is False  # a test key is never billed


async def test_a_call_parameter_webhook_overrides_the_organizations(tenant):
    tenant.org.webhook_url = "https://hooks.example.com/org-default"
    await tenant.org.asave(update_fields=["webhook_url"])
    socket = await opened(tenant.token, {"webhook": "https://hooks.example.com/this-call",
                                         "detect_message_end": "false"})
    assert await socket.silent()
    call = await the_call()
    assert call.webhook_url == "https://hooks.example.com/this-call" and call.detect_message_end is False
    assert call.aggressiveness == 0.25
    await socket.drop()


async def test_a_call_without_aggressiveness_uses_the_organizations(tenant):
    tenant.org.aggressiveness = 0.8
    await tenant.org.asave(update_fields=["aggressiveness"])
    socket = await Socket().connect()
    message = start({"api_key": tenant.token})
    del message["start"]["customParameters"]["aggressiveness"]
    await socket.send(connected(), message)
    assert await socket.silent()
    assert (await the_call()).aggressiveness == 0.8
    await socket.drop()


async def test_a_stream_that_drops_before_a_decision_is_decided_stored_and_sent_to_the_webhook(tenant, enqueued):
    pushes = frames(greeting())[:40]  # 0.8 s: too little to decide on
    assert direct(pushes, stop=False)[0] is None
    socket = await opened(tenant.token)
    await socket.send(*media_messages(pushes))
    assert await socket.silent()
    await socket.drop()  # no stop, no close: the connection is simply gone

    call = await the_call()
    expected, _end, _detector = direct(pushes)
    assert call.status == Call.COMPLETED and call.ended_at is not None and call.decided_at is not None
    assert (call.answered_by, call.decision_ms, call.reason) == (expected.answered_by, expected.decision_ms,
                                                                 expected.reason)
    assert call.audio_ms == 800
    [(call_id, event)] = enqueued
    assert call_id == call.id and event["event"] == "amd" and event["answered_by"] == expected.answered_by
    assert socket.events == []


async def test_a_stop_before_a_decision_decides_from_what_was_heard_and_says_so_on_the_socket(tenant, enqueued):
    pushes = frames(greeting())[:40]
    socket = await opened(tenant.token)
    await socket.send(*media_messages(pushes), stop())
    assert await socket.until_closed() == 1000
    await socket.drop()
    [event] = socket.events
    expected, _end, _detector = direct(pushes)
    assert event["event"] == "amd" and event["decision_ms"] == expected.decision_ms
    assert event["answered_by"] == expected.answered_by
    call = await the_call()
    assert call.status == Call.COMPLETED and call.answered_by == expected.answered_by
    assert [queued for _id, queued in enqueued] == [event]


async def test_a_drop_after_the_decision_keeps_it_and_enqueues_nothing_more(tenant, enqueued):
    socket = await opened(tenant.token)
    await socket.send(*media_messages(frames(hello())))
    event = await socket.next_event()
    await socket.drop()
    call = await the_call()
    assert call.status == Call.COMPLETED and call.answered_by == event["answered_by"]
    assert [queued for _id, queued in enqueued] == [event]


async def test_a_failure_to_queue_the_webhook_does_not_end_the_stream(tenant, monkeypatch, caplog):
    def broken(call, event):
        raise RuntimeError("queue down")

    monkeypatch.setattr(webhooks, "enqueue_event", broken)
    socket = await opened(tenant.token)
    await socket.send(*media_messages(frames(hello())), stop())
    assert await socket.until_closed() == 1000
    await socket.drop()
    [event] = socket.events
    call = await the_call()
    assert call.status == Call.COMPLETED and call.answered_by == event["answered_by"]
    assert "queue down" in caplog.text


async def test_the_speech_recognizers_words_reach_the_decision(tenant, monkeypatch, settings):
    settings.AMD_RECOGNIZER = True
    instant = InstantRecognizer()
    monkeypatch.setattr(detector_factory, "recognizer", lambda: instant)
    pushes = frames(encode(greeting()))[:300]
    socket = await opened(tenant.token)
    await socket.send(*media_messages(pushes), stop())
    assert await socket.until_closed() == 1000
    await socket.drop()
    [event] = socket.events
    assert instant.requests == 1
    phrases = [item for item in event["evidence"] if item["type"] == "phrase"]
    assert phrases and {item["answered_by"] for item in phrases} == {"voicemail"}
    assert event["answered_by"] == "voicemail" and "leave a message" in event["reason"]
    without_words, _end, _detector = direct(pushes)
    assert not [item for item in without_words.evidence if item["type"] == "phrase"]


async def test_the_message_end_is_sent_stored_and_enqueued_when_asked_for(tenant, enqueued):
    clip = encode(np.concatenate([greeting(), tone(1000, 500), silence(1500)]))
    pushes = frames(clip)
    decision, message_end, _detector = direct(pushes, detect_message_end=True)
    assert decision.answered_by_twilio == "machine_start" and message_end is not None
    socket = await opened(tenant.token, {"detect_message_end": "true", "call_id": "m-1"})
    await socket.send(*media_messages(pushes), stop())
    assert await socket.until_closed() == 1000
    await socket.drop()

    amd, end = socket.events
    assert amd["event"] == "amd" and amd["answered_by"] == decision.answered_by
    assert end == {"event": "amd.message_end", "call_id": amd["call_id"], "call_sid": CALL_SID,
                   "stream_sid": STREAM_SID, **message_end.to_dict(), "client_call_id": "m-1"}
    assert end["answered_by_twilio"] in ("machine_end_beep", "machine_end_silence", "machine_end_other")
    call = await the_call()
    assert call.message_end == message_end.to_dict()
    assert [queued for _id, queued in enqueued] == [amd, end]


async def test_a_machine_still_talking_at_stop_gets_machine_end_other(tenant, enqueued):
    pushes = frames(encode(greeting()))[:250]  # 5 s: decided, greeting not over
    socket = await opened(tenant.token, {"detect_message_end": "true"})
    await socket.send(*media_messages(pushes), stop())
    assert await socket.until_closed() == 1000
    await socket.drop()
    amd, end = socket.events
    assert amd["answered_by_twilio"] == "machine_start"
    assert end["event"] == "amd.message_end" and end["answered_by_twilio"] == "machine_end_other"
    assert (await the_call()).message_end["answered_by_twilio"] == "machine_end_other"


async def test_no_message_end_without_the_parameter(tenant):
    pushes = frames(encode(np.concatenate([greeting(), tone(1000, 500), silence(1500)])))
    socket = await opened(tenant.token)
    await socket.send(*media_messages(pushes), stop())
    assert await socket.until_closed() == 1000
    await socket.drop()
    assert [event["event"] for event in socket.events] == ["amd"]
    assert (await the_call()).message_end is None


# Billing ---------------------------------------------------------------------------------------

async def streamed_call(token: str, pushes) -> Call:
    socket = await opened(token)
    await socket.send(*media_messages(pushes), stop())
    assert await socket.until_closed() == 1000
    await socket.drop()
    return await Call.objects.aget(pk=socket.of("amd")[0]["call_id"])


async def test_a_live_call_with_a_second_of_audio_is_billable(tenant):
    _key, live = await sync_to_async(tenant.new_key)(env="live")
    call = await streamed_call(live, frames(hello()))
    assert call.livemode is True and call.audio_ms >= 1000 and call.billable is True


async def test_a_live_call_under_a_second_of_audio_is_not_billable(tenant):
    _key, live = await sync_to_async(tenant.new_key)(env="live")
    call = await streamed_call(live, frames(hello())[:45])
    assert call.audio_ms == 900 and call.billable is False


async def test_a_test_key_call_is_never_billable(tenant):
    call = await streamed_call(tenant.token, frames(hello()))
    assert call.livemode is False and call.audio_ms >= 1000 and call.billable is False


async def test_a_bundled_organizations_calls_are_not_billable(tenant):
    _key, live = await sync_to_async(tenant.new_key)(env="live")
    await Organization.objects.filter(pk=tenant.org.pk).aupdate(amd_bundled=True)
    call = await streamed_call(live, frames(hello()))
    assert call.livemode is True and call.billable is False


# Isolation -------------------------------------------------------------------------------------

async def test_each_call_belongs_to_the_organization_and_mode_of_the_key_that_streamed_it(tenant, outsider):
    ours = await streamed_call(tenant.token, frames(hello()))
    theirs = await streamed_call(outsider.token, frames(hello()))
    assert (ours.organization_id, ours.api_key_id) == (tenant.org.pk, tenant.key.pk)
    assert (theirs.organization_id, theirs.api_key_id) == (outsider.org.pk, outsider.key.pk)
    assert [c.pk async for c in Call.objects.for_key(tenant.key)] == [ours.pk]
    assert [c.pk async for c in Call.objects.for_key(outsider.key)] == [theirs.pk]
