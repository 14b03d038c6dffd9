"""The mutual action plan editor: milestones, task order, dependencies, date moves, achievement.

Every function takes the acting user (`by`) and the objects explicitly and runs inside the
caller's tenant scope. Each one is a single transaction that records its activity entry, so a
refused change leaves nothing behind.

Task field rules (blocked needs a reason, completion time, versions) stay in services.tasks;
these wrappers call create_task/update_task and add what the editor needs around them:

* Structural edits of one onboarding's plan (dependencies, positions, date shifts) lock the
  onboarding row first, so two editors cannot each add half of a dependency loop, and a plan
  closed a moment ago is seen as closed.
* The dependency graph is checked for loops over all of the onboarding's dependency rows, read
  in one query; the old graph has no loop, so only paths back to the edited task can close one.
* Moving a due date can shift every open task that (transitively) depends on the task by the
  same number of days, in one UPDATE; shifted tasks get a new version, so a form opened on one
  of them before the shift is refused instead of writing the old date back.
* A milestone is achieved when all of its tasks are complete: refresh_milestone() sets or clears
  `achieved_at` and must run after anything that changes a task's status or milestone.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Case, Count, F, Max, Prefetch, Q, When
from django.db.models.expressions import ExpressionWrapper
from django.db.models.fields import DateField, PositiveIntegerField
from django.utils import timezone
from django.utils.formats import date_format

from accounts.models import User
from onboarding.models import (
    CalendarTombstone,
    Contact,
    Milestone,
    Onboarding,
    Task,
    TaskDependency,
)
from onboarding.services.activity import record
from onboarding.services.tasks import (
    PLAN_CLOSED,
    StaleVersion,
    create_task,
    update_task,
    wrong_side,
)
from portal.tenancy.context import current_tenant

CLOSED = PLAN_CLOSED
MILESTONE_CHANGED = "This milestone changed since you opened it."
UNKNOWN_TASK = "Choose tasks of this plan."
UNKNOWN_MILESTONE = "Choose a milestone of this plan."
UNKNOWN_CONTACT = "Choose a person of this onboarding."
MAX_SHIFT_DAYS = 3650

__all__ = [
    "CLOSED",
    "StaleMilestone",
    "StaleVersion",
    "add_milestone",
    "add_task",
    "delete_milestone",
    "delete_task",
    "dependency_edges",
    "direct_dependents",
    "edit_milestone",
    "edit_task",
    "milestone_progress",
    "move_due_date",
    "move_milestone",
    "move_task",
    "open_dependents",
    "plan_board",
    "refresh_milestone",
    "set_dependencies",
    "validate_prerequisites",
]


class StaleMilestone(Exception):
    """The milestone was saved by someone else since the form was opened."""

    def __init__(self, current: Milestone):
        super().__init__(MILESTONE_CHANGED)
        self.current = current


# --- Helpers ------------------------------------------------------------------------------------


def _name(user: User | None) -> str:
    if user is None or not getattr(user, "is_authenticated", False):
        return "Someone"
    return user.get_full_name()


def _day(value: dt.date) -> str:
    return date_format(value, "M j")


def _lock_open(onboarding: Onboarding) -> None:
    """Lock the onboarding row for the rest of the transaction and refuse a closed plan.

    Plan edits of one onboarding queue up behind each other here; the status read under the lock
    also catches an onboarding closed after the page was loaded.
    """
    status = (
        Onboarding.objects.select_for_update()
        .filter(pk=onboarding.pk)
        .values_list("status", flat=True)
        .first()
    )
    if status is None or status == Onboarding.Status.CLOSED:
        raise ValidationError(CLOSED)


def _days(delta: int) -> str:
    sign = "+" if delta > 0 else "−"
    return f"{sign}{abs(delta)} day{'s' if abs(delta) != 1 else ''}"


def _check_refs(onboarding: Onboarding, fields: dict[str, Any]) -> None:
    """Milestone and owner must belong to this onboarding; the owner sits on the owner side."""
    errors: dict[str, str] = {}
    milestone = fields.get("milestone")
    if milestone is not None and milestone.onboarding_id != onboarding.pk:
        errors["milestone"] = UNKNOWN_MILESTONE
    contact: Contact | None = fields.get("owner_contact")
    if contact is not None:
        if contact.onboarding_id != onboarding.pk:
            errors["owner_contact"] = UNKNOWN_CONTACT
        elif "owner_side" in fields and contact.side != fields["owner_side"]:
            errors["owner_contact"] = wrong_side(fields["owner_side"])
    if errors:
        raise ValidationError(errors)


# --- The dependency graph -----------------------------------------------------------------------


def dependency_edges(onboarding: Onboarding) -> list[tuple[int, int]]:
    """(task_id, depends_on_id) of every dependency in the onboarding's plan: one query."""
    return list(
        TaskDependency.objects.filter(task__onboarding=onboarding).values_list(
            "task_id", "depends_on_id"
        )
    )


def _find_loop(
    edges: list[tuple[int, int]], task_id: int, new_depends_on: Iterable[int]
) -> list[int] | None:
    """The ids along a loop that `task_id` depending on `new_depends_on` would close, or None.

    Breadth-first from each new prerequisite along "depends on" edges: reaching task_id again
    means the task would (indirectly) wait for itself. Returns [task, d, ..., task].
    """
    graph: dict[int, list[int]] = {}
    for task, prerequisite in edges:
        if task != task_id:  # the task's own edges are being replaced
            graph.setdefault(task, []).append(prerequisite)
    for start in new_depends_on:
        came_from: dict[int, int | None] = {start: None}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if node == task_id:
                path = [node]
                while came_from[path[-1]] is not None:
                    path.append(came_from[path[-1]])
                return [task_id, *reversed(path)]
            for nxt in graph.get(node, ()):
                if nxt not in came_from:
                    came_from[nxt] = node
                    queue.append(nxt)
    return None


def _transitive_dependents(edges: list[tuple[int, int]], task_id: int) -> set[int]:
    dependents: dict[int, list[int]] = {}
    for task, prerequisite in edges:
        dependents.setdefault(prerequisite, []).append(task)
    seen: set[int] = set()
    queue = deque([task_id])
    while queue:
        for nxt in dependents.get(queue.popleft(), ()):
            if nxt not in seen and nxt != task_id:
                seen.add(nxt)
                queue.append(nxt)
    return seen


def direct_dependents(task: Task) -> list[Task]:
    """Tasks that name this one as a prerequisite, for the delete confirmation."""
    ids = TaskDependency.objects.filter(depends_on=task).values_list("task_id", flat=True)
    return list(Task.objects.filter(pk__in=ids).order_by("due_date", "position", "id"))


def open_dependents(task: Task) -> list[Task]:
    """Every open task that waits for this one, directly or through others: two queries.

    These are the tasks a date move offers to shift. Completed ones keep their dates: they
    record when the work was due.
    """
    ids = _transitive_dependents(dependency_edges(task.onboarding), task.pk)
    return list(
        Task.objects.filter(pk__in=ids)
        .exclude(status=Task.Status.COMPLETE)
        .order_by("due_date", "position", "id")
    )


def validate_prerequisites(task: Task, depends_on: Iterable[Task | int]) -> list[int]:
    """Ids of the prerequisites, all tasks of the same onboarding, no loop. Raises otherwise.

    Another onboarding's task (or another tenant's: the scoped manager cannot see it) answers
    exactly like an id that does not exist.
    """
    wanted = {d.pk if isinstance(d, Task) else int(d) for d in depends_on}
    if task.pk in wanted:
        raise ValidationError({"depends_on": "A task cannot depend on itself."})
    found = set(task.onboarding.tasks.filter(pk__in=wanted).values_list("pk", flat=True))
    if found != wanted:
        raise ValidationError({"depends_on": UNKNOWN_TASK})
    loop = _find_loop(dependency_edges(task.onboarding), task.pk, sorted(wanted))
    if loop is not None:
        titles = dict(Task.objects.filter(pk__in=set(loop)).values_list("pk", "title"))
        chain = " → ".join(f"“{titles[i]}”" for i in loop)
        raise ValidationError(
            {
                "depends_on": (
                    f"That would make a loop: {chain}. Each of these would wait for the next, "
                    "so none could start."
                )
            }
        )
    return sorted(wanted)


def _replace_prerequisites(task: Task, wanted: list[int]) -> tuple[set[int], set[int]]:
    current = set(TaskDependency.objects.filter(task=task).values_list("depends_on_id", flat=True))
    added, removed = set(wanted) - current, current - set(wanted)
    if removed:
        TaskDependency.objects.filter(task=task, depends_on_id__in=removed).delete()
    if added:
        TaskDependency.objects.bulk_create(
            TaskDependency(task=task, depends_on_id=i) for i in sorted(added)
        )
    return added, removed


def _dependency_sentence(task: Task, added: set[int], removed: set[int]) -> str:
    titles = dict(Task.objects.filter(pk__in=added | removed).values_list("pk", "title"))
    parts = []
    if added:
        parts.append("now depends on " + ", ".join(f"“{titles[i]}”" for i in sorted(added)))
    if removed:
        parts.append("no longer on " + ", ".join(f"“{titles[i]}”" for i in sorted(removed)))
    return f"“{task.title}” " + "; ".join(parts)


@transaction.atomic
def set_dependencies(
    task: Task,
    depends_on: Iterable[Task | int],
    *,
    by: User | None,
    expected_version: int | None = None,
) -> Task:
    """Make `task` depend on exactly `depends_on`. Refuses loops and tasks of other plans.

    A change of prerequisites is a change of the task: its version goes up, and a stale
    expected_version raises StaleVersion.
    """
    _lock_open(task.onboarding)
    wanted = validate_prerequisites(task, depends_on)
    bumped = Task.objects.filter(pk=task.pk)
    if expected_version is not None:
        bumped = bumped.filter(version=expected_version)
    if bumped.update(version=F("version") + 1) != 1:
        raise StaleVersion(Task.objects.get(pk=task.pk))
    added, removed = _replace_prerequisites(task, wanted)
    if added or removed:
        record(task.onboarding, by, f"{_name(by)}: {_dependency_sentence(task, added, removed)}.")
    task.refresh_from_db()
    return task


# --- Dates --------------------------------------------------------------------------------------


def _shift_open_dependents(task: Task, delta: dt.timedelta) -> int:
    """Shift every open transitive dependent by `delta` in one UPDATE; returns how many."""
    ids = _transitive_dependents(dependency_edges(task.onboarding), task.pk)
    if not ids or not delta:
        return 0
    return (
        Task.objects.filter(pk__in=ids)
        .exclude(status=Task.Status.COMPLETE)
        .update(
            due_date=ExpressionWrapper(F("due_date") + delta, output_field=DateField()),
            version=F("version") + 1,
        )
    )


def _check_shift(old: dt.date, new: dt.date) -> None:
    if abs((new - old).days) > MAX_SHIFT_DAYS:
        raise ValidationError({"due_date": "That is more than ten years from the current date."})


@transaction.atomic
def move_due_date(
    task: Task,
    new_date: dt.date,
    *,
    shift_dependents: bool,
    expected_version: int | None,
    by: User | None,
) -> tuple[Task, int]:
    """Move the task to `new_date`; with shift_dependents, every open task that waits for it
    (directly or not) moves by the same number of days. Returns (task, number shifted)."""
    _lock_open(task.onboarding)
    old = task.due_date
    _check_shift(old, new_date)
    task = update_task(task, {"due_date": new_date}, expected_version=expected_version)
    delta = new_date - old
    shifted = _shift_open_dependents(task, delta) if shift_dependents else 0
    text = f"{_name(by)} moved “{task.title}” from {_day(old)} to {_day(new_date)}"
    if shifted:
        text += (
            f", and {shifted} dependent task{'s' if shifted != 1 else ''} by {_days(delta.days)}"
        )
    record(task.onboarding, by, text + ".")
    return task, shifted


# --- Tasks --------------------------------------------------------------------------------------

_TASK_FIELDS = (
    "title",
    "description",
    "milestone",
    "owner_side",
    "owner_contact",
    "due_date",
    "status",
    "blocked_reason",
)


def _next_position(queryset) -> int:
    top = queryset.aggregate(top=Max("position"))["top"]
    return 0 if top is None else top + 1


@transaction.atomic
def add_task(
    onboarding: Onboarding,
    fields: dict[str, Any],
    *,
    depends_on: Iterable[Task | int] = (),
    by: User | None,
) -> Task:
    """A new task at the end of its milestone's list. A new task has no dependents, so its
    prerequisites cannot close a loop; they are still checked to be of this plan."""
    _lock_open(onboarding)
    fields = {k: v for k, v in fields.items() if k in _TASK_FIELDS}
    _check_refs(onboarding, fields)
    wanted = {d.pk if isinstance(d, Task) else int(d) for d in depends_on}
    if wanted and onboarding.tasks.filter(pk__in=wanted).count() != len(wanted):
        raise ValidationError({"depends_on": UNKNOWN_TASK})
    fields["position"] = _next_position(
        onboarding.tasks.filter(milestone_id=getattr(fields.get("milestone"), "pk", None))
    )
    task = create_task(onboarding, **fields)
    if wanted:
        TaskDependency.objects.bulk_create(
            TaskDependency(task=task, depends_on_id=i) for i in sorted(wanted)
        )
    record(onboarding, by, f"{_name(by)} added “{task.title}” (due {_day(task.due_date)}).")
    refresh_milestone(task.milestone_id, by=by)
    return task


def _change_sentence(before: Task, after: Task) -> str:
    parts = []
    if before.title != after.title:
        parts.append(f"renamed it from “{before.title}”")
    if before.status != after.status:
        parts.append(f"status {after.get_status_display()}")
        if after.status == Task.Status.BLOCKED:
            parts[-1] += f" ({after.blocked_reason})"
    elif after.status == Task.Status.BLOCKED and before.blocked_reason != after.blocked_reason:
        parts.append(f"blocked: {after.blocked_reason}")
    if before.due_date != after.due_date:
        parts.append(f"due {_day(before.due_date)} → {_day(after.due_date)}")
    if before.owner_side != after.owner_side or before.owner_contact_id != after.owner_contact_id:
        who = after.owner_contact.name if after.owner_contact_id else "nobody named"
        parts.append(f"owner {after.get_owner_side_display().lower()} side, {who}")
    if before.milestone_id != after.milestone_id:
        parts.append(f"milestone {after.milestone.name if after.milestone_id else 'none'}")
    if before.description != after.description:
        parts.append("description")
    return ", ".join(parts)


@transaction.atomic
def edit_task(
    task: Task,
    changes: dict[str, Any],
    *,
    expected_version: int | None,
    depends_on: Iterable[Task | int] | None = None,
    shift_dependents: bool = False,
    by: User | None,
) -> tuple[Task, int]:
    """Save the task form: fields, prerequisites, and optionally shift dependents when the due
    date moved. All or nothing; raises ValidationError or StaleVersion. Returns (task, shifted)."""
    onboarding = task.onboarding
    _lock_open(onboarding)
    changes = {k: v for k, v in changes.items() if k in _TASK_FIELDS}
    _check_refs(onboarding, {"owner_side": task.owner_side, **changes})
    wanted = validate_prerequisites(task, depends_on) if depends_on is not None else None
    if "due_date" in changes:
        _check_shift(task.due_date, changes["due_date"])
    before = Task(**{f.attname: getattr(task, f.attname) for f in Task._meta.concrete_fields})
    # update_task refuses a stale version before anything is written.
    updated = update_task(task, changes, expected_version=expected_version)
    if "milestone" in changes or "owner_contact" in changes:
        updated = Task.objects.select_related("milestone", "owner_contact").get(pk=task.pk)
    updated.onboarding = onboarding
    added: set[int] = set()
    removed: set[int] = set()
    if wanted is not None:
        added, removed = _replace_prerequisites(updated, wanted)
    delta = updated.due_date - before.due_date
    shifted = _shift_open_dependents(updated, delta) if shift_dependents and delta else 0
    sentence = _change_sentence(before, updated)
    if added or removed:
        extra = _dependency_sentence(updated, added, removed).split("” ", 1)[1]
        sentence = f"{sentence}, {extra}" if sentence else extra
    if shifted:
        sentence += (
            f", and shifted {shifted} dependent task{'s' if shifted != 1 else ''} "
            f"by {_days(delta.days)}"
        )
    record(onboarding, by, f"{_name(by)} changed “{updated.title}”: {sentence or 'saved'}.")
    for milestone_id in {before.milestone_id, updated.milestone_id}:
        refresh_milestone(milestone_id, by=by)
    return updated, shifted


@transaction.atomic
def delete_task(task: Task, *, by: User | None, confirm_dependents: bool = False) -> None:
    """Delete the task with its comments, files and dependency rows. Tasks that depended on it
    lose that prerequisite, so the caller must confirm when there are any."""
    onboarding = task.onboarding
    _lock_open(onboarding)
    dependents = direct_dependents(task)
    if dependents and not confirm_dependents:
        names = ", ".join(f"“{t.title}”" for t in dependents)
        raise ValidationError(f"{names} depend{'s' if len(dependents) == 1 else ''} on this task.")
    files = [a.file.name for a in task.attachments.all() if a.file]
    milestone_id, title = task.milestone_id, task.title
    storage = task.attachments.model._meta.get_field("file").storage
    task.delete()  # cascades: dependency rows both ways, comments, attachments, reminders
    text = f"{_name(by)} deleted “{title}”"
    if dependents:
        text += f" ({len(dependents)} task{'s' if len(dependents) != 1 else ''} depended on it)"
    record(onboarding, by, text + ".")
    refresh_milestone(milestone_id, by=by)

    def remove_files() -> None:  # only once the rows are gone for good
        for name in files:
            storage.delete(name)

    transaction.on_commit(remove_files)


def _renumber(model, ordered_ids: list[int], current: dict[int, int]) -> None:
    """Give rows positions 0..n-1 in this order, in one UPDATE of the rows that move."""
    moved = {pk: i for i, pk in enumerate(ordered_ids) if current.get(pk) != i}
    if moved:
        model.objects.filter(pk__in=moved).update(
            position=Case(
                *(When(pk=pk, then=i) for pk, i in moved.items()),
                default=F("position"),
                output_field=PositiveIntegerField(),
            )
        )


def _swap(ordered: list[tuple[int, int]], pk: int, direction: str) -> list[int] | None:
    ids = [row[0] for row in ordered]
    i = ids.index(pk)
    j = i - 1 if direction == "up" else i + 1
    if direction not in ("up", "down") or not 0 <= j < len(ids):
        return None
    ids[i], ids[j] = ids[j], ids[i]
    return ids


@transaction.atomic
def move_task(task: Task, direction: str, *, by: User | None) -> bool:
    """Move the task one place up or down within its milestone's list. False at either end.

    The order is a list order only: it changes no content, so it does not bump the version
    (a form opened on the task stays valid).
    """
    _lock_open(task.onboarding)
    ordered = list(
        task.onboarding.tasks.filter(milestone_id=task.milestone_id)
        .order_by("position", "id")
        .values_list("pk", "position")
    )
    ids = _swap(ordered, task.pk, direction)
    if ids is None:
        return False
    _renumber(Task, ids, dict(ordered))
    record(task.onboarding, by, f"{_name(by)} moved “{task.title}” {direction} in the plan.")
    return True


# --- Milestones ---------------------------------------------------------------------------------

_MILESTONE_FIELDS = ("name", "success_criteria", "due_date", "is_first_value")


def milestone_progress(onboarding: Onboarding) -> list[Milestone]:
    """The onboarding's milestones in plan order, each with task_total and task_done: one query."""
    return list(
        onboarding.milestones.annotate(
            task_total=Count("tasks"),
            task_done=Count("tasks", filter=Q(tasks__status=Task.Status.COMPLETE)),
        ).order_by("position", "due_date", "id")
    )


def refresh_milestone(milestone: Milestone | int | None, *, by: User | None = None) -> str | None:
    """Achieve the milestone when all of its tasks are complete; un-achieve it when one reopens.

    Returns "achieved", "reopened" or None (no change). Idempotent: call it after every change
    of a task's status or milestone (several calls in one transaction are harmless). The row is
    locked first, so two tasks completed at the same moment cannot each miss the other. A
    milestone without tasks keeps whatever it has: there is nothing to decide it from.
    """
    milestone_id = milestone.pk if isinstance(milestone, Milestone) else milestone
    if milestone_id is None:
        return None
    with transaction.atomic():
        row = (
            Milestone.objects.select_for_update()
            .filter(pk=milestone_id)
            .select_related("onboarding")
            .first()
        )
        if row is None:
            return None
        counts = Task.objects.filter(milestone_id=milestone_id).aggregate(
            total=Count("id"), done=Count("id", filter=Q(status=Task.Status.COMPLETE))
        )
        if not counts["total"]:
            return None
        all_done = counts["done"] == counts["total"]
        if all_done and row.achieved_at is None:
            Milestone.objects.filter(pk=milestone_id).update(achieved_at=timezone.now())
            record(row.onboarding, by, f"Milestone “{row.name}” achieved: all its tasks are done.")
            return "achieved"
        if not all_done and row.achieved_at is not None:
            Milestone.objects.filter(pk=milestone_id).update(achieved_at=None)
            record(row.onboarding, by, f"Milestone “{row.name}” reopened: a task is open again.")
            return "reopened"
    return None


def _clean_milestone(fields: dict[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in fields.items() if k in _MILESTONE_FIELDS}
    if "name" in fields:
        fields["name"] = (fields["name"] or "").strip()
        if not fields["name"]:
            raise ValidationError({"name": "Name the milestone."})
    if "due_date" in fields and fields["due_date"] is None:
        raise ValidationError({"due_date": "Give the milestone a date."})
    return fields


@transaction.atomic
def add_milestone(onboarding: Onboarding, fields: dict[str, Any], *, by: User | None) -> Milestone:
    _lock_open(onboarding)
    fields = _clean_milestone(fields)
    milestone = Milestone.objects.create(
        onboarding=onboarding, position=_next_position(onboarding.milestones.all()), **fields
    )
    record(
        onboarding,
        by,
        f"{_name(by)} added the milestone “{milestone.name}” ({_day(milestone.due_date)}).",
    )
    return milestone


@transaction.atomic
def edit_milestone(
    milestone: Milestone,
    changes: dict[str, Any],
    *,
    expected_sequence: int | None,
    by: User | None,
) -> Milestone:
    """Save the milestone form. Every edit changes what its calendar event shows, so the
    calendar SEQUENCE (ics_sequence) goes up; it doubles as the milestone's version: a form
    opened before someone else's save raises StaleMilestone."""
    onboarding = milestone.onboarding
    _lock_open(onboarding)
    changes = _clean_milestone(changes)
    rows = Milestone.objects.filter(pk=milestone.pk)
    if expected_sequence is not None:
        rows = rows.filter(ics_sequence=expected_sequence)
    if not rows.update(ics_sequence=F("ics_sequence") + 1, **changes):
        raise StaleMilestone(Milestone.objects.get(pk=milestone.pk))
    parts = []
    if "name" in changes and changes["name"] != milestone.name:
        parts.append(f"renamed it from “{milestone.name}”")
    if "due_date" in changes and changes["due_date"] != milestone.due_date:
        parts.append(f"moved it from {_day(milestone.due_date)} to {_day(changes['due_date'])}")
    if changes.get("success_criteria", milestone.success_criteria) != milestone.success_criteria:
        parts.append("changed its success criteria")
    if changes.get("is_first_value", milestone.is_first_value) != milestone.is_first_value:
        parts.append("first value" if changes["is_first_value"] else "no longer first value")
    milestone.refresh_from_db()
    record(
        onboarding,
        by,
        f"{_name(by)} changed the milestone “{milestone.name}”: {', '.join(parts) or 'saved'}.",
    )
    return milestone


@transaction.atomic
def delete_milestone(milestone: Milestone, *, by: User | None) -> int:
    """Delete the milestone; its tasks stay in the plan without one. Returns how many.

    Calendars that imported it get a cancellation: a tombstone keeps its UID and a SEQUENCE
    above the last one published.
    """
    from onboarding.calendar_events import milestone_uid

    onboarding = milestone.onboarding
    _lock_open(onboarding)
    loose = Task.objects.filter(milestone=milestone).update(milestone=None)
    CalendarTombstone.objects.create(
        onboarding=onboarding,
        uid=milestone_uid(milestone, current_tenant()),
        sequence=milestone.ics_sequence + 1,
        summary=f"{milestone.name} ({onboarding.name})"[:300],
        starts_on=milestone.due_date,
    )
    name = milestone.name
    milestone.delete()
    text = f"{_name(by)} deleted the milestone “{name}”"
    if loose:
        text += f"; its {loose} task{'s' if loose != 1 else ''} stay in the plan"
    record(onboarding, by, text + ".")
    return loose


@transaction.atomic
def move_milestone(milestone: Milestone, direction: str, *, by: User | None) -> bool:
    """Move the milestone one place up or down in the plan. False at either end."""
    _lock_open(milestone.onboarding)
    ordered = list(
        milestone.onboarding.milestones.order_by("position", "due_date", "id").values_list(
            "pk", "position"
        )
    )
    ids = _swap(ordered, milestone.pk, direction)
    if ids is None:
        return False
    _renumber(Milestone, ids, dict(ordered))
    record(
        milestone.onboarding,
        by,
        f"{_name(by)} moved the milestone “{milestone.name}” {direction} in the plan.",
    )
    return True


# --- Reading the plan for the editor -----------------------------------------------------------


@dataclass
class PlanGroup:
    milestone: Milestone | None  # None: the tasks without a milestone
    tasks: list[Task]
    first: bool = False  # the first / last milestone: nothing to move it past
    last: bool = False


@dataclass
class PlanBoard:
    groups: list[PlanGroup]
    milestones: list[Milestone]
    task_count: int
    today: dt.date


def plan_board(onboarding: Onboarding, *, today: dt.date | None = None) -> PlanBoard:
    """The editor's view of the plan: milestones in order with their tasks in list order, each
    task with its prerequisites, how many tasks wait for it and its comment count. Three queries
    whatever the size of the plan."""
    today = today or current_tenant().local_today()
    milestones = milestone_progress(onboarding)
    tasks = list(
        onboarding.tasks.select_related("owner_contact")
        .annotate(
            comment_count=Count("comments", distinct=True),
            file_count=Count("attachments", distinct=True),
        )
        .prefetch_related(
            Prefetch(
                "depends_on",
                queryset=Task.objects.only("id", "title", "status", "due_date").order_by(
                    "due_date", "id"
                ),
            )
        )
        .order_by("position", "id")
    )
    waiting: dict[int, int] = {}
    for task in tasks:
        for prerequisite in task.depends_on.all():
            waiting[prerequisite.pk] = waiting.get(prerequisite.pk, 0) + 1
    by_milestone: dict[int | None, list[Task]] = {}
    for task in tasks:
        task.dependent_count = waiting.get(task.pk, 0)
        task.is_overdue = task.is_open and task.due_date < today
        task.onboarding = onboarding
        by_milestone.setdefault(task.milestone_id, []).append(task)
    groups = [
        PlanGroup(m, by_milestone.get(m.pk, []), i == 0, i == len(milestones) - 1)
        for i, m in enumerate(milestones)
    ]
    groups.append(PlanGroup(None, by_milestone.get(None, [])))
    return PlanBoard(groups=groups, milestones=milestones, task_count=len(tasks), today=today)
