"""The calls table (filters, pagination) and the call page (decision, timeline, deliveries, replay)."""

from datetime import UTC, datetime, timedelta

import pytest

from detection.console import CALLS_PER_PAGE

from .conftest import make_call, make_delivery

pytestmark = pytest.mark.django_db


def _rows(html: str) -> int:
    return html.count("<tr data-call-id=")


def test_filters_narrow_the_table(console, tenant):
    day = datetime(2026, 3, 10, 12, tzinfo=UTC)
    make_call(tenant.org, answered_by="voicemail", answered_by_twilio="machine_start", created=day,
              call_sid="CA" + "a" * 32)
    make_call(tenant.org, answered_by="human", created=day + timedelta(days=1), call_sid="CA" + "b" * 32)
    test_call = make_call(tenant.org, answered_by="human", livemode=False, created=day + timedelta(days=2))

    assert _rows(console.get("/calls/").content.decode()) == 3
    assert _rows(console.get("/calls/", {"answered_by": "voicemail"}).content.decode()) == 1
    assert _rows(console.get("/calls/", {"mode": "test"}).content.decode()) == 1
    assert _rows(console.get("/calls/", {"mode": "live", "answered_by": "human"}).content.decode()) == 1
    assert _rows(console.get("/calls/", {"call_sid": "CA" + "b" * 32}).content.decode()) == 1
    assert _rows(console.get("/calls/", {"call_sid": test_call.pk}).content.decode()) == 1
    dates = {"created_after": "2026-03-11", "created_before": "2026-03-11"}
    html = console.get("/calls/", dates).content.decode()
    assert _rows(html) == 1 and "CA" + "b" * 32 in html
    assert _rows(console.get("/calls/", {"created_after": "2026-03-12"}).content.decode()) == 1


def test_the_table_is_paginated_newest_first_keeping_the_filters(console, tenant):
    now = datetime.now(UTC)
    calls = [make_call(tenant.org, answered_by="ivr", created=now - timedelta(minutes=i)) for i in range(30)]
    first = console.get("/calls/", {"answered_by": "ivr"}).content.decode()
    assert _rows(first) == CALLS_PER_PAGE
    assert first.index(calls[0].pk) < first.index(calls[1].pk)
    assert "?answered_by=ivr&amp;page=2" in first
    second = console.get("/calls/", {"answered_by": "ivr", "page": 2}).content.decode()
    assert _rows(second) == 30 - CALLS_PER_PAGE and calls[-1].pk in second


def test_the_call_page_shows_the_decision_and_its_timeline(console, tenant):
    call = make_call(tenant.org, answered_by="voicemail", answered_by_twilio="machine_start", confidence=0.96,
                     decision_ms=1200, reason="machine phrase: 'please leave a message' at 1.2s",
                     evidence=[{"type": "speech", "start_ms": 200, "end_ms": 1100},
                               {"type": "phrase", "start_ms": 300, "end_ms": 1000, "text": "please leave a message"},
                               {"type": "beep", "start_ms": 2000, "end_ms": 2400, "freq_hz": 1000}],
                     message_end={"answered_by_twilio": "machine_end_beep", "message_end_ms": 2400, "beep_ms": 2000})
    html = console.get(f"/calls/{call.pk}/").content.decode()
    assert "machine phrase: &#x27;please leave a message&#x27; at 1.2s" in html
    assert "Twilio: machine_start" in html and "0.96" in html and "1200 ms" in html
    timeline = html.split('id="call-timeline"', 1)[1].split("</figure>", 1)[0]
    assert timeline.count('class="ev ev-speech"') == 1
    assert timeline.count('class="ev ev-phrase"') == 1
    assert timeline.count('class="ev ev-beep"') == 1
    assert 'data-marker="decision" x1="40.000%"' in timeline  # 1200 ms of a 3000 ms span
    assert 'data-marker="message-end" x1="80.000%"' in timeline
    assert "“please leave a message”" in timeline


def test_the_call_page_lists_attempts_and_replays_a_delivery(console, tenant, replays):
    call = make_call(tenant.org)
    delivery = make_delivery(call, attempts=[{"status_code": 500, "duration_ms": 40, "response_body": "boom"},
                                             {"status_code": None, "duration_ms": 3000, "error": "timed out"}])
    html = console.get(f"/calls/{call.pk}/").content.decode()
    block = html.split(f'data-delivery-id="{delivery.pk}"', 1)[1]
    assert "boom" in block and "timed out" in block and ">500<" in block
    assert f'action="/calls/{call.pk}/deliveries/{delivery.pk}/replay/"' in block

    assert console.get(f"/calls/{call.pk}/deliveries/{delivery.pk}/replay/").status_code == 405
    response = console.post(f"/calls/{call.pk}/deliveries/{delivery.pk}/replay/")
    assert response.status_code == 302 and response["Location"] == f"/calls/{call.pk}/#webhooks"
    assert replays == [delivery.pk]


def test_an_unknown_call_is_404(console):
    assert console.get("/calls/C_doesnotexist/").status_code == 404
