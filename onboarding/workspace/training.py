"""Step 5 of an onboarding in the workspace: training groups, sessions, resources and champions.

Thin views over onboarding.services.training. Every object is looked up under this onboarding, so a
foreign id and a missing one answer the same 404. Every member reads; admins and CSMs change things
(others get 403). Forms work without JavaScript: POST, then redirect, or the page again (400) with
each error next to its field. A closed onboarding shows no forms, and its writes are refused.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from accounts.access import member_required
from onboarding.form_handling import apply_errors
from onboarding.models import Contact, Onboarding, TrainingGroup, TrainingResource, TrainingSession
from onboarding.services import training as training_services

from . import forms_delivery as f
from .common import (
    GET_POST,
    flash_error,
    in_tenant_time,
    onboarding_or_404,
    page,
    refuse_if_closed,
    require_runner,
    save_or_delete,
    url,
)


def _training_forms(onboarding: Onboarding, data=None, which: str | None = None) -> dict:
    def bound(name: str):
        return data if which == name else None

    return {
        "group": f.GroupForm(bound("group"), prefix="group"),
        "session": f.SessionForm(bound("session"), prefix="session", onboarding=onboarding),
        "resource": f.ResourceForm(bound("resource"), prefix="resource", onboarding=onboarding),
    }


_ADDERS = {
    "group": (training_services.save_group, "Training group added."),
    "session": (training_services.save_session, "Session scheduled."),
    "resource": (training_services.save_resource, "Resource added."),
}


@member_required()
@GET_POST
@in_tenant_time
def training(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = onboarding_or_404(onboarding_id)
    here = url("training", onboarding_id=onboarding.pk)
    which = request.POST.get("form") if request.method == "POST" else None
    forms = _training_forms(onboarding, request.POST or None, which)
    status = 200
    if request.method == "POST":
        require_runner(request)
        if refused := refuse_if_closed(request, onboarding, here):
            return refused
        if which not in _ADDERS:
            messages.error(request, "Choose what to add.")
            return redirect(here)
        form = forms[which]
        if form.is_valid():
            save, done = _ADDERS[which]
            try:
                save(onboarding, form.cleaned_data, request.user)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, done)
                return redirect(f"{here}#{which}s")
        status = 400
    context = {
        "overview": training_services.training_overview(onboarding),
        "forms": forms,
        "failed": which if status == 400 else None,
    }
    return page(request, "workspace/training.html", onboarding, "training", context, status)


def _edit_page(
    request: HttpRequest,
    onboarding: Onboarding,
    *,
    form,
    title: str,
    obj_label: str,
    status: int = 200,
    delete_label: str = "",
) -> HttpResponse:
    return page(
        request,
        "workspace/training_edit.html",
        onboarding,
        "training",
        {"form": form, "title": title, "obj_label": obj_label, "delete_label": delete_label},
        status,
    )


def _edit(
    request: HttpRequest,
    onboarding: Onboarding,
    *,
    form,
    save: Callable,
    delete: Callable,
    title: str,
    obj_label: str,
    saved: str,
    deleted: str,
) -> HttpResponse:
    """GET the form; POST saves it (or deletes with action=delete), then back to the page."""
    back = url("training", onboarding_id=onboarding.pk)
    if request.method == "GET":
        return _edit_page(
            request, onboarding, form=form, title=title, obj_label=obj_label,
            delete_label=obj_label,
        )  # fmt: skip
    require_runner(request)
    if refused := refuse_if_closed(request, onboarding, back):
        return refused
    done = save_or_delete(
        request, form, save=save, delete=delete, back=back, saved=saved, deleted=deleted
    )
    if done is not None:
        return done
    return _edit_page(
        request, onboarding, form=form, title=title, obj_label=obj_label, status=400,
        delete_label=obj_label,
    )  # fmt: skip


@member_required()
@GET_POST
@in_tenant_time
def training_group_edit(request: HttpRequest, onboarding_id: int, group_id: int) -> HttpResponse:
    onboarding = onboarding_or_404(onboarding_id)
    group = get_object_or_404(TrainingGroup.objects.all(), pk=group_id, onboarding=onboarding)
    group.onboarding = onboarding
    initial = {"name": group.name, "size": group.size, "sophistication": group.sophistication}
    form = f.GroupForm(request.POST or None, initial=initial)
    return _edit(
        request,
        onboarding,
        form=form,
        save=lambda data, by: training_services.save_group(onboarding, data, by, group),
        delete=lambda by: training_services.delete_group(group, by),
        title=f"Training group “{group.name}”",
        obj_label="group",
        saved="Group saved.",
        deleted=f"Group “{group.name}” removed.",
    )


@member_required()
@GET_POST
@in_tenant_time
def training_session_edit(
    request: HttpRequest, onboarding_id: int, session_id: int
) -> HttpResponse:
    onboarding = onboarding_or_404(onboarding_id)
    session = get_object_or_404(
        TrainingSession.objects.select_related("group"), pk=session_id, group__onboarding=onboarding
    )
    session.group.onboarding = onboarding
    initial = {
        "group": session.group_id,
        "title": session.title,
        "scheduled_at": session.scheduled_at,
        "live_url": session.live_url,
        "held": session.held_at is not None,
        "recording_url": session.recording_url,
    }
    form = f.SessionEditForm(request.POST or None, initial=initial, onboarding=onboarding)
    return _edit(
        request,
        onboarding,
        form=form,
        save=lambda data, by: training_services.save_session(onboarding, data, by, session),
        delete=lambda by: training_services.delete_session(session, by),
        title=f"Session “{session.title}”",
        obj_label="session",
        saved="Session saved.",
        deleted=f"Session “{session.title}” removed.",
    )


@member_required()
@GET_POST
@in_tenant_time
def training_resource_edit(
    request: HttpRequest, onboarding_id: int, resource_id: int
) -> HttpResponse:
    onboarding = onboarding_or_404(onboarding_id)
    resource = get_object_or_404(
        TrainingResource.objects.all(), pk=resource_id, onboarding=onboarding
    )
    resource.onboarding = onboarding
    initial = {
        "title": resource.title,
        "kind": resource.kind,
        "url": resource.url,
        "group": resource.group_id,
    }
    form = f.ResourceForm(request.POST or None, initial=initial, onboarding=onboarding)
    return _edit(
        request,
        onboarding,
        form=form,
        save=lambda data, by: training_services.save_resource(onboarding, data, by, resource),
        delete=lambda by: training_services.delete_resource(resource, by),
        title=f"Resource “{resource.title}”",
        obj_label="resource",
        saved="Resource saved.",
        deleted=f"Resource “{resource.title}” removed.",
    )


@member_required()
@require_POST
def champion_trained(request: HttpRequest, onboarding_id: int, contact_id: int) -> HttpResponse:
    """Mark a customer contact as a champion (or not), a champion as trained (or not)."""
    onboarding = onboarding_or_404(onboarding_id)
    contact = get_object_or_404(Contact.objects.all(), pk=contact_id, onboarding=onboarding)
    contact.onboarding = onboarding
    require_runner(request)
    back = url("training", onboarding_id=onboarding.pk) + "#champions"
    try:
        training_services.update_champion(contact, request.POST.get("action", ""), request.user)
    except ValidationError as exc:
        flash_error(request, exc)
    else:
        messages.success(request, f"{contact.name}: saved.")
    return redirect(back)
