"""Web console: sign-up, overview, API keys and usage. Every page is scoped to the user's organization."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from detection.stats import month_decision_stats

from . import billing
from .forms import ApiKeyForm, SignUpForm
from .models import ApiKey, MonthlyRollup

NEW_KEY_SESSION_PREFIX = "new-key:"  # session entry holding a new key's token until it is shown once


def current_organization(request):
    membership = request.user.memberships.select_related("organization").order_by("created").first()
    return membership.organization if membership else None


def console_view(view):
    """Signed-in users with an organization only; the organization is ``request.organization``."""

    @wraps(view)
    @login_required
    def wrapper(request, *args, **kwargs):
        org = current_organization(request)
        if org is None:
            return render(request, "console/no_organization.html", status=403)
        request.organization = org
        return view(request, *args, **kwargs)

    return wrapper


def page(request, template: str, section: str, context: dict | None = None, status: int = 200):
    return render(request, template, {"organization": request.organization, "section": section,
                                      **(context or {})}, status=status)


def stream_url(request) -> str:
    scheme = "wss" if request.is_secure() else "ws"
    return f"{scheme}://{request.get_host()}/v1/amd/stream"


def twiml(request, api_key: str = "YOUR_API_KEY") -> str:
    return (
        "<Response>\n"
        "  <Start>\n"
        f'    <Stream url="{stream_url(request)}">\n'
        f'      <Parameter name="api_key" value="{api_key}"/>\n'
        "    </Stream>\n"
        "  </Start>\n"
        "  <!-- then your call flow: <Say>, <Dial>, … -->\n"
        "</Response>"
    )


@require_http_methods(["GET", "POST"])
def signup(request):
    if request.user.is_authenticated:
        return redirect("overview")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome! {form.cleaned_data['organization']} is ready. "
                                  "Create an API key to start streaming calls.")
        return redirect("overview")
    return render(request, "registration/signup.html", {"form": form})


@console_view
def overview(request):
    org = request.organization
    usage = billing.usage(org)
    free_limit = billing.free_calls_per_month()
    mode = request.GET.get("mode", "")
    mode = mode if mode in ("live", "test") else ""
    context = {
        "usage": usage,
        "free_limit": free_limit,
        "free_limit_display": f"{free_limit:,}",
        "free_used_percent": f"{min(100.0, 100.0 * usage.billable_calls / free_limit) if free_limit else 100:.1f}",
        "price_per_call": billing.price_per_call(),
        "credit": billing.credit_summary(org),
        "mode": mode,
        "stats": month_decision_stats(org, usage.period, mode),
        "twiml": twiml(request),
        "stream_url": stream_url(request),
        "active_keys": org.api_keys.active().count(),
    }
    return page(request, "console/overview.html", "overview", context)


@console_view
def keys(request):
    listing = request.organization.api_keys.order_by("revoked_at", "-created")
    return page(request, "console/keys.html", "keys", {"keys": listing})


@console_view
@require_http_methods(["GET", "POST"])
def key_new(request):
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        key, token = ApiKey.create(request.organization, data["name"], data["env"], data["scopes"],
                                   created_by=request.user)
        request.session[NEW_KEY_SESSION_PREFIX + key.pk] = token
        return redirect("key-created", key_id=key.pk)
    return page(request, "console/key_new.html", "keys", {"form": form})


@never_cache
@console_view
def key_created(request, key_id):
    key = get_object_or_404(ApiKey, pk=key_id, organization=request.organization)
    token = request.session.pop(NEW_KEY_SESSION_PREFIX + key.pk, None)
    context = {"key": key, "token": token, "twiml": twiml(request, token) if token else ""}
    return page(request, "console/key_created.html", "keys", context)


@console_view
@require_http_methods(["GET", "POST"])
def key_revoke(request, key_id):
    key = get_object_or_404(ApiKey, pk=key_id, organization=request.organization)
    if request.method == "POST":
        if key.is_revoked:
            messages.info(request, f"“{key.name}” was already revoked.")
        else:
            key.revoke()
            messages.success(request, f"Revoked “{key.name}” ({key.masked}). Requests with it now fail with 401.")
        return redirect("keys")
    return page(request, "console/key_revoke.html", "keys", {"key": key})


@console_view
def usage(request):
    org = request.organization
    current = billing.usage(org)
    rollups = MonthlyRollup.objects.filter(organization=org).order_by("-period")
    context = {
        "current": current,
        "rollups": rollups,
        "free_limit_display": f"{billing.free_calls_per_month():,}",
        "price_per_call": billing.price_per_call(),
        "credit": billing.credit_summary(org),
        "bundled": org.amd_bundled,
    }
    return page(request, "console/usage.html", "usage", context)
