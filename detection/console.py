"""Web console pages for calls, AMD settings and trying the detector on a recording."""

import json
import logging
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.forms import AmdSettingsForm, CallFilterForm, TryItForm, WebhookTestForm
from accounts.views import console_view, page

from . import timeline, tryit, webhooks
from .models import Call, WebhookDelivery

logger = logging.getLogger(__name__)

CALLS_PER_PAGE = 25
EVAL_DIR = Path(settings.BASE_DIR) / "detection" / "eval"  # written by amd_eval
OPERATING_POINTS_PATH = EVAL_DIR / "figures.json"  # timing and tones only
OPERATING_POINTS_WITH_WORDS_PATH = EVAL_DIR / "recognizer" / "figures.json"  # with the speech recognizer stage


# -- AMD settings ------------------------------------------------------------------------------------

def load_operating_chart():
    """The detector evaluation's operating-point curves, if the evaluation has been run: those measured
    with the speech recognizer when this server runs it, else those of timing and tones alone."""
    path = OPERATING_POINTS_WITH_WORDS_PATH if settings.AMD_RECOGNIZER else OPERATING_POINTS_PATH
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        logger.warning("Cannot read %s: %s", path, exc)
        return None
    try:
        source = str(path.relative_to(settings.BASE_DIR))
    except ValueError:
        source = str(path)
    return timeline.operating_chart(data, source=source)


def _settings_page(request, form=None, test_form=None, status=200, **extra):
    org = request.organization
    form = form or AmdSettingsForm(initial={
        "aggressiveness": org.aggressiveness, "webhook_url": org.webhook_url,
        "detect_message_end": org.detect_message_end,
    })
    dial_value = form["aggressiveness"].value() if form.is_bound else org.aggressiveness
    context = {
        "form": form,
        "test_form": test_form or WebhookTestForm(organization=org),
        "chart": load_operating_chart(),
        "dial_value": dial_value,
        "dial_percent": f"{_dial_number(dial_value) * 100:.1f}",
        "dial_band": dial_band(dial_value),
        "human_safe_max": timeline.HUMAN_SAFE_MAX,
        "machine_min": timeline.MACHINE_AGGRESSIVE_MIN,
        **extra,
    }
    return page(request, "console/settings.html", "settings", context, status=status)


def _dial_number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return 0.0
    return min(1.0, max(0.0, number)) if number == number else 0.0


def dial_band(value) -> str:
    number = _dial_number(value)
    if number <= timeline.HUMAN_SAFE_MAX:
        return "human-safe"
    if number >= timeline.MACHINE_AGGRESSIVE_MIN:
        return "machine-aggressive"
    return "balanced"


@console_view
def amd_settings(request):
    if request.method == "POST":
        form = AmdSettingsForm(request.POST)
        if form.is_valid():
            form.save(request.organization)
            messages.success(request, "Settings saved. New calls use them; GET /v1/amd/config returns them.")
            return redirect("settings")
        return _settings_page(request, form=form, status=400)
    return _settings_page(request)


@console_view
@require_POST
def signing_secret(request):
    org = request.organization
    if request.POST.get("action") == "rotate":
        org.rotate_signing_secret()
        messages.success(request, "The signing secret was rotated. Webhooks are signed with the new secret "
                                  "from now on: update your receivers.")
        return redirect(reverse("settings") + "#signing-secret")
    return _settings_page(request, revealed_secret=org.webhook_signing_secret)


@console_view
@require_POST
def test_webhook(request):
    org = request.organization
    test_form = WebhookTestForm(request.POST, organization=org)
    if not test_form.is_valid():
        return _settings_page(request, test_form=test_form, status=400)
    answer = webhooks.send_test_webhook(org, test_form.cleaned_data["url"] or None)
    return _settings_page(request, test_form=test_form, test_answer=answer)


# -- calls ------------------------------------------------------------------------------------------

def _day_start(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


@console_view
def calls(request):
    org = request.organization
    form = CallFilterForm(request.GET or None)
    listing = Call.objects.filter(organization=org)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        if data["answered_by"]:
            listing = listing.filter(answered_by=data["answered_by"])
        if data["mode"]:
            listing = listing.filter(livemode=(data["mode"] == "live"))
        if data["created_after"]:
            listing = listing.filter(created__gte=_day_start(data["created_after"]))
        if data["created_before"]:
            listing = listing.filter(created__lt=_day_start(data["created_before"] + timedelta(days=1)))
        if data["call_sid"]:
            sid = data["call_sid"].strip()
            listing = listing.filter(Q(call_sid=sid) | Q(id=sid))
    elif form.is_bound:
        listing = listing.none()
    paginator = Paginator(listing.order_by("-created", "-id"), CALLS_PER_PAGE)
    current = paginator.get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page_obj": current,
        "calls": current.object_list,
        "query": query.urlencode(),
        "filtered": any(value for key, value in request.GET.items() if key != "page"),
        "org_has_calls": Call.objects.filter(organization=org).exists(),
    }
    return page(request, "console/calls.html", "calls", context)


@console_view
def call_detail(request, call_id):
    call = get_object_or_404(Call, pk=call_id, organization=request.organization)
    deliveries = (WebhookDelivery.objects.filter(call=call, organization=request.organization)
                  .prefetch_related("attempts").order_by("created"))
    context = {
        "call": call,
        "timeline": timeline.build_timeline(call.evidence, call.decision_ms, call.answered_by, call.message_end,
                                            call.audio_ms or None),
        "deliveries": deliveries,
        "evidence_json": json.dumps(call.evidence, indent=2),
    }
    return page(request, "console/call_detail.html", "calls", context)


@console_view
@require_POST
def delivery_replay(request, call_id, delivery_id):
    delivery = get_object_or_404(WebhookDelivery, pk=delivery_id, call_id=call_id,
                                 organization=request.organization)
    webhooks.replay(delivery)
    messages.success(request, f"Sending the {delivery.event_type} event to {delivery.url} again.")
    return redirect(reverse("call-detail", kwargs={"call_id": call_id}) + "#webhooks")


# -- try it ------------------------------------------------------------------------------------------

UPLOAD_OVERHEAD_BYTES = 64 * 1024  # room for the multipart framing and the other fields


def _try_form(org, data=None, files=None) -> TryItForm:
    return TryItForm(data, files, max_bytes=tryit.MAX_UPLOAD_BYTES,
                     initial={"aggressiveness": org.aggressiveness, "detect_message_end": org.detect_message_end})


def _declared_size(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


@console_view
def try_it(request):
    org = request.organization
    result = None
    status = 200
    if request.method == "POST" and _declared_size(request) > tryit.MAX_UPLOAD_BYTES + UPLOAD_OVERHEAD_BYTES:
        # Refused before the body is parsed, so an oversized upload is never spooled to disk.
        form = _try_form(org, {"aggressiveness": org.aggressiveness,
                               "detect_message_end": org.detect_message_end or ""}, {})
        form.full_clean()
        form.errors["recording"] = form.error_class(
            [f"The file is larger than {tryit.MAX_UPLOAD_BYTES // 1048576} MB."]
        )
        status = 400
    elif request.method == "POST":
        form = _try_form(org, request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["recording"]
            try:
                result = tryit.run_file(upload.read(), form.cleaned_data["aggressiveness"],
                                        form.cleaned_data["detect_message_end"], filename=upload.name)
            except tryit.AudioFileError as exc:
                form.add_error("recording", str(exc))
            else:
                decision = result["decision"]
                result["filename"] = upload.name
                result["timeline"] = timeline.build_timeline(
                    decision["evidence"], decision["decision_ms"], decision["answered_by"],
                    result["message_end"], result["audio_ms"],
                )
        if form.errors:
            status = 400
    else:
        form = _try_form(org)
    context = {"form": form, "result": result, "max_seconds": tryit.MAX_AUDIO_MS // 1000,
               "max_mb": tryit.MAX_UPLOAD_BYTES // 1048576}
    return page(request, "console/try.html", "try", context, status=status)
