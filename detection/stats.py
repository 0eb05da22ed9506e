"""Aggregates of a month's decisions for the console's overview charts."""

from django.db.models import Avg, Count, Q

from accounts import billing

from . import timeline
from .models import Call


def month_decision_stats(org, period, mode: str = "") -> dict:
    """Decisions of the month containing ``period``: per class, and a histogram of decision times.

    ``mode`` is ``"live"``, ``"test"`` or empty for both.
    """
    start, end = billing.month_bounds(period)
    calls = Call.objects.filter(organization=org, created__gte=start, created__lt=end).exclude(answered_by="")
    if mode in ("live", "test"):
        calls = calls.filter(livemode=(mode == "live"))
    counts = dict(calls.order_by().values_list("answered_by").annotate(n=Count("id")))
    buckets = {}
    for i, (low, high) in enumerate(timeline.bucket_bounds()):
        condition = Q(decision_ms__gte=low) if high is None else Q(decision_ms__gte=low, decision_ms__lt=high)
        buckets[f"b{i}"] = Count("id", filter=condition)
    timed = calls.exclude(decision_ms=None).aggregate(mean=Avg("decision_ms"), n=Count("id"), **buckets)
    return {
        "total": sum(counts.values()),
        "breakdown": timeline.breakdown(counts),
        "histogram": timeline.histogram([timed[f"b{i}"] for i in range(len(buckets))]),
        "timed": timed["n"],
        "mean_ms": round(timed["mean"]) if timed["mean"] is not None else None,
    }
