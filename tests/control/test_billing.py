"""The amd.calls meter: billable rule, free tier and price, monthly rollups, credit and the 402 gate."""

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from unittest import mock

import pytest
from celery.schedules import crontab
from django.conf import settings as django_settings

from accounts import billing, tasks
from accounts.errors import ApiError
from accounts.models import MonthlyRollup, Organization
from tests.conftest import make_tenant

from .support import add_calls

NOV = date(2026, 11, 1)
OCT = date(2026, 10, 1)


@pytest.fixture
def org(db):
    return make_tenant("billco", with_teammate=False, env="live").org


@pytest.fixture
def now_is(monkeypatch):
    """Pin django.utils.timezone.now (billing's idea of the current month, and record timestamps)."""
    def pin(moment: datetime):
        monkeypatch.setattr(billing.timezone, "now", lambda: moment)
    return pin


@pytest.mark.parametrize("answered_by,audio_ms,livemode,bundled,expected", [
    ("human", 1000, True, False, True),
    ("voicemail", 25000, True, False, True),
    ("silence", 8000, True, False, True),
    ("unknown", 8000, True, False, True),
    ("fax", 2000, True, False, True),
    ("sit_invalid", 3000, True, False, False),
    ("human", 999, True, False, False),
    ("human", 0, True, False, False),
    ("human", 5000, False, False, False),
    ("human", 5000, True, True, False),
    ("", 5000, True, False, False),
])
def test_the_billable_rule(answered_by, audio_ms, livemode, bundled, expected):
    assert billing.is_billable(answered_by, audio_ms, livemode, bundled) is expected


def test_pricing_is_decimal_with_5000_free_then_four_tenths_of_a_cent():
    assert billing.price(5000, NOV).amount_usd == Decimal("0.000")
    usage = billing.price(5001, NOV)
    assert (usage.free_calls, usage.charged_calls, usage.amount_usd) == (5000, 1, Decimal("0.004"))
    assert isinstance(usage.amount_usd, Decimal)
    assert billing.price(7500, NOV).amount_usd == Decimal("10.000")
    assert billing.price(1_005_000, NOV).amount_usd == Decimal("4000.000")


@pytest.mark.django_db
def test_5001_billable_calls_cost_four_tenths_of_a_cent(org, now_is):
    now_is(datetime(2026, 11, 20, tzinfo=UTC))
    add_calls(org, 5001, datetime(2026, 11, 3, tzinfo=UTC))
    add_calls(org, 40, datetime(2026, 11, 3, tzinfo=UTC), billable=False)  # test-key, bundled, short, SIT
    usage = billing.usage(org)
    assert usage.as_dict() == {"period": "2026-11", "billable_calls": 5001, "free_remaining": 0,
                               "charged_calls": 1, "amount_usd": "0.004"}


@pytest.mark.django_db
def test_months_are_calendar_months_in_utc(org):
    add_calls(org, 1, datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC))
    add_calls(org, 2, datetime(2026, 11, 1, 0, 0, 0, tzinfo=UTC))
    # 20:30 on 31 October at UTC-4 is already November in UTC.
    add_calls(org, 4, datetime(2026, 10, 31, 20, 30, tzinfo=timezone(timedelta(hours=-4))))
    assert billing.usage(org, OCT).billable_calls == 1
    assert billing.usage(org, NOV).billable_calls == 6
    assert billing.month_bounds(date(2026, 12, 1)) == (datetime(2026, 12, 1, tzinfo=UTC),
                                                       datetime(2027, 1, 1, tzinfo=UTC))
    assert billing.previous_month(date(2027, 1, 1)) == date(2026, 12, 1)


@pytest.mark.django_db
def test_a_rollup_stores_the_month_and_rerunning_replaces_it(org):
    add_calls(org, 5003, datetime(2026, 10, 15, tzinfo=UTC))
    first = billing.rollup_month(org, OCT)
    assert (first.billable_calls, first.free_calls, first.charged_calls, first.amount_usd) == (
        5003, 5000, 3, Decimal("0.012"))
    again = billing.rollup_month(org, date(2026, 10, 20))
    assert again.pk == first.pk and MonthlyRollup.objects.filter(organization=org).count() == 1
    assert (again.billable_calls, again.amount_usd) == (5003, Decimal("0.012"))


@pytest.mark.django_db
def test_a_rollup_deducts_the_month_from_credit_once(org):
    Organization.objects.filter(pk=org.pk).update(credit_balance=Decimal("10"))
    org.refresh_from_db()
    add_calls(org, 5250, datetime(2026, 10, 15, tzinfo=UTC))
    billing.rollup_month(org, OCT)
    assert org.credit_balance == Decimal("9.000")
    billing.rollup_month(org, OCT)
    billing.rollup_month(Organization.objects.get(pk=org.pk), OCT)
    assert Organization.objects.get(pk=org.pk).credit_balance == Decimal("9.000")
    # A call finalized late raises the month's amount: only the difference is deducted.
    add_calls(org, 1, datetime(2026, 10, 31, 23, 0, tzinfo=UTC))
    rollup = billing.rollup_month(org, OCT)
    assert rollup.amount_usd == rollup.credit_applied_usd == Decimal("1.004")
    assert Organization.objects.get(pk=org.pk).credit_balance == Decimal("8.996")


@pytest.mark.django_db
def test_available_credit_counts_unsettled_months_and_never_twice(org, now_is):
    now_is(datetime(2026, 11, 1, 0, 5, tzinfo=UTC))
    Organization.objects.filter(pk=org.pk).update(credit_balance=Decimal("10"))
    org.refresh_from_db()
    add_calls(org, 5500, datetime(2026, 10, 20, tzinfo=UTC))  # $2.00 in October
    add_calls(org, 10, datetime(2026, 11, 1, 0, 1, tzinfo=UTC))  # within November's free tier
    # Before October is rolled up its charges are still owed.
    assert billing.available_credit(org) == Decimal("8.000")
    billing.rollup_month(org, OCT)
    assert org.credit_balance == Decimal("8.000")
    assert billing.available_credit(org) == Decimal("8.000")
    assert billing.credit_summary(org) == {"balance_usd": "8.00", "gate": "open"}


@pytest.mark.django_db
def test_rolling_up_the_current_month_does_not_count_its_charges_twice(org, now_is):
    now_is(datetime(2026, 11, 20, tzinfo=UTC))
    Organization.objects.filter(pk=org.pk).update(credit_balance=Decimal("5"))
    org.refresh_from_db()
    add_calls(org, 5250, datetime(2026, 11, 10, tzinfo=UTC))  # $1.00 so far
    assert billing.available_credit(org) == Decimal("4.000")
    billing.rollup_month(org, NOV)
    assert org.credit_balance == Decimal("4.000") and billing.available_credit(org) == Decimal("4.000")
    add_calls(org, 250, datetime(2026, 11, 15, tzinfo=UTC))  # another $1.00
    assert billing.available_credit(org) == Decimal("3.000")


@pytest.mark.django_db
def test_the_gate_closes_past_the_free_tier_without_credit(org, now_is):
    now_is(datetime(2026, 11, 20, tzinfo=UTC))
    add_calls(org, 4999, datetime(2026, 11, 2, tzinfo=UTC))
    assert billing.gate_open(org)
    add_calls(org, 1, datetime(2026, 11, 2, tzinfo=UTC))
    assert not billing.gate_open(org)
    assert billing.credit_summary(org)["gate"] == "closed"


@pytest.mark.django_db
def test_the_gate_opens_with_enough_credit_for_one_more_call(org, now_is):
    now_is(datetime(2026, 11, 20, tzinfo=UTC))
    add_calls(org, 5010, datetime(2026, 11, 2, tzinfo=UTC))  # $0.040 charged so far
    Organization.objects.filter(pk=org.pk).update(credit_balance=Decimal("0.043"))
    org.refresh_from_db()
    assert not billing.gate_open(org)
    Organization.objects.filter(pk=org.pk).update(credit_balance=Decimal("0.044"))
    org.refresh_from_db()
    assert billing.gate_open(org)


@pytest.mark.django_db
def test_bundled_organizations_are_never_gated(org, now_is):
    now_is(datetime(2026, 11, 20, tzinfo=UTC))
    add_calls(org, 6000, datetime(2026, 11, 2, tzinfo=UTC))
    org.amd_bundled = True
    assert billing.gate_open(org)


@pytest.mark.django_db
def test_the_402_refusal_spares_test_keys(org, now_is):
    now_is(datetime(2026, 11, 20, tzinfo=UTC))
    add_calls(org, 5000, datetime(2026, 11, 2, tzinfo=UTC))
    live = org.api_keys.get()
    test_key, _token = type(live).create(org, "sandbox", "test", ["amd:*"])
    with pytest.raises(ApiError) as refused:
        billing.check_credit(live)
    assert refused.value.status_code == 402 and refused.value.code == "credit_exhausted"
    assert refused.value.close_code == 4402
    assert refused.value.envelope()["error"]["code"] == "credit_exhausted"
    billing.check_credit(test_key)  # no refusal


@pytest.mark.django_db
def test_me_shows_month_to_date_usage_and_credit(org, now_is, client):
    now_is(datetime(2026, 11, 20, tzinfo=UTC))
    add_calls(org, 5002, datetime(2026, 11, 2, tzinfo=UTC))
    add_calls(org, 3, datetime(2026, 10, 30, tzinfo=UTC))
    Organization.objects.filter(pk=org.pk).update(credit_balance=Decimal("50"))
    _key, token = org.api_keys.model.create(org, "me", "live", ["amd:read"])
    body = client.get("/v1/me", HTTP_AUTHORIZATION=f"Bearer {token}").json()
    assert body["usage"] == {"period": "2026-11", "billable_calls": 5002, "free_remaining": 0,
                             "charged_calls": 2, "amount_usd": "0.008"}
    assert body["credit"] == {"balance_usd": "49.99", "gate": "open"}


@pytest.mark.django_db
def test_the_beat_task_rolls_up_the_previous_month_for_every_organization(org, now_is):
    now_is(datetime(2026, 11, 1, 0, 10, tzinfo=UTC))
    other = make_tenant("otherco", with_teammate=False).org
    add_calls(org, 5001, datetime(2026, 10, 31, 23, 59, 59, tzinfo=UTC))
    add_calls(other, 7, datetime(2026, 10, 2, tzinfo=UTC))
    add_calls(org, 9, datetime(2026, 11, 1, tzinfo=UTC))
    with mock.patch.object(tasks.rollup_organization_month, "delay",
                           side_effect=lambda *args: tasks.rollup_organization_month(*args)):
        assert tasks.rollup_previous_month() == 2
        tasks.rollup_previous_month()
    rollups = {r.organization_id: r for r in MonthlyRollup.objects.all()}
    assert set(rollups) == {org.pk, other.pk}
    assert all(r.period == OCT for r in rollups.values())
    assert (rollups[org.pk].billable_calls, rollups[org.pk].amount_usd) == (5001, Decimal("0.004"))
    assert rollups[other.pk].billable_calls == 7


def test_the_beat_schedule_runs_the_rollup_on_the_first_shortly_after_midnight_utc():
    entry = django_settings.CELERY_BEAT_SCHEDULE["rollup-previous-month"]
    assert entry["task"] == tasks.rollup_previous_month.name
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    assert schedule.day_of_month == {1} and schedule.hour == {0} and min(schedule.minute) < 30
    assert django_settings.CELERY_TIMEZONE == "UTC"
    sweep = django_settings.CELERY_BEAT_SCHEDULE["retry-stalled-webhook-deliveries"]
    assert sweep["task"] == "detection.retry_stalled_deliveries"
