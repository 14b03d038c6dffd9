"""The plan editor's milestones: add, edit (with a stale-version check), delete, move."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import member_required
from onboarding.form_handling import apply_errors
from onboarding.models import Onboarding
from onboarding.services import plan
from onboarding.services.plan import StaleMilestone
from onboarding.workspace.plan_common import (
    EDIT_ROLES,
    MILESTONE_CONFLICT,
    answer_saved,
    milestone_or_404,
    move,
    plan_onboarding_or_404,
    posted_data,
    refuse_closed,
    render_fragment,
)
from onboarding.workspace.plan_forms import (
    ConfirmForm,
    MilestoneForm,
    milestone_initial,
)


@member_required(*EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def milestone_add(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = plan_onboarding_or_404(onboarding_id)
    if onboarding.status == Onboarding.Status.CLOSED:
        return refuse_closed(request, onboarding)
    form = MilestoneForm(posted_data(request), auto_id="add-milestone-%s")
    if request.method == "POST":
        if form.is_valid():
            try:
                milestone = plan.add_milestone(onboarding, form.changes(), by=request.user)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                return answer_saved(
                    request,
                    onboarding,
                    f"Added the milestone “{milestone.name}”.",
                    f"milestone-{milestone.pk}",
                )
    status = 400 if request.method == "POST" else 200
    return render_fragment(
        request, onboarding, "workspace/_milestone_form.html", {"form": form}, status=status
    )


@member_required(*EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def milestone_edit(request: HttpRequest, onboarding_id: int, milestone_id: int) -> HttpResponse:
    onboarding = plan_onboarding_or_404(onboarding_id)
    milestone = milestone_or_404(onboarding, milestone_id)
    if onboarding.status == Onboarding.Status.CLOSED:
        return refuse_closed(request, onboarding)
    auto_id = f"edit-milestone-{milestone.pk}-%s"
    if request.method == "GET":
        form = MilestoneForm(initial=milestone_initial(milestone), editing=True, auto_id=auto_id)
        return render_fragment(
            request,
            onboarding,
            "workspace/_milestone_form.html",
            {"form": form, "milestone": milestone},
        )
    form = MilestoneForm(request.POST, editing=True, auto_id=auto_id)
    form.fields["sequence"].required = True
    if form.is_valid():
        try:
            milestone = plan.edit_milestone(
                milestone,
                form.changes(),
                expected_sequence=form.cleaned_data["sequence"],
                by=request.user,
            )
        except StaleMilestone as exc:
            current = exc.current
            form = MilestoneForm(initial=milestone_initial(current), editing=True, auto_id=auto_id)
            context = {"form": form, "milestone": current, "conflict": MILESTONE_CONFLICT}
            return render_fragment(
                request, onboarding, "workspace/_milestone_form.html", context, status=409
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return answer_saved(
                request,
                onboarding,
                f"Saved the milestone “{milestone.name}”.",
                f"milestone-{milestone.pk}",
            )
    context = {"form": form, "milestone": milestone}
    return render_fragment(
        request, onboarding, "workspace/_milestone_form.html", context, status=400
    )


@member_required(*EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def milestone_delete(request: HttpRequest, onboarding_id: int, milestone_id: int) -> HttpResponse:
    onboarding = plan_onboarding_or_404(onboarding_id)
    milestone = milestone_or_404(onboarding, milestone_id)
    if onboarding.status == Onboarding.Status.CLOSED:
        return refuse_closed(request, onboarding)
    form = ConfirmForm(posted_data(request), initial={"confirm": True})
    if request.method == "POST" and form.is_valid():
        try:
            loose = plan.delete_milestone(milestone, by=request.user)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            notice = f"Deleted the milestone “{milestone.name}”."
            if loose:
                notice += f" Its {loose} task{'s' if loose != 1 else ''} stay in the plan."
            return answer_saved(request, onboarding, notice)
    context = {
        "form": form,
        "milestone": milestone,
        "task_count": milestone.tasks.count(),
    }
    status = 400 if request.method == "POST" else 200
    return render_fragment(
        request, onboarding, "workspace/_milestone_delete.html", context, status=status
    )


@member_required(*EDIT_ROLES)
@require_POST
def milestone_move(request: HttpRequest, onboarding_id: int, milestone_id: int) -> HttpResponse:
    onboarding = plan_onboarding_or_404(onboarding_id)
    milestone = milestone_or_404(onboarding, milestone_id)
    return move(
        request,
        onboarding,
        name=milestone.name,
        anchor=f"milestone-{milestone.pk}",
        mover=lambda direction: plan.move_milestone(milestone, direction, by=request.user),
    )
