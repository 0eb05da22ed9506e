"""python manage.py rollup_usage [--month YYYY-MM] [--org SLUG]."""

from datetime import UTC, date, datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts import billing
from accounts.models import MonthlyRollup
from tests.conftest import make_tenant

from .support import add_calls


def run(*args) -> str:
    out = StringIO()
    call_command("rollup_usage", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_it_rolls_up_a_given_month_for_one_organization():
    acme = make_tenant("acme", with_teammate=False, env="live").org
    other = make_tenant("other", with_teammate=False).org
    add_calls(acme, 5002, datetime(2026, 9, 10, tzinfo=UTC))
    add_calls(other, 3, datetime(2026, 9, 10, tzinfo=UTC))
    out = run("--month", "2026-09", "--org", "acme")
    assert "acme 2026-09: 5002 billable, 5000 free, 2 charged, $0.008" in out
    rollup = MonthlyRollup.objects.get()
    assert (rollup.organization, rollup.period, rollup.amount_usd) == (acme, date(2026, 9, 1), Decimal("0.008"))


@pytest.mark.django_db
def test_it_defaults_to_the_previous_month_for_every_organization_and_reruns_cleanly():
    acme = make_tenant("acme", with_teammate=False).org
    other = make_tenant("other", with_teammate=False).org
    last_month = billing.previous_month(billing.month_start())
    start, _end = billing.month_bounds(last_month)
    add_calls(acme, 2, start)
    run()
    run()
    rows = MonthlyRollup.objects.order_by("organization__slug")
    assert [(r.organization, r.period, r.billable_calls) for r in rows] == [
        (acme, last_month, 2), (other, last_month, 0)]


@pytest.mark.django_db
@pytest.mark.parametrize("args,message", [
    (["--month", "2026-13"], "YYYY-MM"),
    (["--month", "November"], "YYYY-MM"),
    (["--org", "nobody"], "nobody"),
])
def test_it_refuses_bad_arguments(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert not MonthlyRollup.objects.exists()
