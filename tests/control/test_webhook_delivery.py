"""Webhooks end to end: enqueue_event → Celery → a real HTTP receiver.

With REDIS_URL (and PostgreSQL) the attempts run in a real ``celery worker`` process on the Redis broker,
pointed at the test database; without it, in the embedded mode (eager Celery on background threads).
"""

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from amd_project import celery_app
from detection import webhooks
from detection.models import WebhookAttempt, WebhookDelivery

from .support import make_call, verify_signature

ROOT = Path(__file__).resolve().parents[2]
RETRY_DELAY_S = 0.3
DECISION = {
    "event": "amd", "call_id": "C_x", "call_sid": "CA1", "stream_sid": "MZ1", "answered_by": "human",
    "answered_by_twilio": "human", "confidence": 0.93, "decision_ms": 540,
    "reason": "speech at 0.2s followed by a 700 ms pause", "evidence": [],
}


class Worker:
    def __init__(self, database_name: str):
        self.queue = f"control-{uuid.uuid4().hex[:10]}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="celery-worker-", suffix=".log", delete=False)
        db = connection.settings_dict
        database_url = (f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST'] or '127.0.0.1'}:"
                        f"{db['PORT'] or 5432}/{database_name}")
        env = {
            **os.environ, "DATABASE_URL": database_url, "WEBHOOK_ALLOW_PRIVATE_HOSTS": "true",
            "WEBHOOK_RETRY_DELAYS_S": ",".join([str(RETRY_DELAY_S)] * 7), "SECRET_KEY": os.environ["SECRET_KEY"],
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "amd_project", "worker", "-P", "solo", "-Q", self.queue,
             "-n", f"{self.queue}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle",
             "-l", "INFO"],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return Path(self.log.name).read_text()

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if " ready." in self.output():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"celery worker did not start:\n{self.output()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.log.close()
        os.unlink(self.log.name)


@pytest.fixture(scope="module")
def backend(django_db_setup):
    """"worker" with a live Celery worker process, or "embedded"."""
    if celery_app.conf.task_always_eager:
        yield "embedded"
        return
    if connection.vendor != "postgresql":
        pytest.skip("a worker process cannot reach the in-memory SQLite test database; set DATABASE_URL")
    worker = Worker(connection.settings_dict["NAME"])
    default_queue = celery_app.conf.task_default_queue
    celery_app.conf.task_default_queue = worker.queue
    try:
        worker.wait_ready()
        yield worker
    finally:
        celery_app.conf.task_default_queue = default_queue
        worker.stop()


class DeliveryEnv:
    def __init__(self, backend, drain):
        self.worker = backend if isinstance(backend, Worker) else None
        self.drain = drain

    def settled(self, delivery_id: str, timeout: float = 15.0) -> WebhookDelivery:
        """The delivery once no attempt is pending.

        Embedded mode waits for the background threads first: the in-memory SQLite test database
        refuses a read while another thread writes, so the test never reads during an attempt.
        """
        if self.worker is None:
            self.drain(timeout)
            return WebhookDelivery.objects.get(pk=delivery_id)
        return wait_until(lambda: WebhookDelivery.objects.exclude(status=WebhookDelivery.PENDING)
                          .filter(pk=delivery_id).first(), timeout)


@pytest.fixture
def delivery_env(backend, private_hosts, settings, drain):
    settings.WEBHOOK_RETRY_DELAYS_S = [RETRY_DELAY_S] * 7
    return DeliveryEnv(backend, drain)


def wait_until(predicate, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    return predicate()


@pytest.mark.django_db(transaction=True)
def test_a_decision_is_delivered_signed_and_logged(delivery_env, tenant, receiver):
    tenant.org.webhook_url = receiver.script("/amd-events", (200, {}, b"received"))
    tenant.org.save()
    call = make_call(tenant.org, livemode=False)
    delivery = webhooks.enqueue_event(call, DECISION)
    (request,) = receiver.wait_for("/amd-events", 1)
    assert verify_signature(tenant.org.webhook_signing_secret, request.body, request.headers["pyai-signature"])
    assert request.body == delivery.body.encode()
    done = delivery_env.settled(delivery.pk)
    assert done.status == "succeeded" and done.attempt_count == 1 and done.delivered_at is not None
    (logged,) = WebhookAttempt.objects.filter(delivery=delivery)
    assert logged.status_code == 200 and logged.response_body == "received" and logged.duration_ms >= 0
    if delivery_env.worker:
        assert wait_until(lambda: "detection.deliver_webhook" in delivery_env.worker.output(), 5)


@pytest.mark.django_db(transaction=True)
def test_a_receiver_failing_twice_gets_three_attempts_spaced_by_the_backoff(delivery_env, tenant, receiver):
    call = make_call(tenant.org, webhook_url=receiver.script("/flaky", 500, 500, 200))
    delivery = webhooks.enqueue_event(call, DECISION)
    requests = receiver.wait_for("/flaky", 3)
    done = delivery_env.settled(delivery.pk)
    assert done.status == "succeeded" and done.attempt_count == 3
    assert list(WebhookAttempt.objects.filter(delivery=delivery).values_list("status_code", flat=True)) == [
        500, 500, 200]
    gaps = [later.at - earlier.at for earlier, later in zip(requests, requests[1:], strict=False)]
    assert all(gap >= RETRY_DELAY_S * 0.9 for gap in gaps), gaps
    assert len({r.headers["pyai-event-id"] for r in requests}) == 1
    assert [r.headers["pyai-attempt"] for r in requests] == ["1", "2", "3"]


@pytest.mark.django_db(transaction=True)
def test_a_receiver_answering_400_gets_one_attempt(delivery_env, tenant, receiver):
    call = make_call(tenant.org, webhook_url=receiver.script("/gone", (400, {}, b"unknown hook")))
    delivery = webhooks.enqueue_event(call, DECISION)
    done = delivery_env.settled(delivery.pk)
    assert done.status == "failed" and done.attempt_count == 1 and done.last_status_code == 400
    time.sleep(RETRY_DELAY_S * 3)
    assert len(receiver.received("/gone")) == 1
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 1


@pytest.mark.django_db(transaction=True)
def test_enqueueing_never_waits_for_the_receiver(delivery_env, tenant, receiver):
    call = make_call(tenant.org, webhook_url=receiver.script("/slow", (200, {}, b"ok", 1.5)))
    started = time.monotonic()
    delivery = webhooks.enqueue_event(call, DECISION)
    assert time.monotonic() - started < 0.5
    assert delivery.status == "pending" and receiver.received("/slow") == []
    assert delivery_env.settled(delivery.pk).status == "succeeded"


@pytest.mark.django_db(transaction=True)
def test_a_replayed_delivery_is_sent_again(delivery_env, tenant, receiver):
    call = make_call(tenant.org, webhook_url=receiver.script("/replayed", 410, 200))
    delivery = webhooks.enqueue_event(call, DECISION)
    assert delivery_env.settled(delivery.pk).status == "failed"
    webhooks.replay(WebhookDelivery.objects.get(pk=delivery.pk))
    assert len(receiver.wait_for("/replayed", 2)) == 2
    done = delivery_env.settled(delivery.pk)
    assert done.status == "succeeded" and done.attempt_count == 2
