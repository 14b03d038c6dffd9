"""Step 5, training and enablement: user groups, their sessions and material, and champions.

Writes take the acting user and record an activity entry inside their transaction. Each raises
ValidationError keyed by field (the page shows it next to the input) and writes nothing then.
A closed onboarding is read-only.

A resource attached to a group carries the group's name as its `audience`, because the client
portal groups material by audience; renaming or removing a group keeps that in step. A held
session's recording becomes a video resource of its group, so the client finds it in the portal.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from accounts.models import User
from onboarding.models import (
    Contact,
    Onboarding,
    Side,
    TrainingGroup,
    TrainingResource,
    TrainingSession,
)
from onboarding.services.activity import record
from onboarding.services.onboardings import ensure_open
from portal.tenancy.context import current_tenant

MAX_GROUP_SIZE = 100_000
RECORDING_PREFIX = "Recording: "


def clean_url(value: str | None, field: str, errors: dict[str, str]) -> str:
    """An http(s) link or ''. Other schemes (javascript:, data:, file:) never reach a page."""
    url = (value or "").strip()
    if not url:
        return ""
    if len(url) > 200:
        errors[field] = "At most 200 characters."
        return url
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        errors[field] = "Enter a full web address starting with https://."
    return url


def _name(by: User) -> str:
    return by.get_full_name()


def _fmt_day(value: dt.datetime) -> str:
    local = timezone.localtime(value, onboarding_tz())
    return f"{local:%b} {local.day}, {local:%H:%M}"


def onboarding_tz():
    """Times are shown and checked in the tenant's zone."""
    return current_tenant().tz


# --- Reads for the training page --------------------------------------------------------------


@dataclass
class TrainingOverview:
    groups: list[TrainingGroup]  # each with .session_list and .resource_list
    loose_resources: list[TrainingResource]  # material for everyone (no group)
    customer_contacts: list[Contact]
    champions_total: int
    champions_trained: int
    sessions_total: int
    sessions_held: int


def training_overview(onboarding: Onboarding) -> TrainingOverview:
    """Everything on the training page in a fixed number of queries (4)."""
    groups = list(
        onboarding.training_groups.prefetch_related(
            Prefetch(
                "sessions",
                queryset=TrainingSession.objects.order_by("scheduled_at", "id"),
                to_attr="session_list",
            ),
            Prefetch(
                "resources",
                queryset=TrainingResource.objects.order_by("position", "id"),
                to_attr="resource_list",
            ),
        ).order_by("name", "id")
    )
    loose = list(
        onboarding.training_resources.filter(group__isnull=True).order_by("position", "id")
    )
    contacts = list(
        onboarding.contacts.filter(side=Side.CUSTOMER).order_by("-is_champion", "name", "id")
    )
    champions = [c for c in contacts if c.is_champion]
    sessions = [s for g in groups for s in g.session_list]
    return TrainingOverview(
        groups=groups,
        loose_resources=loose,
        customer_contacts=contacts,
        champions_total=len(champions),
        champions_trained=sum(1 for c in champions if c.champion_trained_at),
        sessions_total=len(sessions),
        sessions_held=sum(1 for s in sessions if s.held_at),
    )


# --- Groups ------------------------------------------------------------------------------------


def clean_group(
    onboarding: Onboarding, data: dict[str, Any], group: TrainingGroup | None = None
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    name = (data.get("name") or "").strip()
    if not name:
        errors["name"] = "Name the group, e.g. Administrators or Sales reps."
    elif len(name) > 120:
        errors["name"] = "At most 120 characters."
    else:
        others = TrainingGroup.objects.filter(onboarding=onboarding, name__iexact=name)
        if group is not None:
            others = others.exclude(pk=group.pk)
        if others.exists():
            errors["name"] = f"This onboarding already has a group called “{name}”."
    size = data.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_GROUP_SIZE:
        errors["size"] = f"Enter how many people the group has, from 1 to {MAX_GROUP_SIZE:,}."
    sophistication = data.get("sophistication") or ""
    if sophistication not in TrainingGroup.Sophistication.values:
        errors["sophistication"] = "Choose how experienced the group is."
    if errors:
        raise ValidationError(errors)
    return {"name": name, "size": size, "sophistication": sophistication}


@transaction.atomic
def save_group(
    onboarding: Onboarding, data: dict[str, Any], by: User, group: TrainingGroup | None = None
) -> TrainingGroup:
    ensure_open(onboarding)
    values = clean_group(onboarding, data, group)
    if group is None:
        group = TrainingGroup.objects.create(onboarding=onboarding, **values)
        record(
            onboarding,
            by,
            f"{_name(by)} added the training group “{group.name}” ({group.size} people, "
            f"{group.get_sophistication_display().lower()})",
        )
        return group
    old_name = group.name
    changed = [k for k, v in values.items() if getattr(group, k) != v]
    if not changed:
        return group
    for k in changed:
        setattr(group, k, values[k])
    group.save(update_fields=changed)
    if "name" in changed:
        # The portal groups material by audience: keep the group's material under its new name.
        group.resources.update(audience=group.name)
    record(
        onboarding, by, f"{_name(by)} updated the training group “{old_name}”: {', '.join(changed)}"
    )
    return group


@transaction.atomic
def delete_group(group: TrainingGroup, by: User) -> None:
    onboarding = group.onboarding
    ensure_open(onboarding)
    name = group.name
    # Its material stays, for everyone; its sessions go with it.
    group.resources.update(audience="", group=None)
    group.delete()
    record(onboarding, by, f"{_name(by)} removed the training group “{name}” and its sessions")


# --- Sessions ----------------------------------------------------------------------------------


def clean_session(
    onboarding: Onboarding,
    data: dict[str, Any],
    session: TrainingSession | None = None,
    *,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    now = now or timezone.now()
    errors: dict[str, str] = {}
    group = data.get("group")
    if not isinstance(group, TrainingGroup) or group.onboarding_id != onboarding.pk:
        errors["group"] = "Choose one of this onboarding's groups."
    title = (data.get("title") or "").strip()
    if not title:
        errors["title"] = "Give the session a title, e.g. Admin console walkthrough."
    elif len(title) > 200:
        errors["title"] = "At most 200 characters."
    scheduled_at = data.get("scheduled_at")
    if not isinstance(scheduled_at, dt.datetime) or timezone.is_naive(scheduled_at):
        errors["scheduled_at"] = "Enter the date and time of the session."
    else:
        start = dt.datetime.combine(onboarding.start_date, dt.time.min, tzinfo=onboarding_tz())
        if scheduled_at < start:
            errors["scheduled_at"] = (
                f"The onboarding started on {onboarding.start_date:%b} "
                f"{onboarding.start_date.day}, {onboarding.start_date.year}; schedule it after."
            )
    live_url = clean_url(data.get("live_url"), "live_url", errors)
    held = bool(data.get("held"))
    recording_url = clean_url(data.get("recording_url"), "recording_url", errors)
    if held and "scheduled_at" not in errors and scheduled_at > now:
        errors["held"] = "This session is still ahead; mark it held once it has taken place."
    if recording_url and not held:
        errors["recording_url"] = "A recording exists only once the session was held."
    if errors:
        raise ValidationError(errors)
    held_at = None
    if held:
        held_at = session.held_at if session is not None and session.held_at else now
    return {
        "group": group,
        "title": title,
        "scheduled_at": scheduled_at,
        "live_url": live_url,
        "held_at": held_at,
        "recording_url": recording_url,
    }


def _sync_recording(session: TrainingSession, old_url: str) -> None:
    """Keep the group's video resource for this session's recording in step with it."""
    existing = (
        TrainingResource.objects.filter(
            onboarding=session.group.onboarding,
            group=session.group,
            kind=TrainingResource.Kind.VIDEO,
            url=old_url,
            title__startswith=RECORDING_PREFIX,
        ).first()
        if old_url
        else None
    )
    if not session.recording_url:
        if existing is not None:
            existing.delete()
        return
    title = f"{RECORDING_PREFIX}{session.title}"[:200]
    if existing is not None:
        existing.url, existing.title = session.recording_url, title
        existing.save(update_fields=["url", "title"])
        return
    TrainingResource.objects.create(
        onboarding=session.group.onboarding,
        group=session.group,
        audience=session.group.name,
        kind=TrainingResource.Kind.VIDEO,
        title=title,
        url=session.recording_url,
        position=1000,  # after the material planned up front
    )


@transaction.atomic
def save_session(
    onboarding: Onboarding,
    data: dict[str, Any],
    by: User,
    session: TrainingSession | None = None,
    *,
    now: dt.datetime | None = None,
) -> TrainingSession:
    ensure_open(onboarding)
    values = clean_session(onboarding, data, session, now=now)
    if session is None:
        session = TrainingSession.objects.create(**values)
        record(
            onboarding,
            by,
            f"{_name(by)} scheduled the training session “{session.title}” for "
            f"{session.group.name} on {_fmt_day(session.scheduled_at)}",
        )
        if session.recording_url:
            _sync_recording(session, "")
        return session
    old_url, was_held, old_when = session.recording_url, session.held_at, session.scheduled_at
    changed = [k for k, v in values.items() if getattr(session, k) != v]
    if not changed:
        return session
    for k in changed:
        setattr(session, k, values[k])
    session.save(update_fields=changed)
    if "recording_url" in changed or "title" in changed or "group" in changed:
        _sync_recording(session, old_url)
    what = []
    if session.held_at and not was_held:
        what.append("marked it held")
    elif was_held and not session.held_at:
        what.append("marked it not held")
    if "scheduled_at" in changed:
        what.append(f"moved it from {_fmt_day(old_when)} to {_fmt_day(session.scheduled_at)}")
    if "recording_url" in changed:
        what.append("added the recording" if session.recording_url else "removed the recording")
    rest = [k for k in changed if k in ("title", "live_url", "group")]
    if rest:
        what.append("changed " + ", ".join(k.replace("_", " ") for k in rest))
    record(
        onboarding,
        by,
        f"{_name(by)} updated the training session “{session.title}”: {'; '.join(what)}",
    )
    return session


@transaction.atomic
def delete_session(session: TrainingSession, by: User) -> None:
    onboarding = session.group.onboarding
    ensure_open(onboarding)
    title, old_url = session.title, session.recording_url
    session.recording_url = ""
    _sync_recording(session, old_url)  # its recording leaves the portal with it
    session.delete()
    record(onboarding, by, f"{_name(by)} removed the training session “{title}”")


# --- Resources ---------------------------------------------------------------------------------


def clean_resource(onboarding: Onboarding, data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    title = (data.get("title") or "").strip()
    if not title:
        errors["title"] = "Give the resource a title, e.g. Quick-start guide."
    elif len(title) > 200:
        errors["title"] = "At most 200 characters."
    kind = data.get("kind") or ""
    if kind not in TrainingResource.Kind.values:
        errors["kind"] = "Choose what kind of material it is."
    url = clean_url(data.get("url"), "url", errors)
    if not url and kind in (TrainingResource.Kind.VIDEO, TrainingResource.Kind.KNOWLEDGE_BASE):
        errors["url"] = "Add the link where people find it."
    group = data.get("group")
    if group is not None and (
        not isinstance(group, TrainingGroup) or group.onboarding_id != onboarding.pk
    ):
        errors["group"] = "Choose one of this onboarding's groups, or everyone."
    if errors:
        raise ValidationError(errors)
    return {
        "title": title,
        "kind": kind,
        "url": url,
        "group": group,
        "audience": group.name if group is not None else "",
    }


@transaction.atomic
def save_resource(
    onboarding: Onboarding,
    data: dict[str, Any],
    by: User,
    resource: TrainingResource | None = None,
) -> TrainingResource:
    ensure_open(onboarding)
    values = clean_resource(onboarding, data)
    who = values["group"].name if values["group"] is not None else "everyone"
    if resource is None:
        last = onboarding.training_resources.order_by("-position").first()
        resource = TrainingResource.objects.create(
            onboarding=onboarding, position=(last.position + 1) if last else 0, **values
        )
        record(onboarding, by, f"{_name(by)} added the {resource.get_kind_display().lower()} "
                               f"“{resource.title}” for {who}")  # fmt: skip
        return resource
    changed = [k for k, v in values.items() if getattr(resource, k) != v]
    if changed:
        for k in changed:
            setattr(resource, k, values[k])
        resource.save(update_fields=changed)
        record(onboarding, by, f"{_name(by)} updated the resource “{resource.title}” (for {who})")
    return resource


@transaction.atomic
def delete_resource(resource: TrainingResource, by: User) -> None:
    onboarding = resource.onboarding
    ensure_open(onboarding)
    title = resource.title
    resource.delete()
    record(onboarding, by, f"{_name(by)} removed the resource “{title}”")


# --- Champions ---------------------------------------------------------------------------------

CHAMPION_ACTIONS = ("champion", "not-champion", "trained", "not-trained")


@transaction.atomic
def update_champion(contact: Contact, action: str, by: User) -> Contact:
    """Mark a customer contact as a champion (or not), and a champion as trained (or not)."""
    onboarding = contact.onboarding
    ensure_open(onboarding)
    if action not in CHAMPION_ACTIONS:
        raise ValidationError("Choose what to change.")
    if contact.side != Side.CUSTOMER:
        raise ValidationError("Champions are people on the customer's side.")
    if action in ("trained", "not-trained") and not contact.is_champion:
        raise ValidationError(f"{contact.name} is not a champion; mark them as one first.")
    if action == "champion":
        if contact.is_champion:
            return contact
        contact.is_champion = True
        text = f"{_name(by)} marked {contact.name} as a champion"
    elif action == "not-champion":
        if not contact.is_champion:
            return contact
        contact.is_champion, contact.champion_trained_at = False, None
        text = f"{_name(by)} no longer counts {contact.name} as a champion"
    elif action == "trained":
        if contact.champion_trained_at:
            return contact
        contact.champion_trained_at = timezone.now()
        text = f"{_name(by)} marked champion {contact.name} as trained"
    else:
        if not contact.champion_trained_at:
            return contact
        contact.champion_trained_at = None
        text = f"{_name(by)} marked champion {contact.name} as not trained yet"
    contact.save(update_fields=["is_champion", "champion_trained_at"])
    record(onboarding, by, text)
    return contact
