"""Billing work run by Celery (beat schedules it in settings.CELERY_BEAT_SCHEDULE)."""

from datetime import date

from celery import shared_task

from . import billing
from .models import Organization


@shared_task(name="accounts.rollup_previous_month", ignore_result=True)
def rollup_previous_month() -> int:
    """Roll up the month before the current UTC month for every organization; one task each."""
    period = billing.previous_month(billing.month_start())
    org_ids = list(Organization.objects.order_by("pk").values_list("pk", flat=True))
    for org_id in org_ids:
        rollup_organization_month.delay(org_id, period.isoformat())
    return len(org_ids)


@shared_task(name="accounts.rollup_organization_month", ignore_result=True)
def rollup_organization_month(org_id: str, period: str) -> None:
    org = Organization.objects.filter(pk=org_id).first()
    if org is not None:
        billing.rollup_month(org, date.fromisoformat(period))
