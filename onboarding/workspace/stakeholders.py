"""The stakeholders page of an onboarding: who has portal access, invitations, re-sends, revocation.

Thin views over onboarding.services.stakeholders. Accesses are looked up under this onboarding, so a
foreign id and a missing one answer the same 404. Every member reads; admins and CSMs change things.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_POST

from accounts.access import member_required
from onboarding.form_handling import apply_errors
from onboarding.models import Onboarding, PortalAccess
from onboarding.services import stakeholders as stakeholder_services

from . import forms_delivery as f
from .common import (
    GET_POST,
    can_run,
    flash_error,
    is_closed,
    onboarding_or_404,
    page,
    refuse_if_closed,
    require_runner,
    url,
)


def _handoff_missing(onboarding: Onboarding) -> list[str]:
    """What the handoff gate still asks for, where the handoff step provides it."""
    try:
        from onboarding.services.handoff import handoff_missing
    except ImportError:  # pragma: no cover - the handoff step is not installed
        return []
    return handoff_missing(onboarding)


def _stakeholders_page(
    request: HttpRequest, onboarding: Onboarding, form=None, status: int = 200
) -> HttpResponse:
    context = {
        "accesses": stakeholder_services.accesses(onboarding),
        "invite_form": form
        or f.InviteForm(contacts=stakeholder_services.invitable_contacts(onboarding)),
        "handoff_missing": [] if is_closed(onboarding) else _handoff_missing(onboarding),
        "can_revoke": can_run(request),
    }
    return page(request, "workspace/stakeholders.html", onboarding, "stakeholders", context, status)


@member_required()
@require_GET
def stakeholders(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    return _stakeholders_page(request, onboarding_or_404(onboarding_id))


@member_required()
@GET_POST
def stakeholder_invite(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = onboarding_or_404(onboarding_id)
    back = url("stakeholders", onboarding_id=onboarding.pk)
    if request.method == "GET":  # the form lives on the stakeholders page
        return redirect(back)
    require_runner(request)
    if refused := refuse_if_closed(request, onboarding, back):
        return refused
    form = f.InviteForm(request.POST, contacts=stakeholder_services.invitable_contacts(onboarding))
    if form.is_valid():
        try:
            access = stakeholder_services.invite(onboarding, form.cleaned_data, request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(
                request, f"Invitation sent to {access.contact.name} ({access.user.email})."
            )
            return redirect(back)
    return _stakeholders_page(request, onboarding, form, status=400)


def _access(onboarding: Onboarding, access_id: int) -> PortalAccess:
    access = get_object_or_404(
        PortalAccess.objects.select_related("contact", "user"), pk=access_id, onboarding=onboarding
    )
    access.onboarding = onboarding
    return access


@member_required()
@require_POST
def stakeholder_resend(request: HttpRequest, onboarding_id: int, access_id: int) -> HttpResponse:
    onboarding = onboarding_or_404(onboarding_id)
    access = _access(onboarding, access_id)
    require_runner(request)
    try:
        stakeholder_services.resend(access, request.user)
    except ValidationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"A fresh sign-in email is on its way to {access.user.email}.")
    return redirect(url("stakeholders", onboarding_id=onboarding.pk))


@member_required()
@GET_POST
def stakeholder_revoke(request: HttpRequest, onboarding_id: int, access_id: int) -> HttpResponse:
    """GET asks for confirmation; POST revokes."""
    onboarding = onboarding_or_404(onboarding_id)
    access = _access(onboarding, access_id)
    back = url("stakeholders", onboarding_id=onboarding.pk)
    if request.method == "POST":
        require_runner(request)
        try:
            stakeholder_services.revoke(access, request.user)
        except ValidationError as exc:
            flash_error(request, exc)
        else:
            messages.success(request, f"{access.contact.name} no longer has access to the portal.")
        return redirect(back)
    context = {"access": access, "can_revoke": can_run(request)}
    return page(request, "workspace/stakeholder_revoke.html", onboarding, "stakeholders", context)
