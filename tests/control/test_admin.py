"""Django admin: replaying deliveries, rollups, secret rotation."""

from datetime import UTC, date, datetime
from decimal import Decimal
from unittest import mock

import pytest
from django.contrib.admin.utils import quote

from accounts.models import MonthlyRollup, Organization
from detection import webhooks
from detection.models import WebhookAttempt, WebhookDelivery

from .support import add_calls, make_call


@pytest.mark.django_db
def test_the_replay_action_starts_a_new_attempt_cycle(staff_client, tenant, django_capture_on_commit_callbacks):
    call = make_call(tenant.org, webhook_url="https://hooks.example.com/amd")
    delivery = WebhookDelivery.objects.create(organization=tenant.org, call=call, event_type="amd",
                                              url=call.webhook_url, body="{}", status="failed", attempt_count=8)
    with mock.patch.object(webhooks, "dispatch") as dispatch, django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post("/admin/detection/webhookdelivery/", {
            "action": "replay_deliveries", "_selected_action": [delivery.pk],
        }, follow=True)
    assert response.status_code == 200 and "Replaying 1 delivery" in response.content.decode()
    dispatch.assert_called_once_with(delivery.pk, 8)
    delivery.refresh_from_db()
    assert delivery.status == "pending" and delivery.attempts_before_replay == 8


@pytest.mark.django_db
def test_a_delivery_page_shows_its_attempt_log(staff_client, tenant):
    call = make_call(tenant.org)
    delivery = WebhookDelivery.objects.create(organization=tenant.org, call=call, event_type="amd",
                                              url="https://hooks.example.com/amd", body="{}")
    WebhookAttempt.objects.create(delivery=delivery, status_code=503, duration_ms=41, response_body="busy")
    page = staff_client.get(f"/admin/detection/webhookdelivery/{quote(delivery.pk)}/change/").content.decode()
    assert "503" in page and "busy" in page


@pytest.mark.django_db
def test_rollups_are_listed_and_can_be_recomputed(staff_client, tenant):
    add_calls(tenant.org, 5004, datetime(2026, 10, 5, tzinfo=UTC))
    rollup = MonthlyRollup.objects.create(organization=tenant.org, period=date(2026, 10, 1), billable_calls=1)
    listing = staff_client.get("/admin/accounts/monthlyrollup/").content.decode()
    assert "Acme" in listing
    response = staff_client.post("/admin/accounts/monthlyrollup/", {
        "action": "recompute", "_selected_action": [rollup.pk],
    }, follow=True)
    assert "Recomputed 1 rollup" in response.content.decode()
    rollup.refresh_from_db()
    assert (rollup.billable_calls, rollup.charged_calls, rollup.amount_usd) == (5004, 4, Decimal("0.016"))
    assert MonthlyRollup.objects.count() == 1
    assert "5004" in staff_client.get("/admin/accounts/monthlyrollup/").content.decode()


@pytest.mark.django_db
def test_the_rotate_action_replaces_the_signing_secret(staff_client, tenant):
    old = tenant.org.webhook_signing_secret
    staff_client.post("/admin/accounts/organization/", {
        "action": "rotate_signing_secret", "_selected_action": [tenant.org.pk],
    }, follow=True)
    assert Organization.objects.get(pk=tenant.org.pk).webhook_signing_secret != old


@pytest.mark.django_db
def test_a_call_page_lists_its_deliveries(staff_client, tenant):
    call = make_call(tenant.org, id="C_3Fquoted_5Fin_admin_urls")  # "_3F" is an escape in admin URLs
    delivery = WebhookDelivery.objects.create(organization=tenant.org, call=call, event_type="amd.message_end",
                                              url="https://hooks.example.com/amd", body="{}", last_status_code=502)
    page = staff_client.get(f"/admin/detection/call/{quote(call.pk)}/change/").content.decode()
    assert delivery.pk in page and "amd.message_end" in page and "502" in page
