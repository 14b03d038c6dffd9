"""Writes to the mutual action plan. The workspace, the portal and the API all come through here."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from onboarding.models import Onboarding, Task
from portal.tenancy.context import current_tenant


class StaleVersion(Exception):
    def __init__(self, current: Task):
        super().__init__("The task changed since you loaded it.")
        self.current = current


PLAN_CLOSED = "This onboarding is closed; its plan is read-only."


def ensure_plan_open(onboarding: Onboarding) -> None:
    if onboarding.status == Onboarding.Status.CLOSED:
        raise ValidationError(PLAN_CLOSED)


def _check_status(status: str, blocked_reason: str) -> None:
    if status == Task.Status.BLOCKED and not blocked_reason.strip():
        raise ValidationError({"blocked_reason": "Say what blocks the task."})


def wrong_side(side: str) -> str:
    return f"Choose a person on the {side} side, or nobody."


def _check_owner(side: str, contact) -> None:
    """A task's named owner sits on its owner side: a vendor task names one of the vendor's
    people, whom reminders then reach, never a customer's contact (or the other way round)."""
    if contact is not None and contact.side != side:
        raise ValidationError({"owner_contact": wrong_side(side)})


@transaction.atomic
def create_task(onboarding: Onboarding, *, depends_on: list[Task] | None = None, **fields) -> Task:
    ensure_plan_open(onboarding)
    _check_status(fields.get("status", Task.Status.NOT_STARTED), fields.get("blocked_reason", ""))
    task = Task(onboarding=onboarding, **fields)
    _check_owner(task.owner_side, task.owner_contact)
    if task.status == Task.Status.COMPLETE:
        task.completed_at = timezone.now()
    if task.status == Task.Status.BLOCKED:
        task.blocked_on = current_tenant().local_today()
    task.save()
    if depends_on:
        from onboarding.services.plan import validate_prerequisites  # plan imports this module

        validate_prerequisites(task, depends_on)
        task.depends_on.set(depends_on)
    _refresh_milestones({task.milestone_id})
    return task


def _refresh_milestones(milestone_ids: set[int | None]) -> None:
    """A milestone is achieved when its tasks are done, whoever finishes the last one (the CSM in
    the workspace, the client in the portal, a script through the API)."""
    from onboarding.services.plan import refresh_milestone

    for milestone_id in milestone_ids - {None}:
        refresh_milestone(milestone_id)


@transaction.atomic
def update_task(
    task: Task,
    changes: dict[str, Any],
    *,
    expected_version: int | None = None,
    depends_on: list[Task] | None = None,
) -> Task:
    """Apply changes if nobody saved the task since `expected_version`; else raise StaleVersion."""
    ensure_plan_open(task.onboarding)
    # Only a change of owner is checked (and only then is the contact loaded): a row saved back
    # as it was (an API round trip, a status change) goes through even if its contact has since
    # moved sides in the stakeholder editor.
    side = changes.get("owner_side", task.owner_side)
    new_contact = "owner_contact" in changes and (
        getattr(changes["owner_contact"], "pk", None) != task.owner_contact_id
    )
    if new_contact or side != task.owner_side:
        _check_owner(
            side, changes["owner_contact"] if "owner_contact" in changes else task.owner_contact
        )
    status = changes.get("status", task.status)
    reason = changes.get("blocked_reason", task.blocked_reason if status == "blocked" else "")
    _check_status(status, reason)
    if status != Task.Status.BLOCKED:
        changes["blocked_reason"] = ""
        changes["blocked_on"] = None
    elif task.status != Task.Status.BLOCKED:
        # The local calendar day it became blocked: escalation counts whole days from it.
        changes["blocked_on"] = current_tenant().local_today()
    if status == Task.Status.COMPLETE and task.status != Task.Status.COMPLETE:
        changes["completed_at"] = timezone.now()
    elif status != Task.Status.COMPLETE:
        changes["completed_at"] = None
    qs = Task.objects.filter(pk=task.pk)
    if expected_version is not None:
        qs = qs.filter(version=expected_version)
    if qs.update(version=F("version") + 1, **changes) != 1:
        raise StaleVersion(Task.objects.get(pk=task.pk))
    if depends_on is not None:
        from onboarding.services.plan import validate_prerequisites  # plan imports this module

        validate_prerequisites(task, depends_on)
        task.depends_on.set(depends_on)
    previous_milestone = task.milestone_id
    task.refresh_from_db()
    if {"status", "milestone", "milestone_id"} & set(changes):
        _refresh_milestones({previous_milestone, task.milestone_id})
    return task
