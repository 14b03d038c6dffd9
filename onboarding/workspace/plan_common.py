"""What the plan editor's views share: lookups under the onboarding in the URL, who edits,
and the two ways of answering (an htmx fragment or a full page; after a change, the plan body or
a redirect)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers

from accounts.models import Role
from onboarding.models import Milestone, Onboarding, Task
from onboarding.services import plan
from onboarding.workspace.plan_forms import (
    MilestoneForm,
    MoveForm,
    TaskForm,
)

EDIT_ROLES = (Role.ADMIN, Role.CSM)
TASK_CONFLICT = (
    "This task changed since you opened it. Below is the newer version; your changes were not "
    "saved. Check it and save again."
)
MILESTONE_CONFLICT = (
    "This milestone changed since you opened it. Below is the newer version; your changes were "
    "not saved. Check it and save again."
)
CLOSED_NOTE = plan.CLOSED


def plan_onboarding_or_404(onboarding_id: int) -> Onboarding:
    return get_object_or_404(
        Onboarding.objects.select_related("customer", "owner"), pk=onboarding_id
    )


def task_or_404(onboarding: Onboarding, task_id: int) -> Task:
    task = get_object_or_404(
        onboarding.tasks.select_related("milestone", "owner_contact"), pk=task_id
    )
    task.onboarding = onboarding
    return task


def milestone_or_404(onboarding: Onboarding, milestone_id: int) -> Milestone:
    milestone = get_object_or_404(onboarding.milestones.all(), pk=milestone_id)
    milestone.onboarding = onboarding
    return milestone


def can_edit_plan(request: HttpRequest, onboarding: Onboarding) -> bool:
    membership = getattr(request, "membership", None)
    return (
        membership is not None
        and membership.role in EDIT_ROLES
        and onboarding.status != Onboarding.Status.CLOSED
    )


def plan_url(onboarding: Onboarding, anchor: str = "") -> str:
    url = reverse("workspace:plan", kwargs={"onboarding_id": onboarding.pk})
    return f"{url}#{anchor}" if anchor else url


def plan_context(request: HttpRequest, onboarding: Onboarding, extra: dict) -> dict:
    return {
        "onboarding": onboarding,
        "current_tab": "plan",
        "can_edit": can_edit_plan(request, onboarding),
        "plan_url": plan_url(onboarding),
        **extra,
    }


def render_fragment(
    request: HttpRequest,
    onboarding: Onboarding,
    fragment: str,
    extra: dict,
    *,
    status: int = 200,
) -> HttpResponse:
    """The fragment alone for htmx, else a full page around it."""
    context = plan_context(request, onboarding, {"fragment": fragment, **extra})
    template = fragment if request.htmx else "workspace/plan_edit.html"
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ("HX-Request",))
    return response


def board_context(request: HttpRequest, onboarding: Onboarding) -> dict:
    can_edit = can_edit_plan(request, onboarding)
    context = {"board": plan.plan_board(onboarding)}
    if can_edit:
        context["add_task_form"] = TaskForm(onboarding=onboarding, auto_id="add-task-%s")
        context["add_milestone_form"] = MilestoneForm(auto_id="add-milestone-%s")
    return context


def status_line(notice: str) -> str:
    return render_to_string("workspace/_plan_status.html", {"notice": notice, "oob": True})


def answer_saved(
    request: HttpRequest, onboarding: Onboarding, notice: str, anchor: str = ""
) -> HttpResponse:
    """After a change: htmx gets the re-rendered plan body; a plain form a redirect to the plan."""
    if not request.htmx:
        messages.success(request, notice)
        return redirect(plan_url(onboarding, anchor))
    context = plan_context(request, onboarding, board_context(request, onboarding))
    body = render_to_string("workspace/_milestone_groups.html", context, request=request)
    response = HttpResponse(body + status_line(notice))
    response["HX-Retarget"] = "#plan-body"
    response["HX-Reswap"] = "outerHTML"
    return response


def refuse_closed(request: HttpRequest, onboarding: Onboarding) -> HttpResponse:
    if not request.htmx:
        messages.error(request, CLOSED_NOTE)
        return redirect(plan_url(onboarding))
    return render_fragment(
        request, onboarding, "workspace/_plan_status.html", {"notice": CLOSED_NOTE}, status=403
    )


def posted_data(request: HttpRequest):
    """The form data of a POST (even an empty one, so it shows its errors), else None."""
    return request.POST if request.method == "POST" else None


def end_of(direction: str) -> str:
    return "top" if direction == "up" else "bottom"


def move(
    request: HttpRequest,
    onboarding: Onboarding,
    *,
    name: str,
    anchor: str,
    mover: Callable[[str], bool],
) -> HttpResponse:
    """One step up or down for a task or a milestone, named `name` in the notice."""
    if onboarding.status == Onboarding.Status.CLOSED:
        return refuse_closed(request, onboarding)
    form = MoveForm(request.POST)
    if not form.is_valid():
        return answer_saved(request, onboarding, "Choose up or down.", anchor)
    direction = form.cleaned_data["direction"]
    if mover(direction):
        return answer_saved(request, onboarding, f"Moved “{name}” {direction}.", anchor)
    notice = f"“{name}” is already at the {end_of(direction)}."
    return answer_saved(request, onboarding, notice, anchor)
