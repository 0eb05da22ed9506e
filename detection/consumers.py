"""The realtime AMD socket at ``/v1/amd/stream``: Twilio Media Streams in, decisions out.

A connection goes through three states:

1. *Connected*: accepted at once (daphne turns a close before accept into a bare 403, so every refusal
   is an accepted socket, an error frame and a 4xxx close). A key sent as the ``pyai-key.<KEY>``
   subprotocol or as ``?api_key=`` is checked here. A socket that sends no ``start`` within
   ``START_TIMEOUT_S`` is closed with 4400.
2. *Started*: the ``start`` message carries the media format, the call's parameters and, when none came
   on connect, the key as ``customParameters.api_key`` (a key given on connect is the one used). The
   Call row is created and a :class:`~detection.engine.Detector` begins (with the shared speech
   recognizer when it is on); every inbound ``media`` frame is pushed to it by its ``timestamp`` (the
   detector treats gaps as silence and drops duplicates and late frames). Outbound-track frames are
   ignored.
3. *Ended*: on ``stop`` or on disconnect the call is decided from what was heard if it was not yet,
   and the record is finalized; a ``stop`` is answered with the remaining events and a normal close.

A ``media`` frame before ``start`` ends the socket: 4401 when no key was presented on connect (nothing
authenticated it), otherwise 4400 (a protocol error by an authenticated client). Any other single
malformed frame (bad JSON, a binary frame, an unknown event, a missing or bad field) is answered with
an ``invalid_request_error`` event and skipped.

When the handshake carries ``X-Twilio-Signature`` the peer is Twilio, which must receive nothing but
audio-related messages: such a socket gets no ``amd``, ``amd.message_end`` or ``error`` frames unless
the call sets ``socket_events=true``, and its errors are the close code alone.
"""

import asyncio
import base64
import binascii
import json
import logging
import uuid
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from accounts.errors import ApiError
from detection.detector_factory import make_detector
from detection.engine import Decision, MessageEnd

from . import streams

logger = logging.getLogger(__name__)

SUBPROTOCOL_PREFIX = "pyai-key."
START_TIMEOUT_S = 10.0  # a socket that has not started a stream by then is closed (4400)
SLOT_REFRESH_S = 30.0  # how often an open stream renews its concurrent-stream slot (slots expire after 120 s)
NORMAL_CLOSURE = 1000
INTERNAL_ERROR = 1011
MISSING_KEY_MESSAGE = ("Missing API key. Send it as the 'pyai-key.<KEY>' subprotocol, the 'api_key' query "
                       "parameter, or <Parameter name=\"api_key\"> (customParameters.api_key on 'start').")
DEFAULT_PORTS = {"wss": "443", "ws": "80"}

admit = database_sync_to_async(streams.admit)
open_call = database_sync_to_async(streams.open_call)
record_decision = database_sync_to_async(streams.record_decision)
record_message_end = database_sync_to_async(streams.record_message_end)
finalize_call = database_sync_to_async(streams.finalize_call)
refresh_slot = sync_to_async(streams.refresh, thread_sensitive=False)
release_slot = sync_to_async(streams.release, thread_sensitive=False)


class FrameError(Exception):
    """One bad frame: answered with an error event and skipped."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.message = message
        self.param = param


def handshake_headers(scope) -> dict[str, str]:
    return {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope.get("headers", [])}


def handshake_urls(scope, headers: dict[str, str]) -> list[str]:
    """The forms the URL Twilio requested may take, for checking its signature.

    Twilio signs ``wss://host/path?query``; behind a TLS-terminating proxy this server sees ``ws``, and the
    host may or may not name the default port.
    """
    host = headers.get("host", "")
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else scope.get("path", "")
    query = scope.get("query_string", b"").decode("latin-1")
    target = path + (f"?{query}" if query else "")
    schemes = ["wss"]
    forwarded = {"https": "wss", "http": "ws"}.get(headers.get("x-forwarded-proto", "").lower())
    for scheme in (forwarded, scope.get("scheme"), "ws"):
        if scheme in DEFAULT_PORTS and scheme not in schemes:
            schemes.append(scheme)
    urls = []
    for scheme in schemes:
        default_port = f":{DEFAULT_PORTS[scheme]}"
        hosts = [host, host[: -len(default_port)] if host.endswith(default_port) else host + default_port]
        urls += [f"{scheme}://{name}{target}" for name in hosts]
    return urls


def token_from_subprotocols(subprotocols) -> tuple[str | None, str | None]:
    """``(subprotocol to select, key)`` from the offered subprotocols."""
    for subprotocol in subprotocols or []:
        if subprotocol.startswith(SUBPROTOCOL_PREFIX):
            return subprotocol, subprotocol[len(SUBPROTOCOL_PREFIX):]
    return None, None


def token_from_query(scope) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("api_key")
    return values[0] if values else None


class StreamConsumer(AsyncWebsocketConsumer):
    """One Twilio Media Stream: one call, one detector, one decision."""

    # No channel layer: a stream takes no group messages, so it needs no channel of its own and no
    # receive loop on the layer (with Redis, one blocking read per open socket).
    channel_layer_alias = None

    async def __call__(self, scope, receive, send):
        """Read the socket's messages one by one and dispatch each.

        Channels' own loop races the socket against the channel layer with a task per message; with no
        layer there is one input, so it is read directly.
        """
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass

    async def dispatch(self, message):
        """Frames go straight to ``receive``.

        Channels closes stale database connections before every message, a hop to the database thread;
        at 50 frames a second per call that hop would dominate. Every database call here already goes
        through ``database_sync_to_async``, which closes stale connections around itself.
        """
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
        else:
            await super().dispatch(message)

    async def connect(self):
        headers = handshake_headers(self.scope)
        self.origin = headers.get("origin")
        self.twilio_signature = headers.get("x-twilio-signature")
        self.handshake_urls = handshake_urls(self.scope, headers)
        self.socket_events = self.twilio_signature is None
        self.closed = False
        self.key = None
        self.slot = uuid.uuid4().hex
        self.slot_held = False
        self.starting = False
        self.options = None
        self.call = None
        self.detector = None
        self.decision_sent = False
        self.message_end_sent = False
        self.ended = False
        self.timers: list[asyncio.Task] = []
        self.handlers = {
            "connected": self.on_connected,
            "start": self.on_start,
            "media": self.on_media,
            "dtmf": self.on_ignored,
            "mark": self.on_ignored,
            "stop": self.on_stop,
        }

        subprotocol, token = token_from_subprotocols(self.scope.get("subprotocols"))
        await self.accept(subprotocol)
        token = token or token_from_query(self.scope)
        if token is not None and not await self.authenticate(token):
            return
        self.timers.append(asyncio.create_task(self.start_deadline()))

    async def authenticate(self, token: str) -> bool:
        try:
            self.key = await admit(token, self.origin, self.twilio_signature, self.handshake_urls, self.slot)
        except ApiError as exc:
            await self.refuse(exc)
            return False
        self.slot_held = True
        return True

    # Frames ------------------------------------------------------------------------------------

    async def receive(self, text_data=None, bytes_data=None):
        if self.closed:
            return
        try:
            if text_data is None:
                raise FrameError("Binary frames are not part of the protocol; send JSON text frames.")
            try:
                message = json.loads(text_data)
            except ValueError:
                raise FrameError("Frame is not valid JSON.")
            if not isinstance(message, dict):
                raise FrameError("Frame must be a JSON object.")
            handler = self.handlers.get(message.get("event"))
            if handler is None:
                raise FrameError(f"Unknown event {message.get('event')!r}.", param="event")
            await handler(message)
        except FrameError as exc:
            await self.send_event({"event": "error", **streams.invalid(exc.message, exc.param).envelope()})
        except ApiError as exc:
            await self.refuse(exc)
        except Exception:
            logger.exception("stream %s failed", self.call.id if self.call else "(not started)")
            self.closed = True
            await self.close(INTERNAL_ERROR)

    async def on_connected(self, message):
        """Twilio's greeting; it carries nothing to act on."""

    async def on_ignored(self, message):
        """``dtmf`` and ``mark`` are part of the protocol but play no part in detection."""

    async def on_start(self, message):
        if self.starting:
            raise FrameError("The stream has already started; this 'start' is ignored.", param="start")
        start = message.get("start")
        if not isinstance(start, dict):
            raise FrameError("A 'start' frame needs a 'start' object.", param="start")
        params = start.get("customParameters") or {}
        if not isinstance(params, dict):
            raise streams.invalid("customParameters must be an object.", param="customParameters")
        self.starting = True
        try:
            self.socket_events = streams.parse_flag(params, "socket_events", self.socket_events)
        except ApiError:
            pass  # reported below, with the other parameters, once the caller is known
        if self.key is None:
            token = params.get("api_key")
            if not isinstance(token, str) or not token:
                raise ApiError(401, "unauthorized", MISSING_KEY_MESSAGE)
            if not await self.authenticate(token):
                return
        streams.check_media_format(start.get("mediaFormat"))
        tracks = start.get("tracks")
        if tracks is not None and (not isinstance(tracks, list) or "inbound" not in tracks):
            raise streams.invalid("tracks must include 'inbound' (the called party's audio).", param="tracks")
        stream_sid = message.get("streamSid") if isinstance(message.get("streamSid"), str) else ""
        call, options = await open_call(self.key, start, stream_sid, params, self.twilio_signature is not None)
        self.detector = make_detector(options.aggressiveness, options.detect_message_end)
        self.call, self.options, self.socket_events = call, options, options.socket_events
        self.timers.append(asyncio.create_task(self.keep_slot()))

    async def on_media(self, message):
        detector = self.detector
        if detector is None:
            if self.key is None:
                raise ApiError(401, "unauthorized", f"Media before 'start' on an unauthenticated socket. "
                                                    f"{MISSING_KEY_MESSAGE}")
            raise streams.invalid("Media before 'start': send 'start' first.", param="event")
        media = message.get("media")
        if not isinstance(media, dict):
            raise FrameError("A 'media' frame needs a 'media' object.", param="media")
        track = media.get("track", "inbound")
        if track != "inbound":
            if track == "outbound":
                return
            raise FrameError(f"Unknown media track {track!r}.", param="media.track")
        try:
            timestamp = int(media["timestamp"])
        except KeyError:
            raise FrameError("A 'media' frame needs 'media.timestamp'.", param="media.timestamp")
        except (TypeError, ValueError):
            raise FrameError("media.timestamp must be a whole number of milliseconds.", param="media.timestamp")
        if timestamp < 0:
            raise FrameError("media.timestamp must not be negative.", param="media.timestamp")
        payload = media.get("payload")
        if not isinstance(payload, str):
            raise FrameError("A 'media' frame needs 'media.payload' (base64 μ-law).", param="media.payload")
        try:
            audio = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise FrameError("media.payload is not valid base64.", param="media.payload")
        result = detector.push(audio, timestamp)
        if result is not None:
            await self.report(result)

    async def on_stop(self, message):
        if self.detector is None:
            raise FrameError("'stop' before 'start'.", param="event")
        await self.end_call(socket_open=True)
        self.closed = True
        await self.close(NORMAL_CLOSURE)

    # Outcomes ----------------------------------------------------------------------------------

    async def report(self, result):
        """Send and record a detector result, and anything it brought with it."""
        if isinstance(result, Decision) and not self.decision_sent:
            await self.decided(result)
        elif isinstance(result, MessageEnd) and not self.message_end_sent:
            await self.message_ended(result)
        if self.decision_sent and self.detector.message_end is not None and not self.message_end_sent:
            await self.message_ended(self.detector.message_end)

    async def decided(self, decision: Decision):
        self.decision_sent = True
        decision_dict = decision.to_dict()
        event = streams.decision_event(self.call, decision_dict)
        await self.send_event(event)
        await record_decision(self.call, decision_dict, event)

    async def message_ended(self, message_end: MessageEnd):
        self.message_end_sent = True
        message_end_dict = message_end.to_dict()
        event = streams.message_end_event(self.call, message_end_dict)
        await self.send_event(event)
        await record_message_end(self.call, message_end_dict, event)

    async def end_call(self, socket_open: bool):
        """Decide from what was heard if need be, then finalize the record (once)."""
        if self.call is None or self.ended:
            return
        self.ended = True
        if not socket_open:
            self.closed = True
        detector = self.detector
        if not self.decision_sent:
            await self.decided(detector.finish())
        if self.options.detect_message_end and not self.message_end_sent:
            message_end = detector.finish_message_end()
            if message_end is not None:
                await self.message_ended(message_end)
        await finalize_call(self.call, detector.audio_ms)

    # Socket ------------------------------------------------------------------------------------

    async def send_event(self, event: dict):
        if self.socket_events and not self.closed:
            await self.send(text_data=json.dumps(event))

    async def refuse(self, exc: ApiError):
        """Send the error (when this peer takes events) and close with its 4xxx code."""
        if self.closed:
            return
        frame = {"event": "error", **exc.envelope()}
        if exc.retry_after is not None:
            frame["retry_after"] = max(1, round(exc.retry_after))
        await self.send_event(frame)
        self.closed = True
        await self.close(exc.close_code)

    async def start_deadline(self):
        await asyncio.sleep(START_TIMEOUT_S)
        if not self.starting:
            await self.refuse(streams.invalid(f"No 'start' within {START_TIMEOUT_S:g} s of connecting.",
                                              param="start"))

    async def keep_slot(self):
        while True:
            await asyncio.sleep(SLOT_REFRESH_S)
            await refresh_slot(self.key, self.slot)

    async def disconnect(self, code):
        for timer in self.timers:
            timer.cancel()
        try:
            await self.end_call(socket_open=False)
        except Exception:
            logger.exception("finalizing stream %s failed", self.call.id if self.call else "(not started)")
        finally:
            if self.slot_held:
                self.slot_held = False
                await release_slot(self.key, self.slot)
