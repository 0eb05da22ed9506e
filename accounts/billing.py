"""Metering and pricing of answered calls (meter ``amd.calls``).

A call is billable when its stream carried at least a second of inbound audio,
its outcome is billable, it was made with a live key and the organization's
AMD is not bundled (:func:`is_billable`, applied when a call is finalized).
The first ``BILLING_FREE_CALLS_PER_MONTH`` billable calls of a calendar month
(UTC) are free; each further one costs ``BILLING_PRICE_PER_CALL_USD``.

Credit: ``Organization.credit_balance`` is prepaid credit. Closing a month
(:func:`rollup_month`) deducts that month's charges from it, and records the
amount deducted on the rollup (``credit_applied_usd``), so a re-run deducts
only the difference and never twice. Until a month is deducted its charges are
*unsettled*; the credit available for new calls is the balance less the
unsettled charges of the current and the previous month.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

CENT = Decimal("0.01")
MILLS = Decimal("0.001")
BILLABLE_MIN_AUDIO_MS = 1000  # a stream with less inbound audio than this is never billed
UNBILLED_OUTCOMES = frozenset({"sit_invalid"})  # dead or disconnected numbers


def free_calls_per_month() -> int:
    return settings.BILLING_FREE_CALLS_PER_MONTH


def price_per_call() -> Decimal:
    return Decimal(settings.BILLING_PRICE_PER_CALL_USD)


def is_billable(answered_by: str, audio_ms: int, livemode: bool, bundled: bool) -> bool:
    """The billing rule for one finalized call."""
    return (
        bool(answered_by)
        and answered_by not in UNBILLED_OUTCOMES
        and audio_ms >= BILLABLE_MIN_AUDIO_MS
        and livemode
        and not bundled
    )


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


def parse_period(text: str) -> date:
    """``"2026-11"`` → ``date(2026, 11, 1)``; ValueError otherwise."""
    parsed = datetime.strptime(text, "%Y-%m")
    return date(parsed.year, parsed.month, 1)


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
    period = month_start(period) if period else month_start()
    return price(billable_calls(organization, period), period)


def unsettled_charges(organization, month_to_date: Usage | None = None) -> Decimal:
    """Charges of the current and the previous month not yet deducted from the credit balance."""
    MonthlyRollup = apps.get_model("accounts", "MonthlyRollup")
    month_to_date = month_to_date or usage(organization)
    last_month = usage(organization, previous_month(month_to_date.period))
    applied = dict(
        MonthlyRollup.objects.filter(
            organization=organization, period__in=[month_to_date.period, last_month.period]
        ).values_list("period", "credit_applied_usd")
    )
    return sum(
        (max(Decimal("0"), month.amount_usd - applied.get(month.period, Decimal("0")))
         for month in (month_to_date, last_month)),
        Decimal("0"),
    )


def available_credit(organization, month_to_date: Usage | None = None) -> Decimal:
    """Prepaid credit less the charges not yet deducted from it."""
    return organization.credit_balance - unsettled_charges(organization, month_to_date)


def gate_open(organization, month_to_date: Usage | None = None) -> bool:
    """May a live key of this organization start another call?

    Open for bundled organizations, within the monthly free tier, and past it
    while the available credit covers at least one more call.
    """
    if organization.amd_bundled:
        return True
    month_to_date = month_to_date or usage(organization)
    if month_to_date.billable_calls < free_calls_per_month():
        return True
    return available_credit(organization, month_to_date) >= price_per_call()


def check_credit(key) -> None:
    """Raise the 402 ``credit_exhausted`` refusal if ``key`` may not start a call; test keys always may."""
    from .errors import ApiError

    if not key.livemode or gate_open(key.organization):
        return
    raise ApiError(
        402, "credit_exhausted",
        f"This organization has used its {free_calls_per_month()} free calls this month and its prepaid "
        "credit cannot cover another call. Add credit to continue.",
    )


def credit_summary(organization) -> dict:
    month_to_date = usage(organization)
    return {
        "balance_usd": str(available_credit(organization, month_to_date).quantize(CENT, rounding=ROUND_HALF_UP)),
        "gate": "open" if gate_open(organization, month_to_date) else "closed",
    }


def rollup_month(organization, period: date):
    """Compute and store one organization's usage for one month; return the MonthlyRollup.

    Replaces the month's row, never adds a second one; deducts from the credit
    balance only what this month has not had deducted yet (negative if the
    month's amount went down, which returns credit).
    """
    Organization = apps.get_model("accounts", "Organization")
    MonthlyRollup = apps.get_model("accounts", "MonthlyRollup")
    period = month_start(period)
    with transaction.atomic():
        # The organization row is the lock that serializes concurrent rollups of its months.
        Organization.objects.select_for_update().filter(pk=organization.pk).first()
        month = usage(organization, period)
        rollup, _created = MonthlyRollup.objects.get_or_create(organization_id=organization.pk, period=period)
        delta = month.amount_usd - rollup.credit_applied_usd
        rollup.billable_calls = month.billable_calls
        rollup.free_calls = month.free_calls
        rollup.charged_calls = month.charged_calls
        rollup.amount_usd = month.amount_usd
        rollup.credit_applied_usd = month.amount_usd
        rollup.computed_at = timezone.now()
        rollup.save()
        if delta:
            Organization.objects.filter(pk=organization.pk).update(credit_balance=F("credit_balance") - delta)
    organization.refresh_from_db(fields=["credit_balance"])
    return rollup
