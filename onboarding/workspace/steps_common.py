"""What the pages of steps 1-3 share: who may write, the refusal of a write, lookups.

Every page is readable by every member; writes are for the roles that own them (the handoff:
account executives, CSMs and admins; the rest: CSMs and admins). A POST from anyone else gets the
404 a missing page gets, and their pages render no forms. A closed onboarding renders no forms and
refuses every write.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.models import Role
from onboarding.models import Contact, Onboarding, PortalAccess

EDIT_HANDOFF = (Role.AE, Role.CSM, Role.ADMIN)
RUN = (Role.CSM, Role.ADMIN)
GET_POST = require_http_methods(["GET", "POST"])
CLOSED = "This onboarding is closed; it is read-only."


def step_onboarding(onboarding_id: int) -> Onboarding:
    return get_object_or_404(
        Onboarding.objects.select_related("customer", "owner", "handoff", "kickoff"),
        pk=onboarding_id,
    )


def role_of(request: HttpRequest) -> str:
    return request.membership.role


def can_write(request: HttpRequest, onboarding: Onboarding, roles) -> bool:
    return role_of(request) in roles and onboarding.status != Onboarding.Status.CLOSED


def refuse_write(
    request: HttpRequest, onboarding: Onboarding, roles, back: str
) -> HttpResponse | None:
    """Refuse a write: 404 for a role without it, a message for a closed onboarding."""
    if role_of(request) not in roles:
        raise Http404
    if onboarding.status == Onboarding.Status.CLOSED:
        messages.error(request, CLOSED)
        return redirect(back)
    return None


def tab_url(name: str, onboarding: Onboarding) -> str:
    return reverse(f"workspace:{name}", kwargs={"onboarding_id": onboarding.pk})


def contacts_with_access(onboarding: Onboarding) -> list[Contact]:
    return list(
        Contact.objects.filter(onboarding=onboarding)
        .annotate(
            has_access=Exists(
                PortalAccess.objects.filter(contact=OuterRef("pk"), revoked_at__isnull=True)
            )
        )
        .order_by("side", "name", "id")
    )


def plain_contacts(onboarding: Onboarding) -> list[Contact]:
    return list(Contact.objects.filter(onboarding=onboarding).order_by("side", "name", "id"))
