"""Step 3: the requirements intake; each item can become a task of the plan."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.access import member_required
from onboarding.form_handling import submit
from onboarding.models import Onboarding, RequirementItem
from onboarding.services import requirements as requirement_services
from onboarding.workspace.forms_steps import MakeTaskForm, RequirementForm
from onboarding.workspace.steps_common import (
    GET_POST,
    RUN,
    can_write,
    plain_contacts,
    refuse_write,
    step_onboarding,
    tab_url,
)


def _requirements_page(
    request: HttpRequest,
    onboarding: Onboarding,
    *,
    new: RequirementForm | None = None,
    edit: tuple[RequirementItem, RequirementForm] | None = None,
    task_form: tuple[int, MakeTaskForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    items = list(
        RequirementItem.objects.filter(onboarding=onboarding).select_related(
            "task", "task__owner_contact"
        )
    )
    contacts = plain_contacts(onboarding)
    can_run = can_write(request, onboarding, RUN)
    groups = {value: [] for value in RequirementItem.Category.values}
    for item in items:
        groups[item.category].append(item)
        item.task_form = None
        if can_run and item.task_id is None:
            if task_form is not None and task_form[0] == item.pk:
                item.task_form = task_form[1]
            else:
                item.task_form = MakeTaskForm(prefix=f"task-{item.pk}", contacts=contacts)
    context = {
        "onboarding": onboarding,
        "current_tab": "requirements",
        "groups": [(label, groups[value]) for value, label in RequirementItem.Category.choices],
        "count": len(items),
        "new_form": (new or RequirementForm(prefix="new")) if can_run else None,
        "edit": edit if can_run else None,
        "can_run": can_run,
    }
    return render(request, "workspace/requirements.html", context, status=status)


@member_required()
@GET_POST
def requirements(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = step_onboarding(onboarding_id)
    if request.method == "GET":
        return _requirements_page(request, onboarding)
    if refused := refuse_write(request, onboarding, RUN, tab_url("requirements", onboarding)):
        return refused
    form = RequirementForm(request.POST, prefix="new")
    return submit(
        request,
        form,
        lambda data: requirement_services.add_requirement(onboarding, data, request.user),
        done=lambda item: f"“{item.title}” added to the requirements.",
        back=tab_url("requirements", onboarding),
    ) or _requirements_page(request, onboarding, new=form)


def _item(onboarding: Onboarding, requirement_id: int) -> RequirementItem:
    return get_object_or_404(
        RequirementItem.objects.filter(onboarding=onboarding), pk=requirement_id
    )


@member_required(*RUN)
@GET_POST
def requirement_edit(request: HttpRequest, onboarding_id: int, requirement_id: int) -> HttpResponse:
    onboarding = step_onboarding(onboarding_id)
    item = _item(onboarding, requirement_id)
    back = tab_url("requirements", onboarding)
    if refused := refuse_write(request, onboarding, RUN, back):
        return refused
    if request.method == "GET":
        initial = {name: getattr(item, name) for name in RequirementForm.base_fields}
        form = RequirementForm(prefix="edit", initial=initial)
        return _requirements_page(request, onboarding, edit=(item, form))
    form = RequirementForm(request.POST, prefix="edit")
    return submit(
        request,
        form,
        lambda data: requirement_services.update_requirement(item, data, request.user),
        done="Requirement saved.",
        back=back,
    ) or _requirements_page(request, onboarding, edit=(item, form))


@member_required(*RUN)
@require_POST
def requirement_delete(
    request: HttpRequest, onboarding_id: int, requirement_id: int
) -> HttpResponse:
    onboarding = step_onboarding(onboarding_id)
    item = _item(onboarding, requirement_id)
    back = tab_url("requirements", onboarding)
    if refused := refuse_write(request, onboarding, RUN, back):
        return refused
    requirement_services.delete_requirement(item, request.user)
    messages.success(request, f"“{item.title}” removed.")
    return redirect(back)


@member_required(*RUN)
@require_POST
def requirement_task(request: HttpRequest, onboarding_id: int, requirement_id: int) -> HttpResponse:
    onboarding = step_onboarding(onboarding_id)
    item = _item(onboarding, requirement_id)
    back = tab_url("requirements", onboarding)
    if refused := refuse_write(request, onboarding, RUN, back):
        return refused
    contacts = plain_contacts(onboarding)
    form = MakeTaskForm(request.POST, prefix=f"task-{item.pk}", contacts=contacts)

    def make_task(data: dict):
        kind, _, value = data["owner"].partition(":")
        return requirement_services.make_task(
            item,
            request.user,
            owner_side=value if kind == "side" else "",
            owner_contact=int(value) if kind == "contact" else None,
            due_date=data["due_date"],
        )

    return submit(
        request, form, make_task, done=f"“{item.title}” is now a task in the plan.", back=back
    ) or _requirements_page(request, onboarding, task_form=(item.pk, form))
