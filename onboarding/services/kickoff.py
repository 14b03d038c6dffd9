"""Step 2, the kickoff call: schedule it, reschedule or cancel it, record its outcome.

Calendar semantics (see onboarding/calendar_ics.py): the event's UID never changes; every change
to what the invitation says (time, length, place, attendees, reinstatement) bumps
`Kickoff.ics_sequence`, so calendar clients replace the event they hold.

Cancelling keeps the row and sets `Kickoff.cancelled_at` (no CalendarTombstone): the kickoff's
.ics URL then serves METHOD:CANCEL with the same UID and the bumped sequence, and scheduling it
again reinstates the same event with a higher sequence still. The row also carries the outcome,
which a delete would lose.

Every write checks `Kickoff.version` in a conditional UPDATE (no lost updates) and runs in one
transaction with its activity entries and, for the outcome, the next-step tasks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import User
from onboarding.models import Contact, Kickoff, KickoffAttendee, Onboarding, Side
from onboarding.services.activity import record
from onboarding.services.onboardings import ensure_open
from onboarding.services.tasks import create_task
from portal.tenancy.context import current_tenant

MIN_MINUTES, MAX_MINUTES = 15, 480
OUTCOME_TEXT_FIELDS = ("criteria_day30", "criteria_day60", "criteria_day90", "definition_of_done")
OUTCOME_LINE_FIELDS = ("cadence", "channel")
OUTCOME_LABELS = {
    "criteria_day30": "Success criteria for day 30",
    "criteria_day60": "Success criteria for day 60",
    "criteria_day90": "Success criteria for day 90",
    "definition_of_done": "Definition of done",
    "cadence": "Communication cadence",
    "channel": "Day-to-day channel",
    "vendor_escalation": "Our escalation contact",
    "customer_escalation": "The customer's escalation contact",
}


class StaleKickoff(Exception):
    """Someone saved the kickoff since the editor loaded it; `current` is the newer row."""

    def __init__(self, current: Kickoff | None):
        super().__init__("The kickoff changed since you loaded it.")
        self.current = current


@dataclass(frozen=True)
class NextStep:
    title: str
    owner_id: int | None
    due_date: dt.date | None


def attendees_of(kickoff: Kickoff) -> list[Contact]:
    """The kickoff's attendees in one query, vendor side first."""
    return list(
        Contact.objects.filter(
            pk__in=KickoffAttendee.objects.filter(kickoff=kickoff).values("contact_id")
        ).order_by("side", "name", "id")
    )


def local_when(kickoff: Kickoff) -> str:
    tz = current_tenant().tz
    return f"{timezone.localtime(kickoff.scheduled_at, tz):%b %-d, %Y %H:%M} ({tz.key})"


def _aware(date: dt.date, time: dt.time) -> dt.datetime:
    """The tenant-local wall time as an aware datetime; refuses a time the clocks skip."""
    tz = current_tenant().tz
    local = dt.datetime.combine(date, time.replace(second=0, microsecond=0), tzinfo=tz)
    roundtrip = local.astimezone(dt.UTC).astimezone(tz)
    if roundtrip.replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ValidationError(
            {"time": f"{time:%H:%M} does not exist on {date:%b %-d} in {tz.key} (clocks change)."}
        )
    return local


def _clean_schedule(
    onboarding: Onboarding, data: dict[str, Any], current: Kickoff | None
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    date, time = data.get("date"), data.get("time")
    if not isinstance(date, dt.date):
        errors["date"] = "Enter the date of the call."
    if not isinstance(time, dt.time):
        errors["time"] = "Enter the time of the call."
    minutes = data.get("duration_minutes")
    if not isinstance(minutes, int) or not MIN_MINUTES <= minutes <= MAX_MINUTES:
        errors["duration_minutes"] = f"Between {MIN_MINUTES} and {MAX_MINUTES} minutes."
    location = (data.get("location") or "").strip()
    if len(location) > 300:
        errors["location"] = "At most 300 characters."
    ids = {int(i) for i in data.get("attendees") or []}
    contacts = {c.pk: c for c in Contact.objects.filter(onboarding=onboarding, pk__in=ids)}
    if ids - set(contacts):
        errors["attendees"] = "Choose attendees among this onboarding's contacts."
    elif {c.side for c in contacts.values()} != {Side.VENDOR, Side.CUSTOMER}:
        errors["attendees"] = "Invite at least one person from each side."
    else:
        no_email = sorted(c.name for c in contacts.values() if not c.email)
        if no_email:
            errors["attendees"] = (
                f"{', '.join(no_email)} {'has' if len(no_email) == 1 else 'have'} no email "
                "address; the calendar invitation needs one."
            )
    when = None
    if "date" not in errors and "time" not in errors:
        try:
            when = _aware(date, time)
        except ValidationError as exc:
            errors.update({k: v[0] for k, v in exc.message_dict.items()})
        else:
            moved = current is None or current.scheduled_at != when
            if moved and when <= timezone.now():
                errors["date"] = "Pick a date and time in the future."
    if errors:
        raise ValidationError(errors)
    return {
        "scheduled_at": when,
        "duration_minutes": minutes,
        "location": location,
        "attendees": contacts,
    }


def schedule_kickoff(
    onboarding: Onboarding, data: dict[str, Any], expected_version: int | None, by: User
) -> Kickoff:
    """Schedule, reschedule or reinstate the kickoff.

    `data`: date, time (tenant-local), duration_minutes, location, attendees (contact ids).
    `expected_version`: the version the form showed, None when it showed no kickoff yet.
    """
    ensure_open(onboarding)
    with transaction.atomic():
        current = Kickoff.objects.filter(onboarding=onboarding).first()
        if (current.version if current else None) != expected_version:
            raise StaleKickoff(current)
        if current is not None and current.held_at is not None:
            raise ValidationError("The kickoff was held; its schedule is part of the record now.")
        values = _clean_schedule(onboarding, data, current)
        contacts = values.pop("attendees")
        if current is None:
            try:
                with transaction.atomic():  # a savepoint: a concurrent first schedule wins
                    kickoff = Kickoff.objects.create(onboarding=onboarding, **values)
            except IntegrityError:
                raise StaleKickoff(Kickoff.objects.filter(onboarding=onboarding).first()) from None
            KickoffAttendee.objects.bulk_create(
                KickoffAttendee(kickoff=kickoff, contact=c) for c in contacts.values()
            )
            record(
                onboarding,
                by,
                f"{by.get_full_name()} scheduled the kickoff for {local_when(kickoff)}",
            )
            return kickoff
        before_ids = set(
            KickoffAttendee.objects.filter(kickoff=current).values_list("contact_id", flat=True)
        )
        changed = [k for k, v in values.items() if getattr(current, k) != v]
        attendees_changed = before_ids != set(contacts)
        reinstated = current.cancelled_at is not None
        if not (changed or attendees_changed or reinstated):
            return current
        updated = Kickoff.objects.filter(pk=current.pk, version=expected_version).update(
            version=F("version") + 1,
            ics_sequence=F("ics_sequence") + 1,
            cancelled_at=None,
            **values,
        )
        if updated != 1:
            raise StaleKickoff(Kickoff.objects.get(pk=current.pk))
        KickoffAttendee.objects.filter(kickoff=current).exclude(contact_id__in=contacts).delete()
        KickoffAttendee.objects.bulk_create(
            KickoffAttendee(kickoff=current, contact=contacts[i])
            for i in sorted(set(contacts) - before_ids)
        )
        current.refresh_from_db()
        name = by.get_full_name()
        if reinstated:
            text = f"{name} scheduled the cancelled kickoff again, for {local_when(current)}"
        elif "scheduled_at" in changed:
            text = f"{name} rescheduled the kickoff to {local_when(current)}"
        else:
            what = [k.replace("_", " ") for k in changed] + (["attendees"] * attendees_changed)
            text = f"{name} updated the kickoff: {', '.join(what)}"
        record(onboarding, by, text)
        return current


def cancel_kickoff(kickoff: Kickoff, expected_version: int | None, by: User) -> Kickoff:
    onboarding = kickoff.onboarding
    ensure_open(onboarding)
    with transaction.atomic():
        if kickoff.held_at is not None:
            raise ValidationError("The kickoff was held; it cannot be cancelled.")
        if kickoff.cancelled_at is not None:
            raise ValidationError("The kickoff is already cancelled.")
        qs = Kickoff.objects.filter(pk=kickoff.pk, cancelled_at__isnull=True, held_at__isnull=True)
        if expected_version is not None:
            qs = qs.filter(version=expected_version)
        if (
            qs.update(
                version=F("version") + 1,
                ics_sequence=F("ics_sequence") + 1,
                cancelled_at=timezone.now(),
            )
            != 1
        ):
            raise StaleKickoff(Kickoff.objects.get(pk=kickoff.pk))
        kickoff.refresh_from_db()
        record(
            onboarding, by, f"{by.get_full_name()} cancelled the kickoff of {local_when(kickoff)}"
        )
        return kickoff


# --- The outcome ----------------------------------------------------------------------------


def _clean_outcome(
    onboarding: Onboarding, data: dict[str, Any], steps: list[NextStep], first: bool
) -> tuple[dict[str, Any], list[tuple[NextStep, Contact]]]:
    errors: dict[str, str] = {}
    out: dict[str, Any] = {"goals_confirmed": bool(data.get("goals_confirmed"))}
    for name in OUTCOME_TEXT_FIELDS + OUTCOME_LINE_FIELDS:
        value = (data.get(name) or "").strip()
        limit = 200 if name in OUTCOME_LINE_FIELDS else 5000
        if not value:
            errors[name] = f"{OUTCOME_LABELS[name]} is required."
        elif len(value) > limit:
            errors[name] = f"At most {limit} characters."
        out[name] = value
    contacts = {c.pk: c for c in Contact.objects.filter(onboarding=onboarding)}
    for name, side in (("vendor_escalation", Side.VENDOR), ("customer_escalation", Side.CUSTOMER)):
        contact = contacts.get(_as_int(data.get(name)))
        if contact is None or contact.side != side:
            errors[name] = f"Choose a {side.label.lower()}-side contact of this onboarding."
        out[name] = contact
    today = current_tenant().local_today()
    resolved = []
    for i, step in enumerate(steps):
        title = step.title.strip()
        owner = contacts.get(step.owner_id) if step.owner_id is not None else None
        if not title:
            errors[f"next_steps.{i}.title"] = "Say what the next step is."
        elif len(title) > 300:
            errors[f"next_steps.{i}.title"] = "At most 300 characters."
        if owner is None:
            errors[f"next_steps.{i}.owner"] = "Choose its owner among this onboarding's contacts."
        if step.due_date is None:
            errors[f"next_steps.{i}.due_date"] = "Give it a deadline."
        elif step.due_date < today:
            errors[f"next_steps.{i}.due_date"] = "The deadline is in the past."
        resolved.append((NextStep(title, step.owner_id, step.due_date), owner))
    if first and not steps:
        errors["next_steps"] = "Record the next steps agreed on the call, each with an owner."
    if errors:
        raise ValidationError(errors)
    return out, resolved


def _as_int(value: Any) -> int | None:
    if isinstance(value, Contact):
        return value.pk
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def record_outcome(
    kickoff: Kickoff,
    data: dict[str, Any],
    next_steps: list[NextStep],
    expected_version: int | None,
    by: User,
) -> Kickoff:
    """Record what the call agreed, and turn each next step into a MAP task (owner side and
    contact from the chosen contact, due on its deadline). All of it or none of it."""
    onboarding = kickoff.onboarding
    ensure_open(onboarding)
    if kickoff.scheduled_at is None or kickoff.cancelled_at is not None:
        raise ValidationError("Schedule the kickoff before recording its outcome.")
    values, steps = _clean_outcome(onboarding, data, next_steps, kickoff.held_at is None)
    with transaction.atomic():
        qs = Kickoff.objects.filter(pk=kickoff.pk, cancelled_at__isnull=True)
        if expected_version is not None:
            qs = qs.filter(version=expected_version)
        first = kickoff.held_at is None
        held_at = kickoff.held_at or timezone.now()
        if qs.update(version=F("version") + 1, held_at=held_at, **values) != 1:
            raise StaleKickoff(Kickoff.objects.get(pk=kickoff.pk))
        name = by.get_full_name()
        record(onboarding, by, f"{name} {'recorded' if first else 'updated'} the kickoff outcome")
        when = timezone.localtime(held_at, current_tenant().tz)
        for step, owner in steps:
            create_task(
                onboarding,
                title=step.title,
                description=f"Next step agreed at the kickoff on {when:%b %-d, %Y}.",
                owner_side=owner.side,
                owner_contact=owner,
                due_date=step.due_date,
            )
            record(
                onboarding,
                by,
                f'{name} added the next step "{step.title}" for '
                f"{owner.name}, due {step.due_date:%b %-d}",
            )
        kickoff.refresh_from_db()
        return kickoff
