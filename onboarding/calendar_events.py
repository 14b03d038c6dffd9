"""Calendar invitations (.ics) for an onboarding's milestones and its first QBR.

Built with the kickoff's helper (onboarding.calendar_ics.event_ics), so every event follows the same
conventions: one iTIP message per event (METHOD:REQUEST, or METHOD:CANCEL once removed), ORGANIZER
and ATTENDEEs, UID `<kind>-<id>@<tenant's canonical host without port>` that never changes, and a
SEQUENCE that the services bump whenever the date moves (Milestone.ics_sequence,
CloseReview.qbr_ics_sequence) - calendar clients ignore an update whose SEQUENCE did not grow.
A removed milestone is served from its CalendarTombstone (last UID and SEQUENCE) as a CANCEL.

iTIP allows one METHOD per VCALENDAR and one event (UID) per message, so the milestones file is an
iCalendar stream: RFC 5545 (3.4) allows several VCALENDAR objects in one file, one per event here.
Milestones and QBRs are all-day events (DATE values: no time zone to get wrong).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.conf import settings

from accounts.models import Tenant, User
from onboarding.calendar_ics import Person, event_ics, make_uid
from onboarding.models import CalendarTombstone, CloseReview, Contact, Milestone, Onboarding

MILESTONE = "milestone"
QBR = "qbr"


def milestone_uid(milestone: Milestone, tenant: Tenant) -> str:
    return make_uid(MILESTONE, milestone.pk, tenant)


def qbr_uid(review: CloseReview, tenant: Tenant) -> str:
    return make_uid(QBR, review.pk, tenant)


def _organizer(user: User | None, tenant: Tenant) -> Person:
    if user is not None and user.email:
        return Person(user.get_full_name(), user.email)
    # Nobody assigned: the tenant's sender address, since a REQUEST needs an ORGANIZER.
    return Person(tenant.display_name, settings.DEFAULT_FROM_EMAIL)


def _people(contacts: Iterable[Contact], *users: User | None) -> list[Person]:
    seen: set[str] = set()
    people = []
    for name, email in [(u.get_full_name(), u.email) for u in users if u is not None] + [
        (c.name, c.email) for c in contacts
    ]:
        if email and email.lower() not in seen:
            seen.add(email.lower())
            people.append(Person(name, email))
    return people


def milestones_calendar(
    onboarding: Onboarding,
    tenant: Tenant,
    milestones: list[Milestone],
    tombstones: list[CalendarTombstone],
    contacts: list[Contact],
    *,
    now: dt.datetime | None = None,
) -> bytes:
    """One REQUEST per milestone, then one CANCEL per removed milestone; empty if neither."""
    organizer = _organizer(onboarding.owner, tenant)
    attendees = _people(contacts)
    parts = []
    for milestone in milestones:
        description = milestone.success_criteria or ""
        if milestone.achieved_at:
            description = f"Achieved. {description}".strip()
        parts.append(
            event_ics(
                uid=milestone_uid(milestone, tenant),
                sequence=milestone.ics_sequence,
                summary=f"{milestone.name} ({onboarding.customer.name})",
                start=milestone.due_date,
                organizer=organizer,
                attendees=attendees,
                description=description,
                now=now,
            )
        )
    for tombstone in tombstones:
        parts.append(
            event_ics(
                uid=tombstone.uid,
                sequence=tombstone.sequence,
                summary=tombstone.summary,
                start=tombstone.starts_on,
                organizer=organizer,
                attendees=attendees,
                method="CANCEL",
                now=now,
            )
        )
    return b"".join(parts)


def qbr_calendar(
    review: CloseReview,
    onboarding: Onboarding,
    tenant: Tenant,
    contacts: list[Contact],
    *,
    now: dt.datetime | None = None,
) -> bytes:
    """The first quarterly business review, organised by the ongoing CSM."""
    organizer = review.ongoing_csm or onboarding.owner
    goals = review.next_quarter_goals.strip()
    return event_ics(
        uid=qbr_uid(review, tenant),
        sequence=review.qbr_ics_sequence,
        summary=f"Quarterly business review: {onboarding.customer.name} and {tenant.display_name}",
        start=review.qbr_date,
        organizer=_organizer(organizer, tenant),
        attendees=_people(contacts, review.ongoing_csm),
        description=f"Goals for the quarter:\n{goals}" if goals else "",
        now=now,
    )
