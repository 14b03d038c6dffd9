"""Calendar invitations (.ics, iTIP / RFC 5546) for meetings the vendor organises.

The reusable helper, for the kickoff here and for milestones and the QBR elsewhere:

    event_ics(
        *,
        uid: str,                      # stable for the life of the event: see make_uid()
        sequence: int,                 # revision; grows whenever the event changes
        summary: str,
        start: datetime | date,        # aware datetime (sent in UTC) or a date (all-day event)
        end: datetime | date | None,   # None: one hour after a datetime, the next day after a date
        organizer: Person | None,      # required for METHOD:REQUEST and CANCEL
        attendees: Sequence[Person] = (),
        method: str = "REQUEST",       # "REQUEST" to invite or update, "CANCEL" to remove
        description: str = "",
        location: str = "",
        now: datetime | None = None,   # DTSTAMP (tests pass a fixed one)
    ) -> bytes

    make_uid(kind: str, pk: int, tenant: Tenant) -> str   # "<kind>-<pk>@<canonical host, no port>"

`Person(name, email)` is a named tuple. How calendar clients treat the file: an event is identified
by UID; a REQUEST with a higher SEQUENCE replaces the one they have, a CANCEL with the same UID and
a higher SEQUENCE removes it. So: never change a UID, bump the sequence on every change (reschedule,
new place, new attendees) and on cancellation, and keep serving the CANCEL after removal.

`kickoff_ics(kickoff, tenant)` builds the kickoff's file from its row: REQUEST while scheduled,
CANCEL (same UID, the sequence stored at cancellation) once `Kickoff.cancelled_at` is set.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import NamedTuple

from django.conf import settings
from django.utils import timezone
from icalendar import Calendar, Event, vCalAddress, vText

from accounts.models import Tenant
from onboarding.models import Kickoff
from portal.tenancy.hosts import split_port

PRODID = "-//Onboarding portal//Meetings//EN"


class Person(NamedTuple):
    name: str
    email: str


def make_uid(kind: str, pk: int, tenant: Tenant) -> str:
    return f"{kind}-{pk}@{split_port(tenant.canonical_host)}"


def _address(person: Person, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{person.email}")
    if person.name:
        address.params["cn"] = vText(person.name)
    for key, value in params.items():
        address.params[key.replace("_", "-")] = value
    return address


def _utc(value: dt.datetime | dt.date) -> dt.datetime | dt.date:
    if isinstance(value, dt.datetime):
        if timezone.is_naive(value):
            raise ValueError("Calendar times must be aware datetimes")
        return value.astimezone(dt.UTC).replace(microsecond=0)
    return value


def event_ics(
    *,
    uid: str,
    sequence: int,
    summary: str,
    start: dt.datetime | dt.date,
    end: dt.datetime | dt.date | None = None,
    organizer: Person | None,
    attendees: Sequence[Person] = (),
    method: str = "REQUEST",
    description: str = "",
    location: str = "",
    now: dt.datetime | None = None,
) -> bytes:
    if method not in ("REQUEST", "CANCEL", "PUBLISH"):
        raise ValueError(f"Unsupported METHOD {method!r}")
    if method != "PUBLISH" and organizer is None:
        raise ValueError(f"METHOD:{method} needs an ORGANIZER (RFC 5546)")
    if end is None:
        step = dt.timedelta(hours=1) if isinstance(start, dt.datetime) else dt.timedelta(days=1)
        end = start + step
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", _utc(now or timezone.now()))
    event.add("dtstart", _utc(start))
    event.add("dtend", _utc(end))
    event.add("summary", summary)
    if description:
        event.add("description", description)
    if location:
        event.add("location", location)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    if organizer is not None:
        event.add("organizer", _address(organizer))
    for person in attendees:
        if person.email:
            event.add(
                "attendee",
                _address(
                    person,
                    role="REQ-PARTICIPANT",
                    partstat="NEEDS-ACTION",
                    rsvp="TRUE",
                    cutype="INDIVIDUAL",
                ),
                encode=0,
            )
    calendar.add_component(event)
    return calendar.to_ical()


def kickoff_uid(kickoff: Kickoff, tenant: Tenant) -> str:
    return make_uid("kickoff", kickoff.pk, tenant)


def kickoff_ics(
    kickoff: Kickoff,
    tenant: Tenant,
    attendees: Sequence[Person],
    *,
    now: dt.datetime | None = None,
) -> bytes:
    """The kickoff invitation (or its cancellation). `attendees` are passed in by the caller,
    who loaded them in one query (selectors: kickoff attendees with emails)."""
    onboarding = kickoff.onboarding
    owner = onboarding.owner
    # The owning CSM organises it; with none assigned (left the team), the tenant's sender
    # address stands in, since a REQUEST without an ORGANIZER is invalid.
    if owner is not None:
        organizer = Person(owner.get_full_name(), owner.email)
    else:
        organizer = Person(tenant.display_name, settings.DEFAULT_FROM_EMAIL)
    method = "CANCEL" if kickoff.cancelled_at else "REQUEST"
    return event_ics(
        uid=kickoff_uid(kickoff, tenant),
        sequence=kickoff.ics_sequence,
        summary=f"Kickoff: {onboarding.customer.name} and {tenant.display_name}",
        start=kickoff.scheduled_at,
        end=kickoff.scheduled_at + dt.timedelta(minutes=kickoff.duration_minutes),
        organizer=organizer,
        attendees=attendees,
        method=method,
        description=(
            f"Kickoff call for {onboarding.name}: introductions, goals and success criteria, "
            "timeline and milestones, communication cadence, next steps."
        ),
        location=kickoff.location,
        now=now,
    )
