"""Playbooks (per tenant): the list, one playbook, and its tasks, milestones and resources.

Admins only; everyone else gets the 404 of a missing page. Thin views over
onboarding.services.playbook_editor; rows are looked up under their playbook.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from accounts.access import member_required
from accounts.models import Role
from onboarding.form_handling import apply_errors
from onboarding.models import (
    Onboarding,
    Playbook,
    PlaybookMilestone,
    PlaybookResource,
    PlaybookTask,
)
from onboarding.services import playbook_editor as editor

from . import forms_delivery as f
from .common import GET_POST, flash_error, save_or_delete


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
                apply_errors(form, exc)
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
                flash_error(request, exc)
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
                apply_errors(form, exc)
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
        done = save_or_delete(
            request,
            form,
            save=save,
            delete=delete,
            back=back,
            saved=f"The {obj_label} was saved.",
            deleted=f"The {obj_label} was deleted.",
            stay=request.path,
        )
        if done is not None:
            return done
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
