"""Metering and pricing of answered calls (meter ``amd.calls``)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.apps import apps
from django.conf import settings
from django.utils import timezone

CENT = Decimal("0.01")
MILLS = Decimal("0.001")


def free_calls_per_month() -> int:
    return settings.BILLING_FREE_CALLS_PER_MONTH


def price_per_call() -> Decimal:
    return Decimal(settings.BILLING_PRICE_PER_CALL_USD)


def month_start(moment: datetime | date | None = None) -> date:
    moment = moment or timezone.now()
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC)
    return date(moment.year, moment.month, 1)


def month_bounds(period: date) -> tuple[datetime, datetime]:
    """[start, end) of the calendar month containing ``period``, in UTC."""
    start = datetime(period.year, period.month, 1, tzinfo=UTC)
    end = datetime(period.year + (period.month == 12), period.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def previous_month(period: date) -> date:
    return date(period.year - (period.month == 1), (period.month - 2) % 12 + 1, 1)


@dataclass(frozen=True)
class Usage:
    period: date
    billable_calls: int
    free_calls: int
    charged_calls: int
    amount_usd: Decimal

    @property
    def free_remaining(self) -> int:
        return max(0, free_calls_per_month() - self.billable_calls)

    def as_dict(self) -> dict:
        return {
            "period": f"{self.period:%Y-%m}",
            "billable_calls": self.billable_calls,
            "free_remaining": self.free_remaining,
            "charged_calls": self.charged_calls,
            "amount_usd": str(self.amount_usd),
        }


def price(billable_calls: int, period: date) -> Usage:
    free = min(billable_calls, free_calls_per_month())
    charged = billable_calls - free
    amount = (price_per_call() * charged).quantize(MILLS, rounding=ROUND_HALF_UP)
    return Usage(period, billable_calls, free, charged, amount)


def billable_calls(organization, period: date) -> int:
    Call = apps.get_model("detection", "Call")
    start, end = month_bounds(period)
    return Call.objects.filter(
        organization=organization, billable=True, created__gte=start, created__lt=end
    ).count()


def usage(organization, period: date | None = None) -> Usage:
    """Live usage for a month (default: the current UTC month)."""
    period = period or month_start()
    return price(billable_calls(organization, period), period)


def available_credit(organization, month_to_date: Usage | None = None) -> Decimal:
    """Prepaid credit less what this month has charged so far."""
    month_to_date = month_to_date or usage(organization)
    return organization.credit_balance - month_to_date.amount_usd


def gate_open(organization, month_to_date: Usage | None = None) -> bool:
    """May a live key of this organization start another call?"""
    if organization.amd_bundled:
        return True
    month_to_date = month_to_date or usage(organization)
    if month_to_date.billable_calls < free_calls_per_month():
        return True
    return available_credit(organization, month_to_date) >= price_per_call()


def credit_summary(organization) -> dict:
    month_to_date = usage(organization)
    return {
        "balance_usd": str(available_credit(organization, month_to_date).quantize(CENT, rounding=ROUND_HALF_UP)),
        "gate": "open" if gate_open(organization, month_to_date) else "closed",
    }
