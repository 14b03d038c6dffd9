"""Workspace pages for steps 5 and 6 (training, close), stakeholders, calendars and playbooks.

Thin views: they parse forms, call the services (onboarding.services.training, close_review,
stakeholders, playbook_editor) and render. Every object is looked up through the tenant-scoped
managers and under its parent (a session of this onboarding, a task of this playbook), so a foreign
id and a missing one answer the same 404. Every member reads; admins and CSMs change things (others
get 403); playbooks are admins' only (others get the 404 of a missing page). Forms work without
JavaScript: POST, then redirect, or the page again (400) with each error next to its field.
A closed onboarding shows no forms, and its writes are refused (the QBR date aside).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import member_required
from accounts.models import Role, Tenant
from onboarding import calendar_events
from onboarding.models import (
    CalendarTombstone,
    CloseReview,
    Contact,
    Kickoff,
    Onboarding,
    Playbook,
    PlaybookMilestone,
    PlaybookResource,
    PlaybookTask,
    PortalAccess,
    TrainingGroup,
    TrainingResource,
    TrainingSession,
)
from onboarding.services import close_review as close_services
from onboarding.services import playbook_editor as editor
from onboarding.services import stakeholders as stakeholder_services
from onboarding.services import training as training_services

from . import forms_delivery as f

RUNNERS = {Role.ADMIN, Role.CSM}
CLOSED = training_services.CLOSED
GET_POST = require_http_methods(["GET", "POST"])


# --- Shared helpers ----------------------------------------------------------------------------


def in_tenant_time(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Parse and show times in the tenant's zone (datetime-local inputs have no zone)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        with timezone.override(request.tenant.tz):
            return view(request, *args, **kwargs)

    return wrapper


def _onboarding(onboarding_id: int) -> Onboarding:
    return get_object_or_404(
        Onboarding.objects.select_related("customer", "owner"), pk=onboarding_id
    )


def _can_run(request: HttpRequest) -> bool:
    return request.membership.role in RUNNERS


def _require_runner(request: HttpRequest) -> None:
    if not _can_run(request):
        raise PermissionDenied("Viewers and account executives read this page only.")


def _is_closed(onboarding: Onboarding) -> bool:
    return onboarding.status == Onboarding.Status.CLOSED


def _refuse_if_closed(request: HttpRequest, onboarding: Onboarding, back: str):
    if _is_closed(onboarding):
        messages.error(request, CLOSED)
        return redirect(back)
    return None


def _flash_error(request: HttpRequest, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


def _page(
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
        "can_edit": _can_run(request) and not _is_closed(onboarding),
        **context,
    }
    return render(request, template, context, status=status)


def _url(name: str, **kwargs) -> str:
    return reverse(f"workspace:{name}", kwargs=kwargs)


# --- Step 5: training --------------------------------------------------------------------------


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
    onboarding = _onboarding(onboarding_id)
    here = _url("training", onboarding_id=onboarding.pk)
    which = request.POST.get("form") if request.method == "POST" else None
    forms = _training_forms(onboarding, request.POST or None, which)
    status = 200
    if request.method == "POST":
        _require_runner(request)
        if refused := _refuse_if_closed(request, onboarding, here):
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
                f.apply_errors(form, exc)
            else:
                messages.success(request, done)
                return redirect(f"{here}#{which}s")
        status = 400
    context = {
        "overview": training_services.training_overview(onboarding),
        "forms": forms,
        "failed": which if status == 400 else None,
    }
    return _page(request, "workspace/training.html", onboarding, "training", context, status)


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
    return _page(
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
    back = _url("training", onboarding_id=onboarding.pk)
    if request.method == "GET":
        return _edit_page(
            request, onboarding, form=form, title=title, obj_label=obj_label,
            delete_label=obj_label,
        )  # fmt: skip
    _require_runner(request)
    if refused := _refuse_if_closed(request, onboarding, back):
        return refused
    if request.POST.get("action") == "delete":
        try:
            delete(request.user)
        except ValidationError as exc:  # e.g. the onboarding was closed a moment ago
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, deleted)
        return redirect(back)
    if form.is_valid():
        try:
            save(form.cleaned_data, request.user)
        except ValidationError as exc:
            f.apply_errors(form, exc)
        else:
            messages.success(request, saved)
            return redirect(back)
    return _edit_page(
        request, onboarding, form=form, title=title, obj_label=obj_label, status=400,
        delete_label=obj_label,
    )  # fmt: skip


@member_required()
@GET_POST
@in_tenant_time
def training_group_edit(request: HttpRequest, onboarding_id: int, group_id: int) -> HttpResponse:
    onboarding = _onboarding(onboarding_id)
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
    onboarding = _onboarding(onboarding_id)
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
    onboarding = _onboarding(onboarding_id)
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
    onboarding = _onboarding(onboarding_id)
    contact = get_object_or_404(Contact.objects.all(), pk=contact_id, onboarding=onboarding)
    contact.onboarding = onboarding
    _require_runner(request)
    back = _url("training", onboarding_id=onboarding.pk) + "#champions"
    try:
        training_services.update_champion(contact, request.POST.get("action", ""), request.user)
    except ValidationError as exc:
        _flash_error(request, exc)
    else:
        messages.success(request, f"{contact.name}: saved.")
    return redirect(back)


# --- Step 6: close -----------------------------------------------------------------------------


@member_required()
@GET_POST
@in_tenant_time
def close(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = _onboarding(onboarding_id)
    here = _url("close", onboarding_id=onboarding.pk)
    review = (
        CloseReview.objects.select_related("ongoing_csm", "reviewed_by")
        .filter(onboarding=onboarding)
        .first()
    )
    review_form = qbr_form = None
    if review is None and not _is_closed(onboarding):
        review_form = f.CloseReviewForm(initial=close_services.close_defaults(onboarding))
    if review is not None:
        qbr_form = f.QbrForm(initial={"qbr_date": review.qbr_date})
    status = 200
    if request.method == "POST":
        _require_runner(request)
        which = request.POST.get("form")
        if which == "review":
            if refused := _refuse_if_closed(request, onboarding, here):
                return refused
            review_form = f.CloseReviewForm(request.POST)
            if review_form.is_valid():
                try:
                    close_services.submit_close_review(
                        onboarding, review_form.cleaned_data, request.user
                    )
                except ValidationError as exc:
                    f.apply_errors(review_form, exc)
                else:
                    messages.success(
                        request, "Close review saved; the onboarding is closed and read-only."
                    )
                    return redirect(here)
        elif which == "qbr" and review is not None:
            qbr_form = f.QbrForm(request.POST)
            if qbr_form.is_valid():
                try:
                    close_services.reschedule_qbr(
                        review, qbr_form.cleaned_data["qbr_date"], request.user
                    )
                except ValidationError as exc:
                    f.apply_errors(qbr_form, exc)
                else:
                    messages.success(request, "QBR moved. Download the updated invitation.")
                    return redirect(here)
        else:
            messages.error(request, "Nothing to save here.")
            return redirect(here)
        status = 400
    kickoff = Kickoff.objects.filter(onboarding=onboarding).only("criteria_day90").first()
    context = {
        "review": review,
        "review_form": review_form,
        "qbr_form": qbr_form,
        "can_move_qbr": _can_run(request) and review is not None,
        "criteria_day90": kickoff.criteria_day90 if kickoff else "",
        "open_items": review.open_items.splitlines() if review else [],
    }
    return _page(request, "workspace/close.html", onboarding, "close", context, status)


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
    onboarding = _onboarding(onboarding_id)
    review = CloseReview.objects.select_related("ongoing_csm").filter(onboarding=onboarding).first()
    if review is None or review.qbr_date is None:
        messages.info(request, "No QBR is scheduled yet: it is set in the close review.")
        return redirect(_url("close", onboarding_id=onboarding.pk))
    contacts = list(onboarding.contacts.filter(side="customer").exclude(email=""))
    body = calendar_events.qbr_calendar(review, onboarding, _calendar_tenant(request), contacts)
    return _ics(body, f"qbr-{onboarding.pk}.ics")


@member_required()
@require_GET
def milestones_calendar(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    """Every milestone as an invitation, and every removed one as a cancellation."""
    onboarding = _onboarding(onboarding_id)
    milestones = list(onboarding.milestones.order_by("position", "due_date", "id"))
    tombstones = list(
        CalendarTombstone.objects.filter(
            onboarding=onboarding, uid__startswith=f"{calendar_events.MILESTONE}-"
        ).order_by("removed_at", "id")
    )
    if not milestones and not tombstones:
        messages.info(request, "This onboarding has no milestones to put in a calendar.")
        return redirect(_url("onboarding", onboarding_id=onboarding.pk))
    contacts = list(onboarding.contacts.exclude(email="").order_by("side", "name", "id"))
    body = calendar_events.milestones_calendar(
        onboarding, _calendar_tenant(request), milestones, tombstones, contacts
    )
    return _ics(body, f"milestones-{onboarding.pk}.ics")


# --- Stakeholders ------------------------------------------------------------------------------


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
        "handoff_missing": [] if _is_closed(onboarding) else _handoff_missing(onboarding),
    }
    return _page(
        request, "workspace/stakeholders.html", onboarding, "stakeholders", context, status
    )


@member_required()
@require_GET
def stakeholders(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    return _stakeholders_page(request, _onboarding(onboarding_id))


@member_required()
@GET_POST
def stakeholder_invite(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = _onboarding(onboarding_id)
    back = _url("stakeholders", onboarding_id=onboarding.pk)
    if request.method == "GET":  # the form lives on the stakeholders page
        return redirect(back)
    _require_runner(request)
    if refused := _refuse_if_closed(request, onboarding, back):
        return refused
    form = f.InviteForm(request.POST, contacts=stakeholder_services.invitable_contacts(onboarding))
    if form.is_valid():
        try:
            access = stakeholder_services.invite(onboarding, form.cleaned_data, request.user)
        except ValidationError as exc:
            f.apply_errors(form, exc)
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
    onboarding = _onboarding(onboarding_id)
    access = _access(onboarding, access_id)
    _require_runner(request)
    try:
        stakeholder_services.resend(access, request.user)
    except ValidationError as exc:
        _flash_error(request, exc)
    else:
        messages.success(request, f"A fresh sign-in email is on its way to {access.user.email}.")
    return redirect(_url("stakeholders", onboarding_id=onboarding.pk))


@member_required()
@GET_POST
def stakeholder_revoke(request: HttpRequest, onboarding_id: int, access_id: int) -> HttpResponse:
    """GET asks for confirmation; POST revokes."""
    onboarding = _onboarding(onboarding_id)
    access = _access(onboarding, access_id)
    back = _url("stakeholders", onboarding_id=onboarding.pk)
    if request.method == "POST":
        _require_runner(request)
        try:
            stakeholder_services.revoke(access, request.user)
        except ValidationError as exc:
            _flash_error(request, exc)
        else:
            messages.success(request, f"{access.contact.name} no longer has access to the portal.")
        return redirect(back)
    return _page(
        request, "workspace/stakeholder_revoke.html", onboarding, "stakeholders", {"access": access}
    )


# --- Playbooks (admins) ------------------------------------------------------------------------


def _playbook(playbook_id: int) -> Playbook:
    return get_object_or_404(Playbook.objects.all(), pk=playbook_id)


@member_required(Role.ADMIN)
@GET_POST
def playbooks(request: HttpRequest) -> HttpResponse:
    form = f.DuplicateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                copy = editor.duplicate_playbook(
                    form.cleaned_data["source"], form.cleaned_data["name"], request.user
                )
            except ValidationError as exc:
                f.apply_errors(form, exc)
            else:
                messages.success(request, f"Playbook “{copy.name}” created. Adjust it below.")
                return redirect("workspace:playbook", playbook_id=copy.pk)
        status = 400
    rows = Playbook.objects.annotate(
        task_count=Count("tasks", distinct=True),
        milestone_count=Count("milestones", distinct=True),
        resource_count=Count("resources", distinct=True),
    ).order_by("model", "-is_default", "name")
    return render(
        request,
        "playbooks/list.html",
        {"playbooks": rows, "form": form, "ranges": _ranges()},
        status=status,
    )


def _ranges() -> list[tuple[str, int, int]]:
    from onboarding.models import TouchModel

    return [(m.label, *editor.typical_range(m.value)) for m in TouchModel]


_PLAYBOOK_FORMS = {
    "task": (f.PlaybookTaskForm, editor.save_task, "Task added."),
    "milestone": (f.PlaybookMilestoneForm, editor.save_milestone, "Milestone added."),
    "resource": (f.PlaybookResourceForm, editor.save_resource, "Resource added."),
}


@member_required(Role.ADMIN)
@GET_POST
def playbook(request: HttpRequest, playbook_id: int) -> HttpResponse:
    book = _playbook(playbook_id)
    here = reverse("workspace:playbook", kwargs={"playbook_id": book.pk})
    which = request.POST.get("form") if request.method == "POST" else None
    data = request.POST if request.method == "POST" else None

    def bound(name: str):
        return data if which == name else None

    settings_form = f.PlaybookForm(
        bound("settings"),
        prefix="settings",
        initial={"name": book.name, "model": book.model, "is_default": book.is_default},
    )
    forms = {
        "task": f.PlaybookTaskForm(bound("task"), prefix="task", playbook=book),
        "milestone": f.PlaybookMilestoneForm(bound("milestone"), prefix="milestone"),
        "resource": f.PlaybookResourceForm(bound("resource"), prefix="resource"),
    }
    status = 200
    if request.method == "POST":
        if which == "delete":
            try:
                editor.delete_playbook(book, request.user)
            except ValidationError as exc:
                _flash_error(request, exc)
                return redirect(here)
            messages.success(request, f"Playbook “{book.name}” deleted.")
            return redirect("workspace:playbooks")
        if which == "settings":
            form, save, done = settings_form, editor.update_playbook, "Playbook saved."
            call = lambda data: save(book, data, request.user)  # noqa: E731
        elif which in _PLAYBOOK_FORMS:
            _, save, done = _PLAYBOOK_FORMS[which]
            form = forms[which]
            call = lambda data: save(book, data, request.user)  # noqa: E731
        else:
            messages.error(request, "Choose what to save.")
            return redirect(here)
        if form.is_valid():
            try:
                call(form.cleaned_data)
            except ValidationError as exc:
                f.apply_errors(form, exc)
            else:
                messages.success(request, done)
                return redirect(f"{here}#{which}s" if which != "settings" else here)
        status = 400
    book.refresh_from_db()
    tasks = list(book.tasks.select_related("milestone").order_by("due_offset_days", "position"))
    titles = {t.key: t.title for t in tasks}
    for t in tasks:
        t.prerequisites = [titles.get(k, k) for k in t.depends_on_keys]
    low, high = editor.typical_range(book.model)
    context = {
        "playbook": book,
        "settings_form": settings_form,
        "forms": forms,
        "failed": which if status == 400 else None,
        "tasks": tasks,
        "milestones": list(
            book.milestones.annotate(task_count=Count("tasks")).order_by("due_offset_days", "id")
        ),
        "resources": list(book.resources.order_by("position", "id")),
        "range": (low, high),
        "running": Onboarding.objects.filter(playbook=book)
        .exclude(status=Onboarding.Status.CLOSED)
        .count(),
    }
    return render(request, "playbooks/detail.html", context, status=status)


def _playbook_edit(
    request: HttpRequest,
    book: Playbook,
    *,
    form,
    save: Callable,
    delete: Callable,
    title: str,
    obj_label: str,
) -> HttpResponse:
    back = reverse("workspace:playbook", kwargs={"playbook_id": book.pk})
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "delete":
            try:
                delete(request.user)
            except ValidationError as exc:
                _flash_error(request, exc)
                return redirect(request.path)
            messages.success(request, f"The {obj_label} was deleted.")
            return redirect(back)
        if form.is_valid():
            try:
                save(form.cleaned_data, request.user)
            except ValidationError as exc:
                f.apply_errors(form, exc)
            else:
                messages.success(request, f"The {obj_label} was saved.")
                return redirect(back)
        status = 400
    return render(
        request,
        "playbooks/edit.html",
        {"playbook": book, "form": form, "title": title, "obj_label": obj_label},
        status=status,
    )


@member_required(Role.ADMIN)
@GET_POST
def playbook_task_edit(request: HttpRequest, playbook_id: int, playbook_task_id: int):
    book = _playbook(playbook_id)
    task = get_object_or_404(PlaybookTask.objects.all(), pk=playbook_task_id, playbook=book)
    task.playbook = book
    initial = {
        "title": task.title,
        "description": task.description,
        "phase": task.phase,
        "owner_side": task.owner_side,
        "due_offset_days": task.due_offset_days,
        "milestone": task.milestone_id,
        "depends_on_keys": task.depends_on_keys,
    }
    form = f.PlaybookTaskForm(request.POST or None, initial=initial, playbook=book, task=task)
    return _playbook_edit(
        request,
        book,
        form=form,
        save=lambda data, by: editor.save_task(book, data, by, task),
        delete=lambda by: editor.delete_task(task, by),
        title=f"Task “{task.title}”",
        obj_label="task",
    )


@member_required(Role.ADMIN)
@GET_POST
def playbook_milestone_edit(request: HttpRequest, playbook_id: int, playbook_milestone_id: int):
    book = _playbook(playbook_id)
    milestone = get_object_or_404(
        PlaybookMilestone.objects.all(), pk=playbook_milestone_id, playbook=book
    )
    milestone.playbook = book
    initial = {
        "name": milestone.name,
        "success_criteria": milestone.success_criteria,
        "due_offset_days": milestone.due_offset_days,
        "is_first_value": milestone.is_first_value,
    }
    form = f.PlaybookMilestoneForm(request.POST or None, initial=initial)
    return _playbook_edit(
        request,
        book,
        form=form,
        save=lambda data, by: editor.save_milestone(book, data, by, milestone),
        delete=lambda by: editor.delete_milestone(milestone, by),
        title=f"Milestone “{milestone.name}”",
        obj_label="milestone",
    )


@member_required(Role.ADMIN)
@GET_POST
def playbook_resource_edit(request: HttpRequest, playbook_id: int, playbook_resource_id: int):
    book = _playbook(playbook_id)
    resource = get_object_or_404(
        PlaybookResource.objects.all(), pk=playbook_resource_id, playbook=book
    )
    resource.playbook = book
    initial = {
        "title": resource.title,
        "kind": resource.kind,
        "url": resource.url,
        "audience": resource.audience,
    }
    form = f.PlaybookResourceForm(request.POST or None, initial=initial)
    return _playbook_edit(
        request,
        book,
        form=form,
        save=lambda data, by: editor.save_resource(book, data, by, resource),
        delete=lambda by: editor.delete_resource(resource, by),
        title=f"Resource “{resource.title}”",
        obj_label="resource",
    )
