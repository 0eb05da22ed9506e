"""One webhook attempt at a time, against a real local receiver; dispatching of the next one is recorded."""

import json
import socket
import threading
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from detection import urlcheck, webhooks
from detection.models import WebhookAttempt, WebhookDelivery

from .support import make_call, verify_signature

DECISION = {
    "event": "amd", "call_id": "C_x", "call_sid": "CA1", "stream_sid": "MZ1", "answered_by": "voicemail",
    "answered_by_twilio": "machine_start", "confidence": 0.96, "decision_ms": 720,
    "reason": "machine phrase: 'please leave a message' at 1.2s", "evidence": [],
}


@pytest.fixture
def dispatched(monkeypatch):
    queued = []
    monkeypatch.setattr(webhooks, "dispatch",
                        lambda delivery_id, claim, countdown=0.0: queued.append((delivery_id, claim, countdown)))
    return queued


@pytest.fixture
def deliver(tenant, dispatched, private_hosts, fast_retries, django_capture_on_commit_callbacks):
    """A delivery of DECISION to ``url``; run its attempts with ``run``."""

    class Deliver:
        def __init__(self):
            self.delivery = None

        def to(self, url, event=DECISION, **call_fields):
            call = make_call(tenant.org, webhook_url=url, **call_fields)
            with django_capture_on_commit_callbacks(execute=True):
                self.delivery = webhooks.enqueue_event(call, event)
            return self.delivery

        def run(self, claim=None):
            claim = self.delivery.attempt_count if claim is None else claim
            with django_capture_on_commit_callbacks(execute=True):
                logged = webhooks.attempt(self.delivery.pk, claim)
            self.delivery.refresh_from_db()
            return logged

        def replay(self):
            with django_capture_on_commit_callbacks(execute=True):
                webhooks.replay(self.delivery)

    return Deliver()


@pytest.mark.django_db
def test_the_body_is_the_socket_event_plus_id_type_created_and_livemode(tenant, dispatched):
    call = make_call(tenant.org, webhook_url="https://hooks.example.com/amd", livemode=False)
    before = int(time.time())
    delivery = webhooks.enqueue_event(call, DECISION)
    body = json.loads(delivery.body)
    assert {k: body[k] for k in DECISION} == DECISION
    assert set(body) == set(DECISION) | {"id", "type", "created", "livemode"}
    assert body["id"] == delivery.event_id and body["id"].startswith("evt_")
    assert body["type"] == "amd" and body["livemode"] is False
    assert before <= body["created"] <= int(time.time())
    assert delivery.url == "https://hooks.example.com/amd" and delivery.event_type == "amd"
    assert delivery.status == "pending" and delivery.organization_id == tenant.org.pk


@pytest.mark.django_db
def test_it_dispatches_only_after_the_transaction_commits(tenant, dispatched, django_capture_on_commit_callbacks):
    call = make_call(tenant.org, webhook_url="https://hooks.example.com/amd")
    with django_capture_on_commit_callbacks() as callbacks:
        delivery = webhooks.enqueue_event(call, {**DECISION, "event": "amd.message_end"})
        assert dispatched == []
    assert len(callbacks) == 1
    callbacks[0]()
    assert dispatched == [(delivery.pk, 0, 0.0)]


@pytest.mark.django_db
def test_the_call_webhook_wins_else_the_organization_url_at_send_time(tenant, dispatched):
    own = make_call(tenant.org, webhook_url="https://own.example.com/hook")
    tenant.org.webhook_url = "https://org.example.com/hook"
    tenant.org.save()
    assert webhooks.enqueue_event(own, DECISION).url == "https://own.example.com/hook"
    plain = make_call(tenant.org)
    type(tenant.org).objects.filter(pk=tenant.org.pk).update(webhook_url="https://changed.example.com/hook")
    assert webhooks.enqueue_event(plain, DECISION).url == "https://changed.example.com/hook"


@pytest.mark.django_db
def test_without_any_webhook_url_nothing_is_recorded(tenant, dispatched):
    assert webhooks.enqueue_event(make_call(tenant.org), DECISION) is None
    assert not WebhookDelivery.objects.exists() and dispatched == []


@pytest.mark.django_db
def test_only_decision_events_are_webhooks(tenant, dispatched):
    with pytest.raises(ValueError):
        webhooks.enqueue_event(make_call(tenant.org, webhook_url="https://x.example.com"), {"event": "error"})


@pytest.mark.django_db
def test_a_delivery_is_signed_with_the_organization_secret_and_succeeds(deliver, receiver, tenant):
    delivery = deliver.to(receiver.script("/ok", 200))
    logged = deliver.run()
    (request,) = receiver.received("/ok")
    assert request.body == delivery.body.encode()
    assert verify_signature(tenant.org.webhook_signing_secret, request.body, request.headers["pyai-signature"])
    assert not verify_signature("whsec_wrong", request.body, request.headers["pyai-signature"])
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("PyAI-AMD-Webhooks/")
    assert request.headers["pyai-event-id"] == delivery.event_id
    assert request.headers["pyai-event-type"] == "amd"
    assert logged.status_code == 200 and logged.response_body == "ok" and logged.error == ""
    assert delivery.status == "succeeded" and delivery.delivered_at is not None
    assert delivery.attempt_count == 1 and delivery.last_status_code == 200 and delivery.next_attempt_at is None


@pytest.mark.django_db
def test_a_rotated_secret_signs_the_next_attempt(deliver, receiver, tenant):
    deliver.to(receiver.script("/rot", 500, 200))
    deliver.run()
    new_secret = tenant.org.rotate_signing_secret()
    deliver.run()
    first, second = receiver.received("/rot")
    assert not verify_signature(new_secret, first.body, first.headers["pyai-signature"])
    assert verify_signature(new_secret, second.body, second.headers["pyai-signature"])


@pytest.mark.django_db
@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_server_errors_timeouts_and_throttling_are_retried_on_the_schedule(deliver, receiver, dispatched, status):
    delivery = deliver.to(receiver.script("/retry", status))
    deliver.run()
    assert delivery.status == "pending" and delivery.last_status_code == status
    assert dispatched[-1] == (delivery.pk, 1, 0.2)
    assert delivery.next_attempt_at > timezone.now()


@pytest.mark.django_db
@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_other_client_errors_are_final(deliver, receiver, dispatched, status):
    delivery = deliver.to(receiver.script("/final", (status, {}, b"no such hook")))
    logged = deliver.run()
    assert delivery.status == "failed" and delivery.attempt_count == 1 and delivery.next_attempt_at is None
    assert logged.status_code == status and logged.response_body == "no such hook"
    assert [d for d in dispatched if d[1] > 0] == []


@pytest.mark.django_db
def test_redirects_are_not_followed(deliver, receiver):
    target = receiver.url("/elsewhere")
    delivery = deliver.to(receiver.script("/moved", (302, {"Location": target}, b"")))
    logged = deliver.run()
    assert receiver.received("/elsewhere") == []
    assert logged.status_code == 302 and "Redirect not followed" in logged.error
    assert delivery.status == "failed"


@pytest.mark.django_db
def test_retry_after_is_honoured_when_sane(deliver, receiver, dispatched):
    delivery = deliver.to(receiver.script("/slow-down", (429, {"Retry-After": "7"}, b""),
                                          (503, {"Retry-After": "86400"}, b"")))
    deliver.run()
    assert dispatched[-1] == (delivery.pk, 1, 7.0)
    deliver.run()
    assert dispatched[-1] == (delivery.pk, 2, 0.2)


def test_retry_after_parsing():
    now = timezone.now()
    assert webhooks.retry_after_seconds("120") == 120
    assert webhooks.retry_after_seconds(None) is None
    assert webhooks.retry_after_seconds("soon") is None
    assert webhooks.retry_after_seconds("99999") is None
    http_date = (now + timedelta(seconds=30)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert 28 <= webhooks.retry_after_seconds(http_date, now) <= 31


def test_the_default_schedule_is_eight_attempts_over_about_an_hour(settings):
    from amd_project import settings as project_settings

    delays = project_settings.WEBHOOK_RETRY_DELAYS_S
    assert len(delays) + 1 == 8
    assert delays == sorted(delays)
    assert 50 * 60 <= sum(delays) <= 80 * 60


@pytest.mark.django_db
def test_after_the_last_retry_the_delivery_fails(deliver, receiver, settings):
    settings.WEBHOOK_RETRY_DELAYS_S = [0.1, 0.1]
    delivery = deliver.to(receiver.script("/down", 503))
    for _ in range(3):
        deliver.run()
    assert delivery.status == "failed" and delivery.attempt_count == 3
    assert deliver.run() is None
    assert len(receiver.received("/down")) == 3
    assert list(WebhookAttempt.objects.filter(delivery=delivery).values_list("status_code", flat=True)) == [503] * 3


@pytest.mark.django_db
def test_an_attempt_is_made_once_per_claim(deliver, receiver):
    delivery = deliver.to(receiver.script("/once", 500))
    assert deliver.run(claim=0) is not None
    assert deliver.run(claim=0) is None
    assert deliver.run(claim=5) is None
    assert len(receiver.received("/once")) == 1 and delivery.attempt_count == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_the_same_attempt_send_it_once(tenant, receiver, private_hosts, dispatched):
    call = make_call(tenant.org, webhook_url=receiver.script("/race", (200, {}, b"ok", 0.2)))
    delivery = webhooks.enqueue_event(call, DECISION)
    start = threading.Barrier(4)
    results = []

    def worker():
        start.wait()
        try:
            results.append(webhooks.attempt(delivery.pk, 0))
        except OperationalError:
            # In-memory SQLite refuses a concurrent writer outright ("table is locked") instead of
            # queueing it; that worker made no claim. PostgreSQL queues it and the claim decides.
            results.append(None)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(results) == 4 and len([r for r in results if r is not None]) == 1
    assert len(receiver.received("/race")) == 1
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1


@pytest.mark.django_db
def test_connection_errors_are_logged_and_retried(deliver, dispatched):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    delivery = deliver.to(f"http://127.0.0.1:{port}/closed")
    logged = deliver.run()
    assert logged.status_code is None and "ConnectError" in logged.error
    assert delivery.status == "pending" and delivery.last_error == logged.error
    assert dispatched[-1] == (delivery.pk, 1, 0.2)


@pytest.mark.django_db
def test_a_slow_receiver_times_out_within_the_total_limit(deliver, receiver, settings, dispatched):
    settings.WEBHOOK_TOTAL_TIMEOUT_S = 0.4
    delivery = deliver.to(receiver.script("/sleepy", (200, {}, b"late", 2.0)))
    started = time.monotonic()
    logged = deliver.run()
    assert time.monotonic() - started < 1.5
    assert "Timed out" in logged.error and logged.status_code is None
    assert delivery.status == "pending" and dispatched[-1][1] == 1


@pytest.mark.django_db
def test_a_trickling_receiver_cannot_stretch_the_total_limit(deliver, settings):
    settings.WEBHOOK_TOTAL_TIMEOUT_S = 0.6
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    stop = threading.Event()

    def trickle():
        conn, _ = server.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
        while not stop.is_set():
            try:
                conn.sendall(b"x")
            except OSError:
                break
            time.sleep(0.05)
        conn.close()

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        deliver.to(f"http://127.0.0.1:{server.getsockname()[1]}/drip")
        started = time.monotonic()
        logged = deliver.run()
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        server.close()
    assert elapsed < 1.5
    assert "Timed out" in logged.error


@pytest.mark.django_db
def test_at_most_one_kilobyte_of_the_answer_is_kept(deliver, receiver):
    deliver.to(receiver.script("/chatty", (500, {}, "é".encode() * 3000)))
    logged = deliver.run()
    assert len(logged.response_body.encode()) <= 1024 + 3  # a split character becomes one replacement char
    assert logged.response_body.startswith("é" * 100)


@pytest.mark.django_db
def test_private_addresses_are_refused_at_send_time(deliver, receiver, settings):
    delivery = deliver.to(receiver.script("/internal", 200))
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    logged = deliver.run()
    assert receiver.received("/internal") == []
    assert "non-public address" in logged.error
    assert delivery.status == "failed"


@pytest.mark.django_db
def test_a_host_that_rebinds_to_a_private_address_after_the_check_is_refused(deliver, receiver, settings):
    """The address connected to is the address checked: DNS answering differently the second time fails."""
    delivery = deliver.to(receiver.url("/rebind").replace("127.0.0.1", "hooks.example.com"))
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    answers = iter([["93.184.216.34"], ["127.0.0.1"]])
    with mock.patch.object(urlcheck, "resolve", side_effect=lambda host, port: next(answers)):
        logged = deliver.run()
    assert receiver.received("/rebind") == []
    assert "non-public address (127.0.0.1)" in logged.error
    assert delivery.status == "failed"


@pytest.mark.django_db
def test_a_public_name_connects_to_the_checked_address_with_its_own_host_header(deliver, receiver):
    port = receiver.base_url.rsplit(":", 1)[1]
    deliver.to(f"http://hooks.example.com:{port}/pinned")
    with mock.patch.object(urlcheck, "resolve", return_value=["127.0.0.1"]):
        logged = deliver.run()
    (request,) = receiver.received("/pinned")
    assert request.headers["host"] == f"hooks.example.com:{port}"
    assert logged.status_code == 200


@pytest.mark.django_db
def test_every_attempt_goes_through_the_one_post_seam(deliver):
    delivery = deliver.to("https://hooks.example.com/amd")
    with mock.patch.object(webhooks, "post", side_effect=webhooks.DeliveryError("Timed out (test)", True)) as post:
        logged = deliver.run()
    url, body, headers = post.call_args.args
    assert url == "https://hooks.example.com/amd" and body == delivery.body.encode()
    assert headers["PyAI-Event-Id"] == delivery.event_id
    assert logged.error == "Timed out (test)" and delivery.status == "pending"
    with mock.patch.object(webhooks, "post", return_value=webhooks.Reply(204)):
        deliver.run()
    assert delivery.status == "succeeded" and delivery.attempt_count == 2


@pytest.mark.django_db
def test_replay_starts_a_new_cycle_with_the_same_event(deliver, receiver, dispatched, tenant):
    delivery = deliver.to(receiver.script("/replay", 400, 200))
    deliver.run()
    assert delivery.status == "failed"
    deliver.replay()
    assert delivery.status == "pending" and delivery.attempts_before_replay == 1
    assert dispatched[-1] == (delivery.pk, 1, 0.0)
    deliver.run()
    assert delivery.status == "succeeded" and delivery.attempt_count == 2
    first, second = receiver.received("/replay")
    assert first.body == second.body
    assert first.headers["pyai-event-id"] == second.headers["pyai-event-id"] == delivery.event_id
    assert verify_signature(tenant.org.webhook_signing_secret, second.body, second.headers["pyai-signature"])


@pytest.mark.django_db
def test_a_replayed_delivery_gets_the_whole_schedule_again(deliver, receiver, dispatched, settings):
    settings.WEBHOOK_RETRY_DELAYS_S = [0.1]
    delivery = deliver.to(receiver.script("/again", 503))
    deliver.run()
    deliver.run()
    assert delivery.status == "failed" and delivery.attempt_count == 2
    deliver.replay()
    deliver.run()
    assert delivery.status == "pending" and dispatched[-1] == (delivery.pk, 3, 0.1)
    deliver.run()
    assert delivery.status == "failed" and delivery.attempt_count == 4


@pytest.mark.django_db
def test_an_attempt_in_flight_does_not_settle_over_a_replay(deliver, receiver):
    delivery = deliver.to(receiver.script("/inflight", 400))
    real_post = webhooks.post

    def post_then_replay(*args):
        reply = real_post(*args)
        webhooks.replay(WebhookDelivery.objects.get(pk=delivery.pk))
        return reply

    with mock.patch.object(webhooks, "post", side_effect=post_then_replay):
        deliver.run()
    assert delivery.status == "pending" and delivery.attempts_before_replay == 1


@pytest.mark.django_db
def test_the_sweep_redispatches_only_overdue_pending_deliveries(deliver, dispatched):
    overdue = deliver.to("https://hooks.example.com/a")
    fresh = deliver.to("https://hooks.example.com/b")
    done = deliver.to("https://hooks.example.com/c")
    long_ago = timezone.now() - timedelta(minutes=10)
    WebhookDelivery.objects.filter(pk=overdue.pk).update(next_attempt_at=long_ago, attempt_count=3)
    WebhookDelivery.objects.filter(pk=fresh.pk).update(next_attempt_at=timezone.now())
    WebhookDelivery.objects.filter(pk=done.pk).update(next_attempt_at=long_ago, status="failed")
    dispatched.clear()
    assert webhooks.retry_stalled() == 1
    assert dispatched == [(overdue.pk, 3, 0.0)]


@pytest.mark.django_db
def test_the_test_webhook_reports_the_receivers_answer(tenant, receiver, private_hosts):
    url = receiver.script("/console", (201, {}, b"thanks"))
    result = webhooks.send_test_webhook(tenant.org, url)
    assert (result.ok, result.status_code, result.response_body, result.error) == (True, 201, "thanks", "")
    assert result.url == url and result.duration_ms >= 0
    (request,) = receiver.received("/console")
    assert verify_signature(tenant.org.webhook_signing_secret, request.body, request.headers["pyai-signature"])
    body = json.loads(request.body)
    assert body["type"] == "amd" and body["livemode"] is False and body["test"] is True
    assert not WebhookDelivery.objects.exists()


@pytest.mark.django_db
def test_the_test_webhook_uses_the_organization_url_and_reports_failures(tenant, receiver, private_hosts, settings):
    tenant.org.webhook_url = receiver.script("/configured", (500, {}, b"boom"))
    result = webhooks.send_test_webhook(tenant.org)
    assert (result.ok, result.status_code, result.response_body) == (False, 500, "boom")
    tenant.org.webhook_url = ""
    assert "No webhook URL" in webhooks.send_test_webhook(tenant.org).error
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = False
    refused = webhooks.send_test_webhook(tenant.org, receiver.url("/configured"))
    assert not refused.ok and refused.status_code is None and "non-public" in refused.error


@pytest.mark.django_db
def test_a_broker_failure_leaves_the_delivery_pending_for_the_sweep(tenant, monkeypatch):
    from detection.tasks import deliver_webhook

    monkeypatch.setitem(deliver_webhook.app.conf, "task_always_eager", False)
    monkeypatch.setattr(deliver_webhook, "apply_async", mock.Mock(side_effect=ConnectionError("broker down")))
    call = make_call(tenant.org, webhook_url="https://hooks.example.com/amd")
    delivery = webhooks.enqueue_event(call, DECISION)
    webhooks.dispatch(delivery.pk, 0)
    deliver_webhook.apply_async.assert_called_once_with((delivery.pk, 0), countdown=0.0)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.next_attempt_at is not None


@pytest.mark.django_db
def test_with_a_broker_attempts_are_queued_with_their_countdown(tenant, monkeypatch):
    from detection.tasks import deliver_webhook

    monkeypatch.setitem(deliver_webhook.app.conf, "task_always_eager", False)
    monkeypatch.setattr(deliver_webhook, "apply_async", mock.Mock())
    webhooks.dispatch("whd_x", 3, 90.0)
    deliver_webhook.apply_async.assert_called_once_with(("whd_x", 3), countdown=90.0)
