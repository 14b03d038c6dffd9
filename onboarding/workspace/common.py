"""What the workspace's per-onboarding pages share: lookups, role checks, refusals when closed.

Every member reads; admins and CSMs (RUNNERS) change things, others get 403. A closed onboarding
shows no forms and its writes are refused with a message.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.models import Role
from onboarding.form_handling import submit
from onboarding.models import Onboarding
from onboarding.services import onboardings as onboarding_services

RUNNERS = {Role.ADMIN, Role.CSM}
CLOSED = onboarding_services.CLOSED
GET_POST = require_http_methods(["GET", "POST"])


def in_tenant_time(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Parse and show times in the tenant's zone (datetime-local inputs have no zone)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        with timezone.override(request.tenant.tz):
            return view(request, *args, **kwargs)

    return wrapper


def onboarding_or_404(onboarding_id: int) -> Onboarding:
    return get_object_or_404(
        Onboarding.objects.select_related("customer", "owner"), pk=onboarding_id
    )


def can_run(request: HttpRequest) -> bool:
    return request.membership.role in RUNNERS


def require_runner(request: HttpRequest) -> None:
    if not can_run(request):
        raise PermissionDenied("Viewers and account executives read this page only.")


def is_closed(onboarding: Onboarding) -> bool:
    return onboarding.status == Onboarding.Status.CLOSED


def refuse_if_closed(request: HttpRequest, onboarding: Onboarding, back: str):
    if is_closed(onboarding):
        messages.error(request, CLOSED)
        return redirect(back)
    return None


def flash_error(request: HttpRequest, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


def page(
    request: HttpRequest,
    template: str,
    onboarding: Onboarding,
    tab: str,
    context: dict,
    status: int = 200,
) -> HttpResponse:
    context = {
        "onboarding": onboarding,
        "current_tab": tab,
        "can_edit": can_run(request) and not is_closed(onboarding),
        **context,
    }
    return render(request, template, context, status=status)


def url(name: str, **kwargs) -> str:
    return reverse(f"workspace:{name}", kwargs=kwargs)


def save_or_delete(
    request: HttpRequest,
    form: forms.Form,
    *,
    save: Callable[[dict, Any], object],
    delete: Callable[[Any], object],
    back: str,
    saved: str,
    deleted: str,
    stay: str | None = None,
) -> HttpResponse | None:
    """The POST half of an edit page: delete (action=delete) or validate and save, then go `back`
    with a message. A refused delete goes to `stay` (default `back`) with the reason. None means
    the form is to be shown again (400) with each error next to its field."""
    if request.POST.get("action") == "delete":
        try:
            delete(request.user)
        except ValidationError as exc:  # e.g. the onboarding was closed a moment ago
            flash_error(request, exc)
            return redirect(stay or back)
        messages.success(request, deleted)
        return redirect(back)
    return submit(request, form, lambda data: save(data, request.user), done=saved, back=back)
