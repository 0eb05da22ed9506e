"""Webhook delivery of decision events.

:func:`enqueue_event` stores a :class:`WebhookDelivery` holding the exact body
and, once the transaction commits, dispatches the ``detection.deliver_webhook``
task. Each run of that task makes one attempt (:func:`attempt`): it claims the
attempt with a compare-and-set on ``attempt_count`` (so a duplicated or
redelivered task message never sends twice), signs the body with the
organization's current secret, POSTs it through :func:`post`, logs a
:class:`WebhookAttempt`, and either settles the delivery or schedules the next
attempt after the next delay of ``settings.WEBHOOK_RETRY_DELAYS_S``.

Dispatch (:func:`dispatch`): with a broker, ``apply_async(countdown=…)`` to the
Celery worker. When Celery runs eagerly (embedded mode, no ``REDIS_URL``) a
task would run inline, HTTP and all; instead a small in-process runner
(:class:`EmbeddedRunner`) executes it on background threads, holding each
retry until its backoff delay has passed. Embedded retries live in memory: if
the process stops, its pending deliveries stay ``pending`` until replayed.

With a broker, the beat task ``detection.retry_stalled_deliveries`` re-dispatches
pending deliveries whose attempt is overdue (a lost message, a crashed
worker); the compare-and-set makes that safe alongside the original message.
"""

import hashlib
import heapq
import hmac
import itertools
import json
import logging
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial

import certifi
import httpcore
import httpx
from celery import current_task
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, transaction
from django.utils import timezone

from accounts.models import Organization

from . import urlcheck
from .models import WebhookAttempt, WebhookDelivery, new_event_id

logger = logging.getLogger(__name__)

EVENT_TYPES = ("amd", "amd.message_end")
SIGNATURE_HEADER = "PyAI-Signature"
EVENT_ID_HEADER = "PyAI-Event-Id"
EVENT_TYPE_HEADER = "PyAI-Event-Type"
ATTEMPT_HEADER = "PyAI-Attempt"
USER_AGENT = "PyAI-AMD-Webhooks/1.0"
MAX_RESPONSE_BYTES = 1024  # at most this much of a receiver's answer is kept
MAX_RETRY_AFTER_S = 3600  # a longer Retry-After is ignored in favour of the schedule
CLAIM_LEASE = timedelta(seconds=60)  # an attempt in flight; longer than any single attempt can take
STALL_GRACE = timedelta(minutes=2)  # how overdue a pending attempt is before it counts as lost
STALLED_BATCH = 500
RESERVED_BODY_KEYS = ("id", "type", "created", "livemode")


class DeliveryError(Exception):
    """An attempt that got no HTTP answer (or must not be made); ``retryable`` says if another may help."""

    def __init__(self, message: str, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Reply:
    """A receiver's answer: status, at most MAX_RESPONSE_BYTES of body, headers (lower-case names)."""

    status_code: int
    body: str = ""
    headers: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ProbeResult:
    """The outcome of :func:`send_test_webhook`."""

    url: str
    ok: bool
    status_code: int | None
    duration_ms: int
    response_body: str
    error: str


# --- signing ---------------------------------------------------------------------------------------------


def canonical_json(data: dict) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, cls=DjangoJSONEncoder)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """``t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def request_headers(secret: str, body: bytes, event_id: str, event_type: str, attempt: int) -> dict:
    return {
        "Content-Type": "application/json",
        "User-Agent": f"{USER_AGENT} (+{settings.SITE_URL})",
        "Accept-Encoding": "identity",
        SIGNATURE_HEADER: sign(secret, body, int(time.time())),
        EVENT_ID_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
        ATTEMPT_HEADER: str(attempt),
    }


# --- the one outbound HTTP seam ----------------------------------------------------------------------------

_ssl_context = ssl.create_default_context(cafile=certifi.where())


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read, write and TLS handshake fits inside one overall deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float):
        self._stream = stream
        self._deadline = deadline

    def _budget(self, timeout: float | None, error: type[Exception]) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise error("total time limit reached")
        return remaining if timeout is None else min(timeout, remaining)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._budget(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._budget(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        stream = self._stream.start_tls(ssl_context, server_hostname, self._budget(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(stream, self._deadline)

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves the host once, checks every address, and connects only to a checked address.

    TLS and the Host header still use the URL's host name; only the TCP peer is pinned, so a DNS
    answer cannot change between the check and the connection.
    """

    def __init__(self, deadline: float):
        self._inner = httpcore.SyncBackend()
        self._deadline = deadline

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = urlcheck.resolve(host, port)
        if not addresses:
            raise httpcore.ConnectError(f"{host} does not resolve")
        for address in addresses:
            urlcheck.check_address(address)
        error: Exception = httpcore.ConnectError(f"could not connect to {host}")
        for address in addresses:
            remaining = self._deadline - time.monotonic()
            if remaining <= 0:
                raise httpcore.ConnectTimeout("total time limit reached")
            try:
                stream = self._inner.connect_tcp(
                    address, port, timeout=min(timeout or remaining, remaining),
                    local_address=local_address, socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
                continue
            return _DeadlineStream(stream, self._deadline)
        raise error

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise httpcore.ConnectError("webhooks are not delivered over unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    def __init__(self, deadline: float):
        super().__init__(verify=_ssl_context, trust_env=False, retries=0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=_ssl_context, max_connections=1, max_keepalive_connections=0, retries=0,
            network_backend=_GuardedBackend(deadline),
        )


def _read_limited(response: httpx.Response) -> str:
    kept = bytearray()
    for chunk in response.iter_raw():
        kept += chunk
        if len(kept) >= MAX_RESPONSE_BYTES:
            break
    return bytes(kept[:MAX_RESPONSE_BYTES]).decode("utf-8", errors="replace")


def post(url: str, body: bytes, headers: dict) -> Reply:
    """POST ``body`` to ``url``: the only place webhooks reach the network.

    Connect timeout ``WEBHOOK_CONNECT_TIMEOUT_S``, everything within ``WEBHOOK_TOTAL_TIMEOUT_S``;
    redirects are not followed; at most MAX_RESPONSE_BYTES of the answer are read. Raises
    :class:`DeliveryError` when there is no HTTP answer.
    """
    connect_s, total_s = settings.WEBHOOK_CONNECT_TIMEOUT_S, settings.WEBHOOK_TOTAL_TIMEOUT_S
    try:
        urlcheck.check_url(url)
        deadline = time.monotonic() + total_s
        timeout = httpx.Timeout(total_s, connect=connect_s)
        with httpx.Client(transport=_GuardedTransport(deadline), timeout=timeout, follow_redirects=False,
                          trust_env=False) as client:
            with client.stream("POST", url, content=body, headers=headers) as response:
                return Reply(response.status_code, _read_limited(response),
                             {name.lower(): value for name, value in response.headers.items()})
    except urlcheck.UnsafeUrl as exc:
        raise DeliveryError(str(exc), retryable=False)
    except httpx.TimeoutException as exc:
        raise DeliveryError(f"Timed out ({type(exc).__name__}; connect limit {connect_s:g} s, "
                            f"total {total_s:g} s).", retryable=True)
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
        raise DeliveryError(f"Invalid webhook URL: {exc}", retryable=False)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc or 'connection failed'}", retryable=True)


# --- outcome of one attempt ------------------------------------------------------------------------------


def is_retryable_status(status_code: int) -> bool:
    return status_code >= 500 or status_code in (408, 429)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds asked for by a ``Retry-After`` header (delta or HTTP date); None if absent or not sane."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = max(0.0, (when - (now or timezone.now())).total_seconds())
    return seconds if seconds <= MAX_RETRY_AFTER_S else None


def next_delay(retry_number: int, retry_after: float | None = None) -> float | None:
    """Seconds before retry ``retry_number`` (1-based), or None when the schedule is exhausted."""
    delays = settings.WEBHOOK_RETRY_DELAYS_S
    if retry_number > len(delays):
        return None
    delay = float(delays[retry_number - 1])
    return max(delay, retry_after) if retry_after is not None else delay


# --- dispatch --------------------------------------------------------------------------------------------


class EmbeddedRunner:
    """Runs jobs on a few daemon threads, each no earlier than its due time."""

    def __init__(self, threads: int):
        self._threads = max(1, threads)
        self._cond = threading.Condition()
        self._due: list = []
        self._order = itertools.count()
        self._active = 0
        self._started = False

    def submit(self, job, delay: float = 0.0) -> None:
        with self._cond:
            if not self._started:
                for number in range(self._threads):
                    threading.Thread(target=self._work, name=f"webhooks-{number}", daemon=True).start()
                self._started = True
            self._active += 1
            heapq.heappush(self._due, (time.monotonic() + max(0.0, delay), next(self._order), job))
            self._cond.notify_all()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no job is queued or running; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._active == 0, timeout)

    def _next_job(self):
        with self._cond:
            while True:
                now = time.monotonic()
                if self._due and self._due[0][0] <= now:
                    return heapq.heappop(self._due)[2]
                self._cond.wait(self._due[0][0] - now if self._due else None)

    def _work(self) -> None:
        while True:
            job = self._next_job()
            try:
                job()
            except Exception:
                logger.exception("Embedded webhook job failed")
            finally:
                connections.close_all()
                with self._cond:
                    self._active -= 1
                    self._cond.notify_all()


_embedded: EmbeddedRunner | None = None
_embedded_lock = threading.Lock()


def embedded_runner() -> EmbeddedRunner:
    global _embedded
    with _embedded_lock:
        if _embedded is None:
            _embedded = EmbeddedRunner(settings.WEBHOOK_EMBEDDED_THREADS)
        return _embedded


def dispatch(delivery_id: str, claim: int, countdown: float = 0.0) -> None:
    """Queue the attempt that expects ``attempt_count == claim``, to run after ``countdown`` seconds."""
    from .tasks import deliver_webhook

    try:
        if deliver_webhook.app.conf.task_always_eager:
            embedded_runner().submit(partial(deliver_webhook.apply, args=(delivery_id, claim), throw=True),
                                     countdown)
        else:
            deliver_webhook.apply_async((delivery_id, claim), countdown=countdown, **_same_queue())
    except Exception:
        # The delivery stays pending with a due time; the stalled-delivery sweep dispatches it again.
        logger.exception("Could not dispatch webhook delivery %s", delivery_id)


def _same_queue() -> dict:
    """Inside a worker task, send the follow-up to the queue that task came from."""
    if not current_task or current_task.request.is_eager:
        return {}
    queue = (current_task.request.delivery_info or {}).get("routing_key")
    return {"queue": queue} if queue else {}


def wait_for_embedded_deliveries(timeout: float | None = None) -> bool:
    """Wait until the embedded runner has no queued, scheduled or running job; False on timeout."""
    return embedded_runner().wait_idle(timeout)


# --- the public operations -------------------------------------------------------------------------------


def event_body(event: dict, event_id: str, livemode: bool, created: int | None = None) -> str:
    """The socket event plus ``id``, ``type``, ``created`` and ``livemode``, as sent."""
    body = {
        "id": event_id,
        "type": event["event"],
        "created": int(time.time()) if created is None else created,
        "livemode": livemode,
    }
    body.update((key, value) for key, value in event.items() if key not in RESERVED_BODY_KEYS)
    return canonical_json(body)


def enqueue_event(call, event: dict) -> WebhookDelivery | None:
    """Record and schedule delivery of one socket event (``amd`` or ``amd.message_end``) for ``call``.

    Called once per event from the stream consumer (through ``database_sync_to_async``); returns at
    once: the HTTP work happens in Celery (or the embedded runner), never on the socket's event loop.
    Goes to the call's webhook URL, else the organization's current one; without either, nothing.
    """
    event_type = event.get("event")
    if event_type not in EVENT_TYPES:
        raise ValueError(f"not a webhook event: {event_type!r}")
    url = call.webhook_url or (
        Organization.objects.filter(pk=call.organization_id).values_list("webhook_url", flat=True).first()
    )
    if not url:
        return None
    event_id = new_event_id()
    delivery = WebhookDelivery.objects.create(
        organization_id=call.organization_id, call_id=call.pk, event_id=event_id, event_type=event_type,
        url=url, body=event_body(event, event_id, call.livemode), next_attempt_at=timezone.now(),
    )
    transaction.on_commit(partial(dispatch, delivery.pk, 0))
    return delivery


def attempt(delivery_id: str, claim: int) -> WebhookAttempt | None:
    """Make the attempt that expects ``attempt_count == claim``; None if it is not (or no longer) due."""
    started_at = timezone.now()
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.PENDING, attempt_count=claim
    ).update(attempt_count=claim + 1, next_attempt_at=started_at + CLAIM_LEASE)
    if not claimed:
        return None
    delivery = WebhookDelivery.objects.select_related("organization").get(pk=delivery_id)
    body = delivery.body.encode()
    headers = request_headers(delivery.organization.webhook_signing_secret, body, delivery.event_id,
                              delivery.event_type, delivery.attempt_count)
    clock = time.monotonic()
    reply, error, retryable = None, "", False
    try:
        reply = post(delivery.url, body, headers)
    except DeliveryError as exc:
        error, retryable = str(exc), exc.retryable
    duration_ms = round((time.monotonic() - clock) * 1000)

    retry_after = None
    if reply is not None:
        retryable = is_retryable_status(reply.status_code)
        retry_after = retry_after_seconds(reply.headers.get("retry-after")) if retryable else None
        if 300 <= reply.status_code < 400:
            error = f"Redirect not followed (Location: {reply.headers.get('location', '—')})."[:500]
    logged = WebhookAttempt.objects.create(
        delivery=delivery, created=started_at, status_code=reply.status_code if reply else None,
        duration_ms=duration_ms, error=error, response_body=reply.body if reply else "",
    )

    fields = {"last_status_code": reply.status_code if reply else None, "last_error": error}
    delay = None
    if reply is not None and 200 <= reply.status_code < 300:
        fields.update(status=WebhookDelivery.SUCCEEDED, delivered_at=timezone.now(), next_attempt_at=None)
    elif retryable and (delay := next_delay(delivery.attempt_count - delivery.attempts_before_replay,
                                            retry_after)) is not None:
        fields.update(next_attempt_at=timezone.now() + timedelta(seconds=delay))
    else:
        fields.update(status=WebhookDelivery.FAILED, next_attempt_at=None)
    # Settle only if nothing (a replay, another claim) changed the delivery meanwhile.
    settled = WebhookDelivery.objects.filter(
        pk=delivery_id, status=WebhookDelivery.PENDING, attempt_count=claim + 1,
        attempts_before_replay=delivery.attempts_before_replay,
    ).update(**fields)
    if settled and fields.get("status") is None:
        transaction.on_commit(partial(dispatch, delivery_id, claim + 1, delay))
    return logged


def replay(delivery: WebhookDelivery) -> WebhookDelivery:
    """Start a new attempt cycle for ``delivery`` (same event id and body, fresh signature)."""
    with transaction.atomic():
        current = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        WebhookDelivery.objects.filter(pk=current.pk).update(
            status=WebhookDelivery.PENDING, attempts_before_replay=current.attempt_count,
            next_attempt_at=timezone.now(), delivered_at=None,
        )
        delivery.refresh_from_db()
        transaction.on_commit(partial(dispatch, current.pk, current.attempt_count))
    return delivery


def retry_stalled(limit: int = STALLED_BATCH) -> int:
    """Dispatch again the pending deliveries whose next attempt is overdue by STALL_GRACE."""
    cutoff = timezone.now() - STALL_GRACE
    stalled = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.PENDING, next_attempt_at__lt=cutoff)
        .order_by("next_attempt_at").values_list("pk", "attempt_count")[:limit]
    )
    for delivery_id, claim in stalled:
        dispatch(delivery_id, claim)
    return len(stalled)


def sample_event() -> dict:
    return {
        "event": "amd", "call_id": "C_test", "call_sid": "CA" + "0" * 32, "stream_sid": "MZ" + "0" * 32,
        "answered_by": "human", "answered_by_twilio": "human", "confidence": 0.97, "decision_ms": 640,
        "reason": "Test event sent from PyAI AMD; no call was made.", "evidence": [], "test": True,
    }


def send_test_webhook(organization, url: str | None = None) -> ProbeResult:
    """POST a signed sample ``amd`` event to ``url`` (default: the organization's) and report the answer.

    Synchronous: for a plain Django view, never for an event loop. Nothing is stored.
    """
    url = url or organization.webhook_url
    if not url:
        return ProbeResult("", False, None, 0, "", "No webhook URL is configured.")
    event_id = new_event_id()
    body = event_body(sample_event(), event_id, livemode=False).encode()
    headers = request_headers(organization.webhook_signing_secret, body, event_id, "amd", 1)
    clock = time.monotonic()
    try:
        reply = post(url, body, headers)
    except DeliveryError as exc:
        return ProbeResult(url, False, None, round((time.monotonic() - clock) * 1000), "", str(exc))
    return ProbeResult(url, 200 <= reply.status_code < 300, reply.status_code,
                       round((time.monotonic() - clock) * 1000), reply.body, "")
