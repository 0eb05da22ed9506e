"""The life of a streamed call: who may stream, the per-call options, and the Call record.

Plain synchronous functions over the ORM, the limits backend and the webhook seam. The stream
consumer runs each of them through ``database_sync_to_async`` so nothing here blocks its event loop,
and it calls them a handful of times per call (admission, start, decision, message end, end), never
per audio frame.
"""

import base64
import hashlib
import hmac
import logging
import math
from dataclasses import dataclass

from django.utils import timezone

from accounts import billing, limits
from accounts.authentication import resolve_key
from accounts.errors import ApiError
from accounts.models import ApiKey, Organization
from accounts.permissions import require_scope
from detection import webhooks

from .models import Call
from .urlcheck import UnsafeUrl, check_url

logger = logging.getLogger(__name__)

REQUIRED_SCOPE = "amd:detect"
MAX_CLIENT_CALL_ID_LENGTH = Call._meta.get_field("client_call_id").max_length
MAX_SID_LENGTH = Call._meta.get_field("call_sid").max_length
TRUE_VALUES = ("true", "1", "yes")
FALSE_VALUES = ("false", "0", "no")


def invalid(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, "invalid_request_error", message, param=param)


# Admission -------------------------------------------------------------------------------------

def twilio_signature(auth_token: str, url: str) -> str:
    """Twilio's request signature for a URL with no POST parameters (a WebSocket handshake)."""
    digest = hmac.new(auth_token.encode(), url.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_signature_valid(auth_token: str, signature: str, urls: list[str]) -> bool:
    """True if ``signature`` is Twilio's signature of any of ``urls`` (the forms the handshake URL may take)."""
    given = signature.encode()
    return any(hmac.compare_digest(given, twilio_signature(auth_token, url).encode()) for url in urls)


def admit(token: str, origin: str | None, twilio_signature_header: str | None, handshake_urls: list[str],
          slot: str) -> ApiKey:
    """The key behind ``token`` if it may open one more stream now; else raise the refusal.

    In order: the key itself (401, or 403 ``origin_not_allowed``), Twilio's handshake signature when the
    organization stored its auth token (403), the ``amd:detect`` scope (403), the request rate (429),
    the credit gate for live keys (402), and last a concurrent-stream slot named ``slot`` (429), which
    the caller releases with :func:`release` when the socket ends.
    """
    key = resolve_key(token, origin)
    auth_token = key.organization.twilio_auth_token
    if twilio_signature_header is not None and auth_token:
        if not twilio_signature_valid(auth_token, twilio_signature_header, handshake_urls):
            raise ApiError(403, "forbidden", "X-Twilio-Signature does not match this organization's Twilio "
                                             "auth token for this URL.")
    require_scope(key, REQUIRED_SCOPE)
    limits.check_rate(key)
    billing.check_credit(key)
    if not limits.acquire_stream(key, slot):
        raise ApiError(
            429, "concurrency_limit_exceeded",
            f"This API key already has its maximum of {key.concurrent_streams} concurrent streams open.",
            retry_after=1,
        )
    return key


def refresh(key: ApiKey, slot: str) -> None:
    limits.refresh_stream(key, slot)


def release(key: ApiKey, slot: str) -> None:
    limits.release_stream(key, slot)


# Options ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StreamOptions:
    """A call's effective options: its ``customParameters`` over the organization's defaults."""

    aggressiveness: float
    detect_message_end: bool
    webhook_url: str
    client_call_id: str
    socket_events: bool


def parse_flag(params: dict, name: str, default: bool) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in TRUE_VALUES:
        return True
    if isinstance(value, str) and value.strip().lower() in FALSE_VALUES:
        return False
    raise invalid(f"Parameter '{name}' must be 'true' or 'false', got {value!r}.", param=name)


def parse_aggressiveness(params: dict, default: float) -> float:
    value = params.get("aggressiveness")
    if value is None or value == "":
        return default
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not 0.0 <= number <= 1.0:
        raise invalid(f"Parameter 'aggressiveness' must be a number from 0 to 1, got {value!r}.",
                      param="aggressiveness")
    return number


def parse_webhook(params: dict, default: str) -> str:
    value = params.get("webhook")
    if value is None or value == "":
        return default
    if not isinstance(value, str):
        raise invalid("Parameter 'webhook' must be a URL.", param="webhook")
    try:
        check_url(value)
    except UnsafeUrl as exc:
        raise invalid(f"Parameter 'webhook': {exc}", param="webhook")
    return value


def parse_client_call_id(params: dict) -> str:
    value = params.get("call_id")
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_CLIENT_CALL_ID_LENGTH:
        raise invalid(f"Parameter 'call_id' must be a string of at most {MAX_CLIENT_CALL_ID_LENGTH} characters.",
                      param="call_id")
    return value


def parse_options(params: dict, organization: Organization, twilio_peer: bool) -> StreamOptions:
    """Validate ``customParameters``; raise a 400 naming the first bad parameter."""
    return StreamOptions(
        aggressiveness=parse_aggressiveness(params, organization.aggressiveness),
        detect_message_end=parse_flag(params, "detect_message_end", organization.detect_message_end),
        webhook_url=parse_webhook(params, organization.webhook_url),
        client_call_id=parse_client_call_id(params),
        socket_events=parse_flag(params, "socket_events", not twilio_peer),
    )


def check_media_format(media_format) -> None:
    """Only 8 kHz mono μ-law is analysed; anything else is a 400 naming ``mediaFormat``."""
    if media_format is None:
        return
    if (not isinstance(media_format, dict)
            or media_format.get("encoding") != "audio/x-mulaw"
            or str(media_format.get("sampleRate")) != "8000"
            or str(media_format.get("channels", 1)) != "1"):
        raise invalid(f"mediaFormat must be audio/x-mulaw, 8000 Hz, 1 channel; got {media_format!r}.",
                      param="mediaFormat")


def sid(start: dict, name: str, fallback: str = "") -> str:
    value = start.get(name, fallback)
    return value[:MAX_SID_LENGTH] if isinstance(value, str) else ""


# The Call record -------------------------------------------------------------------------------

def open_call(key: ApiKey, start: dict, stream_sid: str, params: dict, twilio_peer: bool
              ) -> tuple[Call, StreamOptions]:
    """Validate the call's parameters and create its Call row; raise a 400 naming a bad parameter."""
    options = parse_options(params, key.organization, twilio_peer)
    call = Call.objects.create(
        organization_id=key.organization_id,
        api_key=key,
        livemode=key.livemode,
        call_sid=sid(start, "callSid"),
        stream_sid=sid(start, "streamSid", stream_sid),
        account_sid=sid(start, "accountSid"),
        client_call_id=options.client_call_id,
        aggressiveness=options.aggressiveness,
        detect_message_end=options.detect_message_end,
        webhook_url=options.webhook_url,
        status=Call.IN_PROGRESS,
    )
    return call, options


def decision_event(call: Call, decision: dict) -> dict:
    """The ``amd`` event for ``decision`` (a ``Decision.to_dict()``)."""
    event = {"event": "amd", "call_id": call.id, "call_sid": call.call_sid, "stream_sid": call.stream_sid,
             **decision}
    if call.client_call_id:
        event["client_call_id"] = call.client_call_id
    return event


def message_end_event(call: Call, message_end: dict) -> dict:
    """The ``amd.message_end`` event for ``message_end`` (a ``MessageEnd.to_dict()``)."""
    event = {"event": "amd.message_end", "call_id": call.id, "call_sid": call.call_sid,
             "stream_sid": call.stream_sid, **message_end}
    if call.client_call_id:
        event["client_call_id"] = call.client_call_id
    return event


DECISION_FIELDS = ["answered_by", "answered_by_twilio", "confidence", "decision_ms", "reason", "evidence",
                   "decided_at", "status"]


def hand_to_webhooks(call: Call, event: dict) -> None:
    """Queue the event's webhook; a failure there is logged and does not end the stream."""
    try:
        webhooks.enqueue_event(call, event)
    except Exception:
        logger.exception("could not enqueue the %s webhook of call %s", event.get("event"), call.id)


def record_decision(call: Call, decision: dict, event: dict) -> None:
    """Store the decision on the call and hand its event to webhook delivery."""
    call.answered_by = decision["answered_by"]
    call.answered_by_twilio = decision["answered_by_twilio"]
    call.confidence = decision["confidence"]
    call.decision_ms = decision["decision_ms"]
    call.reason = decision["reason"]
    call.evidence = decision["evidence"]
    call.decided_at = timezone.now()
    call.status = Call.DECIDED
    call.save(update_fields=DECISION_FIELDS)
    hand_to_webhooks(call, event)


def record_message_end(call: Call, message_end: dict, event: dict) -> None:
    call.message_end = message_end
    call.save(update_fields=["message_end"])
    hand_to_webhooks(call, event)


def finalize_call(call: Call, audio_ms: int) -> None:
    """Close the call record when its stream stops or drops (writing the decision again, in case storing it
    at the time failed)."""
    call.audio_ms = max(0, int(audio_ms))
    call.ended_at = timezone.now()
    call.status = Call.COMPLETED
    amd_bundled = Organization.objects.filter(pk=call.organization_id).values_list("amd_bundled", flat=True).first()
    call.billable = billing.is_billable(call.answered_by, call.audio_ms, call.livemode, bool(amd_bundled))
    call.save(update_fields=[*DECISION_FIELDS, "audio_ms", "ended_at", "billable", "message_end"])
