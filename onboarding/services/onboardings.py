"""An onboarding's own fields (name, customer, model, start date, owner) as the API sets them:
a new one starts from its model's default playbook, like an import; changes are logged. The
phase moves only through services.phases and the close review."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet

from accounts.models import Role, Tenant, User
from onboarding.models import Onboarding, Playbook, TouchModel
from onboarding.services.activity import record
from onboarding.services.playbooks import start_onboarding

CLOSED = "This onboarding is closed; it is read-only."
OWNER_ROLES = (Role.ADMIN, Role.CSM)
NOT_AN_OWNER = "Choose an active admin or CSM of this workspace."
FIELDS = {
    "name": "name",
    "customer": "customer",
    "model": "model",
    "start_date": "start date",
    "owner": "owner",
}


def ensure_open(onboarding: Onboarding) -> None:
    """A closed onboarding is read-only: its steps, people and plan stay as they were at the
    close (the close review, the success metrics and the client's portal all read them)."""
    if onboarding.status == Onboarding.Status.CLOSED:
        raise ValidationError(CLOSED)


def possible_owners(tenant: Tenant) -> QuerySet[User]:
    """Who may run an onboarding: the tenant's active admins and CSMs."""
    return User.objects.filter(
        is_active=True, memberships__tenant=tenant, memberships__role__in=OWNER_ROLES
    ).distinct()


@transaction.atomic
def create_onboarding(tenant: Tenant, data: dict[str, Any], by: User) -> Onboarding:
    """Start an onboarding with the plan, milestones and training of its model's default
    playbook (the one imports use), dated from the start date."""
    owner = data.get("owner")
    if owner is not None and not possible_owners(tenant).filter(pk=owner.pk).exists():
        raise ValidationError({"owner": NOT_AN_OWNER})
    playbook = Playbook.objects.filter(model=data["model"], is_default=True).first()
    if playbook is None:
        label = TouchModel(data["model"]).label.lower()
        raise ValidationError({"model": f"No default playbook for {label}; choose one first."})
    onboarding = start_onboarding(
        customer=data["customer"],
        playbook=playbook,
        start_date=data["start_date"],
        name=data["name"],
        owner=owner,
    )
    source = f"the “{playbook.name}” playbook"
    record(onboarding, by, f"{by.get_full_name()} started the onboarding with {source}")
    return onboarding


@transaction.atomic
def update_onboarding(
    tenant: Tenant, onboarding: Onboarding, changes: dict[str, Any], by: User
) -> Onboarding:
    """Apply `changes` (keys of FIELDS) and log them in the activity. Refused once closed: the
    start date and owner of a closed onboarding are its success metrics' inputs (time to first
    value, day-30/day-90), which stay as they were at the close."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        raise ValueError(f"Not changeable here: {sorted(unknown)}")
    current = Onboarding.objects.select_for_update().get(pk=onboarding.pk)
    ensure_open(current)
    changed = [f for f in FIELDS if f in changes and getattr(current, f) != changes[f]]
    owner = changes.get("owner") if "owner" in changed else None
    if owner is not None and not possible_owners(tenant).filter(pk=owner.pk).exists():
        raise ValidationError({"owner": NOT_AN_OWNER})
    for field in changed:
        setattr(current, field, changes[field])
    if changed:
        current.save(update_fields=changed)
        what = ", ".join(FIELDS[f] for f in changed)
        record(current, by, f"{by.get_full_name()} changed the {what}")
    return current
