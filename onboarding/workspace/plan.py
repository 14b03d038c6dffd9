"""Step 4 in the workspace: the mutual action plan editor.

Every page works as plain HTML forms (POST, then redirect to the plan; or the form again with the
errors next to the fields). With htmx loaded, the same URLs answer requests carrying HX-Request
with fragments instead: a row's edit form in place of the row, the saved row (or the whole plan
body when the change moves other rows), the form with errors (400) or with the newer version of
a task someone else saved meanwhile (409). The views only translate between HTTP and
services.plan / services.comments, where the rules live.

Admins and CSMs edit; every other member (viewers, AEs) reads. Objects are looked up through the
tenant-scoped managers and under the onboarding in the URL, so a foreign, a missing and another
onboarding's id all answer the same 404.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import member_required
from onboarding import selectors
from onboarding.downloads import attachment_response
from onboarding.form_handling import apply_errors
from onboarding.models import Onboarding, Task
from onboarding.services import comments as comment_services
from onboarding.services import plan
from onboarding.services.plan import StaleVersion
from onboarding.workspace.plan_common import (
    EDIT_ROLES,
    TASK_CONFLICT,
    answer_saved,
    board_context,
    can_edit_plan,
    move,
    plan_context,
    plan_onboarding_or_404,
    posted_data,
    refuse_closed,
    render_fragment,
    status_line,
    task_or_404,
)
from onboarding.workspace.plan_forms import (
    CommentForm,
    ConfirmForm,
    TaskDateForm,
    TaskForm,
    task_initial,
)

# --- The plan -------------------------------------------------------------------------------------


@member_required()
@require_http_methods(["GET", "HEAD"])
def plan_page(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = plan_onboarding_or_404(onboarding_id)
    context = plan_context(request, onboarding, board_context(request, onboarding))
    # htmx asks for the plan to put a row back (Cancel, Close): the body is enough, and a whole
    # page would carry a <style> with another response's nonce.
    template = "workspace/_milestone_groups.html" if request.htmx else "workspace/plan.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


# --- Tasks ----------------------------------------------------------------------------------------


@member_required(*EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def task_add(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = plan_onboarding_or_404(onboarding_id)
    if onboarding.status == Onboarding.Status.CLOSED:
        return refuse_closed(request, onboarding)
    if request.method == "GET":
        form = TaskForm(onboarding=onboarding, auto_id="add-task-%s")
        return render_fragment(request, onboarding, "workspace/_task_form.html", {"form": form})
    form = TaskForm(request.POST, onboarding=onboarding, auto_id="add-task-%s")
    if form.is_valid():
        try:
            task = plan.add_task(
                onboarding,
                form.changes(),
                depends_on=form.cleaned_data["depends_on"],
                by=request.user,
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return answer_saved(request, onboarding, f"Added “{task.title}”.", f"task-{task.pk}")
    return render_fragment(
        request, onboarding, "workspace/_task_form.html", {"form": form}, status=400
    )


def _your_version(form: TaskForm, current: Task) -> list[tuple[str, str]]:
    """What the refused form said where it differs from the saved task, to re-enter by hand."""
    data, theirs = form.cleaned_data, task_initial(current)
    out = []
    for name in ("title", "status", "blocked_reason", "due_date", "owner_side", "owner_contact"):
        if name not in data or name not in form.fields:
            continue
        mine = data[name]
        saved = theirs[name]
        mine_key = getattr(mine, "pk", mine)
        if (mine_key or "") == (saved or "") or (name == "blocked_reason" and not mine):
            continue
        field = form.fields[name]
        if isinstance(field, forms.ChoiceField) and not hasattr(field, "queryset"):
            shown = dict(field.choices).get(mine, mine)
        elif hasattr(mine, "strftime"):
            shown = f"{mine:%b} {mine.day}, {mine.year}"
        else:
            shown = str(mine) if mine is not None else "—"
        out.append((str(field.label or name.replace("_", " ").capitalize()), shown))
    return out


def _task_conflict(
    request: HttpRequest, onboarding: Onboarding, current: Task, submitted: TaskForm, dependents
) -> HttpResponse:
    current.onboarding = onboarding
    form = TaskForm(
        initial=task_initial(current),
        onboarding=onboarding,
        task=current,
        dependents=dependents,
        auto_id=f"edit-task-{current.pk}-%s",
    )
    context = {
        "form": form,
        "task": current,
        "conflict": TASK_CONFLICT,
        "yours": _your_version(submitted, current),
    }
    return render_fragment(request, onboarding, "workspace/_task_form.html", context, status=409)


def _row_response(
    request: HttpRequest, onboarding: Onboarding, task_id: int, notice: str
) -> HttpResponse:
    """The saved row in place, with its milestone's header (progress, achieved) out of band."""
    board = plan.plan_board(onboarding)
    for group in board.groups:
        for i, task in enumerate(group.tasks):
            if task.pk == task_id:
                context = plan_context(
                    request,
                    onboarding,
                    {"task": task, "first": i == 0, "last": i == len(group.tasks) - 1},
                )
                body = render_to_string("workspace/_task_row.html", context, request=request)
                if group.milestone is not None:
                    milestones = board.milestones
                    context.update(
                        milestone=group.milestone,
                        oob=True,
                        first=group.milestone.pk == milestones[0].pk,
                        last=group.milestone.pk == milestones[-1].pk,
                    )
                    body += render_to_string(
                        "workspace/_milestone_head.html", context, request=request
                    )
                return HttpResponse(body + status_line(notice))
    raise Http404  # pragma: no cover - the task was just saved in this request


@member_required(*EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def task_edit(request: HttpRequest, onboarding_id: int, task_id: int) -> HttpResponse:
    onboarding = plan_onboarding_or_404(onboarding_id)
    task = task_or_404(onboarding, task_id)
    if onboarding.status == Onboarding.Status.CLOSED:
        return refuse_closed(request, onboarding)
    dependents = len(plan.open_dependents(task))
    kwargs = {
        "onboarding": onboarding,
        "task": task,
        "dependents": dependents,
        "auto_id": f"edit-task-{task.pk}-%s",
    }
    if request.method == "GET":
        form = TaskForm(initial=task_initial(task), **kwargs)
        return render_fragment(
            request, onboarding, "workspace/_task_form.html", {"form": form, "task": task}
        )
    form = TaskForm(request.POST, **kwargs)
    form.fields["version"].required = True
    if form.is_valid():
        before = (task.title, task.due_date, task.milestone_id)
        before_deps = set(task.depends_on.values_list("pk", flat=True))
        try:
            saved, shifted = plan.edit_task(
                task,
                form.changes(),
                expected_version=form.cleaned_data["version"],
                depends_on=form.cleaned_data["depends_on"],
                shift_dependents=form.cleaned_data.get("shift_dependents", False),
                by=request.user,
            )
        except StaleVersion as exc:
            return _task_conflict(request, onboarding, exc.current, form, dependents)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            notice = f"Saved “{saved.title}”."
            if shifted:
                notice += f" {shifted} dependent task{'s' if shifted != 1 else ''} shifted too."
            # Only this row changed: send it back. Title, date, milestone or prerequisites
            # change other rows (their "waits for", order, group): send the whole plan.
            after = (saved.title, saved.due_date, saved.milestone_id)
            deps_changed = {d.pk for d in form.cleaned_data["depends_on"]} != before_deps
            if request.htmx and before == after and not shifted and not deps_changed:
                return _row_response(request, onboarding, saved.pk, notice)
            return answer_saved(request, onboarding, notice, f"task-{saved.pk}")
    return render_fragment(
        request, onboarding, "workspace/_task_form.html", {"form": form, "task": task}, status=400
    )


@member_required(*EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def task_date(request: HttpRequest, onboarding_id: int, task_id: int) -> HttpResponse:
    """Move a due date; the form lists the open tasks that wait for this one and offers to
    shift them by the same number of days before anything is saved."""
    onboarding = plan_onboarding_or_404(onboarding_id)
    task = task_or_404(onboarding, task_id)
    if onboarding.status == Onboarding.Status.CLOSED:
        return refuse_closed(request, onboarding)
    dependents = plan.open_dependents(task)
    kwargs = {"dependents": len(dependents), "auto_id": f"date-task-{task.pk}-%s"}
    if request.method == "GET":
        form = TaskDateForm(
            initial={"due_date": task.due_date, "version": task.version, "shift_dependents": True},
            **kwargs,
        )
    else:
        form = TaskDateForm(request.POST, **kwargs)
        if form.is_valid():
            try:
                task, shifted = plan.move_due_date(
                    task,
                    form.cleaned_data["due_date"],
                    shift_dependents=form.cleaned_data.get("shift_dependents", False),
                    expected_version=form.cleaned_data["version"],
                    by=request.user,
                )
            except StaleVersion as exc:
                current = exc.current
                current.onboarding = onboarding
                form = TaskDateForm(
                    initial={
                        "due_date": current.due_date,
                        "version": current.version,
                        "shift_dependents": True,
                    },
                    **kwargs,
                )
                context = {
                    "form": form,
                    "task": current,
                    "dependents": dependents,
                    "conflict": TASK_CONFLICT,
                }
                return render_fragment(
                    request, onboarding, "workspace/_task_date.html", context, status=409
                )
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                notice = f"“{task.title}” is now due {task.due_date:%b} {task.due_date.day}."
                if shifted:
                    notice += f" {shifted} dependent task{'s' if shifted != 1 else ''} shifted too."
                return answer_saved(request, onboarding, notice, f"task-{task.pk}")
    context = {"form": form, "task": task, "dependents": dependents}
    status = 200 if request.method == "GET" else 400
    return render_fragment(request, onboarding, "workspace/_task_date.html", context, status=status)


@member_required(*EDIT_ROLES)
@require_http_methods(["GET", "POST"])
def task_delete(request: HttpRequest, onboarding_id: int, task_id: int) -> HttpResponse:
    """GET asks (naming the tasks that depend on it); only a POST with confirm deletes."""
    onboarding = plan_onboarding_or_404(onboarding_id)
    task = task_or_404(onboarding, task_id)
    if onboarding.status == Onboarding.Status.CLOSED:
        return refuse_closed(request, onboarding)
    dependents = plan.direct_dependents(task)
    form = ConfirmForm(posted_data(request), initial={"confirm": True})
    if request.method == "POST" and form.is_valid():
        try:
            plan.delete_task(task, by=request.user, confirm_dependents=True)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            return answer_saved(request, onboarding, f"Deleted “{task.title}”.")
    context = {"form": form, "task": task, "dependents": dependents}
    status = 400 if request.method == "POST" else 200
    return render_fragment(
        request, onboarding, "workspace/_task_delete.html", context, status=status
    )


@member_required(*EDIT_ROLES)
@require_POST
def task_move(request: HttpRequest, onboarding_id: int, task_id: int) -> HttpResponse:
    onboarding = plan_onboarding_or_404(onboarding_id)
    task = task_or_404(onboarding, task_id)
    return move(
        request,
        onboarding,
        name=task.title,
        anchor=f"task-{task.pk}",
        mover=lambda direction: plan.move_task(task, direction, by=request.user),
    )


# --- Comments -------------------------------------------------------------------------------------


@member_required()
@require_http_methods(["GET", "POST"])
def task_comments(request: HttpRequest, onboarding_id: int, task_id: int) -> HttpResponse:
    """All of a task's comments, internal notes marked; admins and CSMs may add one."""
    onboarding = plan_onboarding_or_404(onboarding_id)
    task = task_or_404(onboarding, task_id)
    can_comment = can_edit_plan(request, onboarding)
    auto_id = f"comment-task-{task.pk}-%s"
    form = CommentForm(auto_id=auto_id)
    status = 200
    if request.method == "POST":
        if request.membership.role not in EDIT_ROLES:
            raise Http404
        if onboarding.status == Onboarding.Status.CLOSED:
            return refuse_closed(request, onboarding)
        form = CommentForm(request.POST, auto_id=auto_id)
        if form.is_valid():
            try:
                comment_services.add_staff_comment(
                    task,
                    request.user,
                    form.cleaned_data["body"],
                    internal=form.cleaned_data["internal"],
                )
            except PermissionDenied as exc:
                raise Http404 from exc
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                note = "internal note" if form.cleaned_data["internal"] else "comment"
                if not request.htmx:
                    messages.success(request, f"Your {note} was added.")
                    url = reverse(
                        "workspace:task-comments",
                        kwargs={"onboarding_id": onboarding.pk, "task_id": task.pk},
                    )
                    return redirect(url)
                form = CommentForm(auto_id=auto_id)
        if form.is_bound:
            status = 400
    context = {
        "task": task,
        "comments": selectors.task_comments(task, include_internal=True),
        "files": selectors.task_attachments(task),
        "form": form,
        "can_comment": can_comment,
    }
    return render_fragment(
        request, onboarding, "workspace/_task_comments.html", context, status=status
    )


@member_required()
@require_http_methods(["GET", "HEAD"])
def task_file(
    request: HttpRequest, onboarding_id: int, task_id: int, attachment_id: int
) -> HttpResponse:
    """A file the customer attached to a task, for every member of the team."""
    onboarding = plan_onboarding_or_404(onboarding_id)
    task = task_or_404(onboarding, task_id)
    attachment = task.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404
    return attachment_response(attachment)
