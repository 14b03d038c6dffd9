"""Calendar files of one onboarding for the workspace: the QBR invitation, the milestones feed."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET

from accounts.access import member_required
from accounts.models import Tenant
from onboarding import calendar_events
from onboarding.models import CalendarTombstone, CloseReview

from .common import onboarding_or_404, url


def _calendar_tenant(request: HttpRequest) -> Tenant:
    # UIDs name the canonical host, read from the tenant's domains: fetch them once.
    return Tenant.objects.prefetch_related("domains").get(pk=request.tenant.pk)


def _ics(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@member_required()
@require_GET
def qbr_ics(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = onboarding_or_404(onboarding_id)
    review = CloseReview.objects.select_related("ongoing_csm").filter(onboarding=onboarding).first()
    if review is None or review.qbr_date is None:
        messages.info(request, "No QBR is scheduled yet: it is set in the close review.")
        return redirect(url("close", onboarding_id=onboarding.pk))
    contacts = list(onboarding.contacts.filter(side="customer").exclude(email=""))
    body = calendar_events.qbr_calendar(review, onboarding, _calendar_tenant(request), contacts)
    return _ics(body, f"qbr-{onboarding.pk}.ics")


@member_required()
@require_GET
def milestones_calendar(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    """Every milestone as an invitation, and every removed one as a cancellation."""
    onboarding = onboarding_or_404(onboarding_id)
    milestones = list(onboarding.milestones.order_by("position", "due_date", "id"))
    tombstones = list(
        CalendarTombstone.objects.filter(
            onboarding=onboarding, uid__startswith=f"{calendar_events.MILESTONE}-"
        ).order_by("removed_at", "id")
    )
    if not milestones and not tombstones:
        messages.info(request, "This onboarding has no milestones to put in a calendar.")
        return redirect(url("onboarding", onboarding_id=onboarding.pk))
    contacts = list(onboarding.contacts.exclude(email="").order_by("side", "name", "id"))
    body = calendar_events.milestones_calendar(
        onboarding, _calendar_tenant(request), milestones, tombstones, contacts
    )
    return _ics(body, f"milestones-{onboarding.pk}.ics")
