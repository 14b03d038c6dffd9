"""An onboarding's milestones as an iCalendar file the client can import into any calendar.

Each milestone is an all-day event on its due date (a DATE value: no time zone to get wrong). Its
UID is stable, `milestone-<id>@<tenant's canonical host>`, so importing the file again updates the
events instead of duplicating them.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from icalendar import Calendar, Event

from accounts.models import Tenant
from onboarding.calendar_events import milestone_uid
from onboarding.models import Milestone, Onboarding

PRODID = "-//Onboarding portal//Milestones//EN"


def milestones_ics(
    onboarding: Onboarding,
    tenant: Tenant,
    milestones: list[Milestone] | None = None,
    *,
    now: dt.datetime | None = None,
) -> bytes:
    if milestones is None:
        milestones = list(onboarding.milestones.order_by("position", "due_date", "id"))
    stamp = (now or timezone.now()).astimezone(dt.UTC).replace(microsecond=0)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"{tenant.display_name}: {onboarding.name}")
    for milestone in milestones:
        event = Event()
        event.add("uid", milestone_uid(milestone, tenant))
        # The same UID and SEQUENCE as the workspace's calendar: a moved date updates the event.
        event.add("sequence", milestone.ics_sequence)
        event.add("dtstamp", stamp)
        event.add("dtstart", milestone.due_date)
        event.add("dtend", milestone.due_date + dt.timedelta(days=1))
        event.add("summary", f"{milestone.name} ({onboarding.name})")
        description = milestone.success_criteria or ""
        if milestone.achieved_at:
            description = f"Achieved. {description}".strip()
        if description:
            event.add("description", description)
        event.add("transp", "TRANSPARENT")
        calendar.add_component(event)
    return calendar.to_ical()
