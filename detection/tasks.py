"""Webhook work run by Celery."""

from celery import shared_task

from . import webhooks


@shared_task(name="detection.deliver_webhook", ignore_result=True)
def deliver_webhook(delivery_id: str, claim: int) -> None:
    """One delivery attempt; see detection.webhooks.attempt."""
    webhooks.attempt(delivery_id, claim)


@shared_task(name="detection.retry_stalled_deliveries", ignore_result=True)
def retry_stalled_deliveries() -> int:
    return webhooks.retry_stalled()
