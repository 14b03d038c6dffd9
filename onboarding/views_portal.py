"""The client portal: what a customer's invited stakeholders see on the vendor's host."""

from __future__ import annotations

from django.contrib.auth import login
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.access import client_required, membership_of
from accounts.services import find_sign_in_link, redeem_sign_in_link
from onboarding.models import PortalAccess
from onboarding.selectors import client_onboardings, portal_page


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("account_login")
    if membership_of(request) is not None:
        return redirect("workspace:onboardings")
    return redirect("portal:index")


@client_required
def portal_index(request: HttpRequest) -> HttpResponse:
    onboardings = list(client_onboardings(request.user))
    if len(onboardings) == 1:
        return redirect("portal:onboarding", onboarding_id=onboardings[0].pk)
    return render(request, "portal/index.html", {"onboardings": onboardings})


@client_required
def portal_onboarding(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = client_onboardings(request.user).filter(pk=onboarding_id).first()
    if onboarding is None:
        raise Http404
    PortalAccess.objects.filter(onboarding=onboarding, user=request.user).update(
        last_seen_at=timezone.now()
    )
    page = portal_page(onboarding, request.user)
    return render(request, "portal/onboarding.html", {"page": page})


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest, token: str) -> HttpResponse:
    """GET only shows a button, so mail scanners that fetch links do not use them up."""
    if request.method == "GET":
        if find_sign_in_link(token) is None:
            return render(request, "portal/link_invalid.html", status=404)
        return render(request, "portal/sign_in.html")
    user = redeem_sign_in_link(token)
    if user is None:
        return render(request, "portal/link_invalid.html", status=404)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    PortalAccess.objects.filter(user=user, accepted_at__isnull=True).update(
        accepted_at=timezone.now()
    )
    return redirect("portal:index")


def brand_logo(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    if not tenant.logo:
        raise Http404
    response = FileResponse(tenant.logo.open("rb"), content_type="image/png")
    response["Cache-Control"] = "public, max-age=300"
    response["Content-Disposition"] = "inline"
    return response
