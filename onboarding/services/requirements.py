"""Step 3, the requirements intake: integrations, accounts and permissions, data migration, custom
configuration, security and compliance. Any item can become a task in the plan.

The task is created once (`RequirementItem.task` links them); later edits of the item do not
rewrite the task, because by then the task belongs to the plan and may have been discussed,
re-dated or reassigned there.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from onboarding.models import Contact, Onboarding, RequirementItem, Side, Task
from onboarding.services.activity import record
from onboarding.services.onboardings import ensure_open
from onboarding.services.tasks import create_task
from portal.tenancy.context import current_tenant

Category = RequirementItem.Category
SECURITY_ONLY = ("sso", "ip_allowlisting", "data_residency")


def clean_item(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    out = {
        "category": data.get("category") or "",
        "title": (data.get("title") or "").strip(),
        "details": (data.get("details") or "").strip(),
        "sso": bool(data.get("sso")),
        "ip_allowlisting": bool(data.get("ip_allowlisting")),
        "data_residency": (data.get("data_residency") or "").strip(),
    }
    if out["category"] not in Category.values:
        errors["category"] = "Choose a category."
    if not out["title"]:
        errors["title"] = "Name the requirement."
    elif len(out["title"]) > 300:
        errors["title"] = "At most 300 characters."
    if len(out["details"]) > 5000:
        errors["details"] = "At most 5000 characters."
    if len(out["data_residency"]) > 100:
        errors["data_residency"] = "At most 100 characters."
    if out["category"] != Category.SECURITY:
        # These answer security questions; on another category they would be silently ignored.
        for name, label in (
            ("sso", "SSO"),
            ("ip_allowlisting", "IP allowlisting"),
            ("data_residency", "Data residency"),
        ):
            if out[name]:
                errors[name] = f"{label} belongs to a Security and compliance item."
    if errors:
        raise ValidationError(errors)
    return out


@transaction.atomic
def add_requirement(onboarding: Onboarding, data: dict[str, Any], by: User) -> RequirementItem:
    ensure_open(onboarding)
    item = RequirementItem.objects.create(onboarding=onboarding, **clean_item(data))
    record(
        onboarding,
        by,
        f'{by.get_full_name()} added the requirement "{item.title}" '
        f"({item.get_category_display().lower()})",
    )
    return item


@transaction.atomic
def update_requirement(item: RequirementItem, data: dict[str, Any], by: User) -> RequirementItem:
    ensure_open(item.onboarding)
    values = clean_item(data)
    changed = [k for k, v in values.items() if getattr(item, k) != v]
    if changed:
        for k in changed:
            setattr(item, k, values[k])
        item.save(update_fields=changed)
        record(item.onboarding, by, f'{by.get_full_name()} updated the requirement "{item.title}"')
    return item


@transaction.atomic
def delete_requirement(item: RequirementItem, by: User) -> None:
    ensure_open(item.onboarding)
    title, onboarding = item.title, item.onboarding
    item.delete()  # its task, if any, stays in the plan
    record(onboarding, by, f'{by.get_full_name()} removed the requirement "{title}"')


def task_description(item: RequirementItem) -> str:
    lines = [f"From the requirements intake ({item.get_category_display()})."]
    if item.details:
        lines.append(item.details)
    if item.category == Category.SECURITY:
        specifics = [
            label
            for flag, label in ((item.sso, "SSO"), (item.ip_allowlisting, "IP allowlisting"))
            if flag
        ]
        if item.data_residency:
            specifics.append(f"data residency: {item.data_residency}")
        if specifics:
            lines.append("Needs " + ", ".join(specifics) + ".")
    return "\n\n".join(lines)


def make_task(
    item: RequirementItem,
    by: User,
    *,
    owner_side: str,
    owner_contact: Contact | int | None = None,
    due_date: dt.date | None,
) -> Task:
    """Put the requirement into the plan as a task (once). The owner is a side, optionally a
    named contact of that side; the due date is a local date, today or later."""
    onboarding = item.onboarding
    ensure_open(onboarding)
    errors: dict[str, str] = {}
    contact = None
    if owner_contact is not None:
        pk = owner_contact.pk if isinstance(owner_contact, Contact) else owner_contact
        contact = Contact.objects.filter(onboarding=onboarding, pk=pk).first()
        if contact is None:
            errors["owner"] = "Choose an owner among this onboarding's contacts."
        else:
            owner_side = contact.side
    if owner_side not in Side.values:
        errors["owner"] = "Choose who owns the task."
    if due_date is None:
        errors["due_date"] = "Give the task a due date."
    elif due_date < current_tenant().local_today():
        errors["due_date"] = "The due date is in the past."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # Locked: two clicks on "make a task" must not put the item in the plan twice.
        locked = RequirementItem.objects.select_for_update().get(pk=item.pk)
        if locked.task_id is not None:
            raise ValidationError("This requirement is already a task in the plan.")
        task = create_task(
            onboarding,
            title=item.title,
            description=task_description(item),
            owner_side=owner_side,
            owner_contact=contact,
            due_date=due_date,
        )
        # Conditional as well, for databases without row locks (SQLite): the loser rolls back.
        if RequirementItem.objects.filter(pk=item.pk, task__isnull=True).update(task=task) != 1:
            raise ValidationError("This requirement is already a task in the plan.")
        item.task = task
        owner = contact.name if contact else f"the {Side(owner_side).label.lower()} side"
        record(
            onboarding,
            by,
            f'{by.get_full_name()} put the requirement "{item.title}" in the '
            f"plan for {owner}, due {due_date:%b %-d}",
        )
        return task
