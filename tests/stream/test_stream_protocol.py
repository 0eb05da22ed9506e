"""Twilio's Media Streams protocol on the socket: formats, parameters, bad frames, timing, tracks."""

import base64

import numpy as np
import pytest

from detection.engine import ulaw
from detection.models import Call

from .conftest import (
    CALL_SID,
    STREAM_SID,
    Socket,
    connected,
    direct,
    dtmf,
    encode,
    espeak,
    frames,
    mark,
    media,
    media_messages,
    silence,
    start,
    stop,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio,
              pytest.mark.usefixtures("close_db_thread_connections")]

SPEC_AMD_FIELDS = {"event", "call_id", "call_sid", "stream_sid", "answered_by", "answered_by_twilio", "confidence",
                   "decision_ms", "reason", "evidence"}


def hello() -> bytes:
    return encode(np.concatenate([silence(200), espeak("Hello?"), silence(1500)]))


async def opened(tenant, parameters: dict | None = None, **socket_kwargs) -> Socket:
    socket = await Socket(**socket_kwargs).connect()
    await socket.send(connected(), start({"api_key": tenant.token, **(parameters or {})}))
    return socket


async def finish(socket: Socket) -> int:
    await socket.send(stop())
    code = await socket.until_closed()
    await socket.drop()
    return code


def decision_of(event: dict) -> dict:
    return {name: event[name] for name in ("answered_by", "answered_by_twilio", "confidence", "decision_ms",
                                           "reason", "evidence")}


async def test_it_speaks_twilios_documented_messages_and_sends_one_amd_event_with_every_field(tenant):
    socket = await opened(tenant, {"call_id": "order-17"})
    pushes = frames(hello())
    messages = media_messages(pushes)
    await socket.send(*messages[:5], mark(), dtmf(), *messages[5:])
    assert await finish(socket) == 1000
    [event] = socket.events
    assert set(event) == SPEC_AMD_FIELDS | {"client_call_id"}
    assert event["call_id"].startswith("C_") and event["call_sid"] == CALL_SID and event["stream_sid"] == STREAM_SID
    assert event["client_call_id"] == "order-17"
    expected, _end, _detector = direct(pushes)
    assert decision_of(event) == expected.to_dict()
    assert isinstance(event["reason"], str) and event["reason"]


SPEC_START = ('{"event":"start","sequenceNumber":"1","start":{"accountSid":"ACxx","streamSid":"MZxx","callSid":"CAxx",'
              '"tracks":["inbound"],"customParameters":{"aggressiveness":"0.25","webhook":"https://you/amd-events"},'
              '"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}},"streamSid":"MZxx"}')
SPEC_MEDIA = ('{"event":"media","sequenceNumber":"%d","media":{"track":"inbound","chunk":"%d","timestamp":"%d",'
              '"payload":"%s"},"streamSid":"MZxx"}')
SPEC_OTHERS = [
    '{"event":"dtmf","streamSid":"MZxx","sequenceNumber":"5","dtmf":{"track":"inbound_track","digit":"1"}}',
    '{"event":"mark","sequenceNumber":"4","streamSid":"MZxx","mark":{"name":"my label"}}',
]
SPEC_STOP = '{"event":"stop","sequenceNumber":"5","stop":{"accountSid":"ACxx","callSid":"CAxx"},"streamSid":"MZxx"}'


async def test_it_takes_the_contracts_example_messages_as_written(tenant):
    socket = await Socket(subprotocols=["pyai-key." + tenant.token]).connect()
    await socket.send_raw(text='{"event":"connected","protocol":"Call","version":"1.0.0"}')
    await socket.send_raw(text=SPEC_START)
    pushes = frames(hello(), start_ms=5)
    for i, (payload, timestamp) in enumerate(pushes):
        await socket.send_raw(text=SPEC_MEDIA % (i + 3, i + 1, timestamp, base64.b64encode(payload).decode()))
        if i == 10:
            for other in SPEC_OTHERS:
                await socket.send_raw(text=other)
    await socket.send_raw(text=SPEC_STOP)
    assert await socket.until_closed() == 1000
    await socket.drop()
    [event] = socket.events
    assert (event["call_sid"], event["stream_sid"]) == ("CAxx", "MZxx")
    expected, _end, _detector = direct(pushes)
    assert decision_of(event) == expected.to_dict()
    call = await Call.objects.aget(pk=event["call_id"])
    assert (call.account_sid, call.webhook_url, call.aggressiveness) == ("ACxx", "https://you/amd-events", 0.25)


async def test_it_sends_the_decision_as_soon_as_it_is_made_and_never_again(tenant):
    socket = await opened(tenant)
    pushes = frames(hello())
    expected, _end, _detector = direct(pushes, stop=False)
    assert expected is not None, "the clip decides before it ends"
    deciding = next(i for i, (_p, ts) in enumerate(pushes) if ts + 20 >= expected.decision_ms)
    await socket.send(*media_messages(pushes[: deciding + 1]))
    event = await socket.next_event()
    assert event["event"] == "amd" and decision_of(event) == expected.to_dict()
    await socket.send(*media_messages(pushes[deciding + 1:]))
    assert await socket.silent()
    assert await finish(socket) == 1000
    assert len(socket.of("amd")) == 1 and len(socket.events) == 1


async def test_the_client_call_id_is_left_out_when_none_was_given(tenant):
    socket = await opened(tenant)
    await socket.send(*media_messages(frames(hello())))
    await finish(socket)
    assert set(socket.of("amd")[0]) == SPEC_AMD_FIELDS


BAD_MEDIA_FORMATS = [
    {"encoding": "audio/l16", "sampleRate": 8000, "channels": 1},
    {"encoding": "audio/x-mulaw", "sampleRate": 16000, "channels": 1},
    {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 2},
    "audio/x-mulaw",
]


async def test_it_refuses_any_media_format_but_8khz_mono_mulaw_with_4400(tenant):
    for media_format in BAD_MEDIA_FORMATS:
        socket = await Socket().connect()
        await socket.send(connected(), start({"api_key": tenant.token}, media_format=media_format))
        assert await socket.until_closed() == 4400, media_format
        [error] = socket.of("error")
        assert error["error"]["code"] == "invalid_request_error" and error["error"]["param"] == "mediaFormat"
        await socket.drop()
    assert await Call.objects.acount() == 0


BAD_PARAMETERS = [
    ({"aggressiveness": "2"}, "aggressiveness"),
    ({"aggressiveness": "-0.1"}, "aggressiveness"),
    ({"aggressiveness": "abc"}, "aggressiveness"),
    ({"aggressiveness": "nan"}, "aggressiveness"),
    ({"webhook": "ftp://x"}, "webhook"),
    ({"webhook": "not a url"}, "webhook"),
    ({"detect_message_end": "maybe"}, "detect_message_end"),
    ({"socket_events": "sometimes"}, "socket_events"),
    ({"call_id": "x" * 201}, "call_id"),
]


async def test_it_refuses_bad_custom_parameters_naming_the_parameter_with_4400(tenant):
    for parameters, param in BAD_PARAMETERS:
        socket = await opened(tenant, parameters)
        assert await socket.until_closed() == 4400, parameters
        [error] = socket.of("error")
        assert error["error"]["param"] == param and param in error["error"]["message"], parameters
        await socket.drop()
    assert await Call.objects.acount() == 0


async def test_it_refuses_a_webhook_on_a_private_address_unless_allowed(tenant, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    socket = await opened(tenant, {"webhook": "http://10.1.2.3/amd"})
    assert await socket.until_closed() == 4400
    assert socket.of("error")[0]["error"]["param"] == "webhook"
    await socket.drop()

    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    socket = await opened(tenant, {"webhook": "http://10.1.2.3/amd"})
    await socket.send(*media_messages(frames(hello())))
    assert await finish(socket) == 1000


BAD_FRAMES = [
    ("text", "{not json", None),
    ("text", "[1, 2, 3]", None),
    ("bytes", b"\x00\x01\x02", None),
    ("json", {"event": "clear", "streamSid": STREAM_SID}, "event"),
    ("json", {"streamSid": STREAM_SID}, "event"),
    ("json", {"event": "media", "streamSid": STREAM_SID}, "media"),
    ("json", {"event": "media", "media": {"track": "inbound", "timestamp": "40"}}, "media.payload"),
    ("json", {"event": "media", "media": {"track": "inbound", "payload": "//8="}}, "media.timestamp"),
    ("json", {"event": "media", "media": {"track": "inbound", "timestamp": "soon", "payload": "//8="}},
     "media.timestamp"),
    ("json", {"event": "media", "media": {"track": "inbound", "timestamp": "60", "payload": "not base64!"}},
     "media.payload"),
    ("json", {"event": "media", "media": {"track": "sideways", "timestamp": "60", "payload": "//8="}},
     "media.track"),
    ("json", {"event": "start", "streamSid": STREAM_SID}, "start"),
]


async def test_each_bad_frame_gets_an_error_event_and_the_call_goes_on_to_a_decision(tenant):
    socket = await opened(tenant)
    pushes = frames(hello())
    await socket.send(*media_messages(pushes[:2]))
    for kind, frame, param in BAD_FRAMES:
        if kind == "bytes":
            await socket.send_raw(data=frame)
        elif kind == "text":
            await socket.send_raw(text=frame)
        else:
            await socket.send(frame)
        error = await socket.next_event()
        assert error["event"] == "error", frame
        assert error["error"]["code"] == "invalid_request_error" and error["error"]["type"] == "invalid_request_error"
        assert error["error"]["param"] == param, frame
    await socket.send(*media_messages(pushes[2:]))
    assert await finish(socket) == 1000
    [event] = socket.of("amd")
    expected, _end, _detector = direct(pushes)
    assert decision_of(event) == expected.to_dict()
    assert len(socket.of("error")) == len(BAD_FRAMES)


async def test_a_second_start_is_refused_as_a_frame_and_ignored(tenant):
    socket = await opened(tenant)
    await socket.send(start({"api_key": tenant.token, "aggressiveness": "0.9"}))
    assert (await socket.next_event())["error"]["param"] == "start"
    await socket.send(*media_messages(frames(hello())))
    assert await finish(socket) == 1000
    assert len(socket.of("amd")) == 1


async def test_a_gap_in_timestamps_is_silence(tenant):
    clip = hello()
    pause = encode(silence(2000))
    explicit = frames(clip[:1600] + pause + clip[1600:])
    with_gap = [push for push in explicit if not 200 <= push[1] < 2200]
    assert len(with_gap) == len(explicit) - 100
    socket = await opened(tenant)
    await socket.send(*media_messages(with_gap))
    assert await finish(socket) == 1000
    expected, _end, detector = direct(explicit)
    assert decision_of(socket.of("amd")[0]) == expected.to_dict()
    call = await Call.objects.aget(pk=socket.of("amd")[0]["call_id"])
    assert call.audio_ms == detector.audio_ms == len(clip + pause) // 8


async def test_duplicate_and_late_frames_are_dropped(tenant):
    pushes = frames(hello())
    shuffled = []
    for i, push in enumerate(pushes):
        shuffled.append(push)
        if i % 3 == 0:
            shuffled.append(push)  # a duplicate
        if i % 7 == 0 and i > 10:
            shuffled.append(pushes[i - 5])  # a late frame
    socket = await opened(tenant)
    await socket.send(*media_messages(shuffled))
    assert await finish(socket) == 1000
    expected, _end, _detector = direct(pushes)
    assert decision_of(socket.of("amd")[0]) == expected.to_dict()


async def test_any_frame_size_is_accepted(tenant):
    clip = hello()
    for frame_bytes in (80, 333, 1600):
        socket = await opened(tenant)
        await socket.send(*media_messages(frames(clip, frame_bytes)))
        assert await finish(socket) == 1000
        expected, _end, _detector = direct(frames(clip, frame_bytes))
        assert decision_of(socket.of("amd")[0]) == expected.to_dict(), frame_bytes


async def test_only_the_inbound_track_is_analysed(tenant):
    speech = frames(hello())
    quiet = frames(encode(silence(len(speech) * 20)))
    socket = await Socket().connect()
    await socket.send(connected(), start({"api_key": tenant.token}, tracks=("inbound", "outbound")))
    for (heard, _ts), (spoken, ts) in zip(quiet, speech, strict=True):
        await socket.send(media(spoken, ts, track="outbound"), media(heard, ts, track="inbound"))
    await socket.send(*media_messages([(spoken, ts + len(speech) * 20) for spoken, ts in speech], track="outbound"))
    assert await finish(socket) == 1000
    assert [event["event"] for event in socket.events] == ["amd"]
    expected, _end, detector = direct(quiet)
    assert decision_of(socket.of("amd")[0]) == expected.to_dict()
    assert expected.answered_by == "silence" and direct(speech)[0].answered_by != "silence"
    call = await Call.objects.aget(pk=socket.of("amd")[0]["call_id"])
    assert call.audio_ms == detector.audio_ms == len(quiet) * 20


async def test_it_refuses_a_start_whose_tracks_leave_out_inbound(tenant):
    socket = await Socket().connect()
    await socket.send(connected(), start({"api_key": tenant.token}, tracks=("outbound",)))
    assert await socket.until_closed() == 4400
    assert socket.of("error")[0]["error"]["param"] == "tracks"
    await socket.drop()


async def test_numbers_may_also_arrive_as_json_numbers(tenant):
    pushes = frames(hello())
    socket = await opened(tenant)
    for payload, ts in pushes:
        await socket.send({"event": "media", "sequenceNumber": 3, "streamSid": STREAM_SID,
                           "media": {"track": "inbound", "chunk": 1, "timestamp": ts,
                                     "payload": base64.b64encode(payload).decode()}})
    assert await finish(socket) == 1000
    assert len(socket.of("amd")) == 1 and not socket.of("error")


async def test_stop_before_any_media_decides_silence(tenant):
    socket = await opened(tenant)
    assert await finish(socket) == 1000
    [event] = socket.of("amd")
    assert event["answered_by"] == "silence" and event["answered_by_twilio"] == "unknown"


async def test_an_empty_payload_is_no_audio(tenant):
    pushes = frames(bytes([ulaw.SILENCE_BYTE]) * 1600)
    socket = await opened(tenant)
    await socket.send(media(b"", 0), *media_messages(pushes))
    assert await finish(socket) == 1000
    assert not socket.of("error")
    expected, _end, detector = direct([(b"", 0), *pushes])
    assert decision_of(socket.of("amd")[0]) == expected.to_dict()
    call = await Call.objects.aget(pk=socket.of("amd")[0]["call_id"])
    assert call.audio_ms == detector.audio_ms == 200
