"""Overview numbers and charts, the get-started TwiML, and the usage page."""

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from accounts import billing
from accounts.models import MonthlyRollup

from .conftest import make_call

pytestmark = pytest.mark.django_db


def _stat(html: str, name: str) -> str:
    return re.search(rf'data-stat="{name}">.*?<div class="value">([^<]+)</div>', html, re.S).group(1)


def _month_calls(org):
    now = datetime.now(UTC)
    start, _ = billing.month_bounds(billing.month_start(now))
    last_month = start - timedelta(days=3)
    for answered_by, ms in [("human", 600), ("human", 900), ("voicemail", 2600)]:
        make_call(org, answered_by=answered_by, decision_ms=ms, billable=True, created=start + timedelta(hours=1))
    make_call(org, answered_by="fax", decision_ms=1200, livemode=False, created=start + timedelta(hours=2))
    make_call(org, answered_by="ivr", decision_ms=100, billable=True, created=last_month)


def test_the_overview_counts_this_months_calls(console, tenant, outsider, settings):
    settings.BILLING_FREE_CALLS_PER_MONTH = 2
    _month_calls(tenant.org)
    _month_calls(outsider.org)
    html = console.get("/").content.decode()
    assert _stat(html, "answered") == "3" and "of 2 free" in html
    assert _stat(html, "charged") == "1"
    assert _stat(html, "amount") == "$0.004"

    breakdown = html.split('id="decision-breakdown"', 1)[1].split("</section>", 1)[0]
    assert breakdown.count("data-answered-by=") == 3  # human, voicemail, fax (test); last month's ivr is not
    assert breakdown.index('data-answered-by="human"') < breakdown.index('data-answered-by="voicemail"')
    assert 'title="50.0%">2</span>' in breakdown
    assert "4 decisions, mean 1325 ms" in html
    assert html.count('<rect class="bar"') == 9
    assert '<title>2 decided in 0.5–0.75 s</title>' not in html  # 600 and 900 ms fall in different buckets
    assert '<title>1 decided in 0.5–0.75 s</title>' in html and '<title>1 decided in 0.75–1 s</title>' in html


def test_the_overview_charts_follow_the_mode(console, tenant):
    _month_calls(tenant.org)
    live = console.get("/", {"mode": "live"}).content.decode()
    test = console.get("/", {"mode": "test"}).content.decode()
    assert 'data-answered-by="fax"' not in live and 'data-answered-by="human"' in live
    assert 'data-answered-by="fax"' in test and 'data-answered-by="human"' not in test


def test_the_twiml_points_at_this_host(console, settings):
    settings.ALLOWED_HOSTS = ["amd.example.com"]
    html = console.get("/", HTTP_HOST="amd.example.com").content.decode()
    assert "&lt;Stream url=&quot;ws://amd.example.com/v1/amd/stream&quot;&gt;" in html
    assert "&lt;Parameter name=&quot;api_key&quot; value=&quot;YOUR_API_KEY&quot;/&gt;" in html
    secure = console.get("/", HTTP_HOST="amd.example.com", secure=True).content.decode()
    assert "&lt;Stream url=&quot;wss://amd.example.com/v1/amd/stream&quot;&gt;" in secure


def test_an_empty_month_says_so(console):
    html = console.get("/").content.decode()
    assert "No decisions yet this month" in html and "No decision times yet" in html


def test_usage_lists_this_organizations_rollups_and_the_current_month(console, tenant, outsider):
    MonthlyRollup.objects.create(organization=tenant.org, period=date(2025, 12, 1), billable_calls=6200,
                                 free_calls=5000, charged_calls=1200, amount_usd=Decimal("4.800"))
    MonthlyRollup.objects.create(organization=outsider.org, period=date(2025, 11, 1), billable_calls=7777,
                                 free_calls=5000, charged_calls=2777, amount_usd=Decimal("11.108"))
    make_call(tenant.org, billable=True)
    html = console.get("/usage/").content.decode()
    assert 'data-period="2025-12"' in html and "6200" in html and "$4.800" in html
    assert "7777" not in html and 'data-period="2025-11"' not in html
    current = html.split(f'data-period="{billing.month_start():%Y-%m}"', 1)[1].split("</tr>", 1)[0]
    assert '<td class="num">1</td>' in current and "month to date" in current
