"""Rows the browser tests need that no page creates: run as ``python -m tests.console.seed SPEC_JSON``
against the live server's database. Prints the created ids as JSON.

SPEC: {"username": "...", "calls": [{<Call fields>, "ago_minutes": n,
        "deliveries": [{"url": "...", "event_type": "amd", "status": "failed",
                        "attempts": [{"status_code": 500, "error": "", "duration_ms": 12}]}]}],
       "rollups": [{"period": "2026-01-01", "billable_calls": 6000, ...}]}
"""

import json
import sys
from datetime import timedelta


def seed(spec: dict) -> dict:
    from django.utils import timezone

    from accounts.models import Membership, MonthlyRollup
    from detection.models import Call, WebhookAttempt, WebhookDelivery

    org = Membership.objects.select_related("organization").get(user__username=spec["username"]).organization
    created = {"organization": org.pk, "calls": [], "deliveries": []}
    for fields in spec.get("calls", []):
        fields = dict(fields)
        deliveries = fields.pop("deliveries", [])
        when = timezone.now() - timedelta(minutes=fields.pop("ago_minutes", 0))
        call = Call.objects.create(organization=org, created=when, started_at=when, **fields)
        created["calls"].append(call.pk)
        for spec_delivery in deliveries:
            spec_delivery = dict(spec_delivery)
            attempts = spec_delivery.pop("attempts", [])
            event = {"event": spec_delivery.get("event_type", "amd"), "call_id": call.pk,
                     "answered_by": call.answered_by}
            delivery = WebhookDelivery.objects.create(
                organization=org, call=call, body=json.dumps(event), attempt_count=len(attempts), **spec_delivery
            )
            for attempt in attempts:
                WebhookAttempt.objects.create(delivery=delivery, **attempt)
            created["deliveries"].append(delivery.pk)
    for rollup in spec.get("rollups", []):
        MonthlyRollup.objects.update_or_create(organization=org, period=rollup["period"], defaults=rollup)
    return created


if __name__ == "__main__":
    import django

    django.setup()
    print(json.dumps(seed(json.loads(sys.argv[1]))))
