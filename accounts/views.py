from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import billing


def current_organization(request):
    membership = request.user.memberships.select_related("organization").order_by("created").first()
    return membership.organization if membership else None


@login_required
def overview(request):
    org = current_organization(request)
    context = {"organization": org}
    if org:
        context["usage"] = billing.usage(org)
        context["credit"] = billing.credit_summary(org)
    return render(request, "console/overview.html", context)
