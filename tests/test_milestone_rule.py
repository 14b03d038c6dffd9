"""One rule for "this milestone is met", read the same way by every page and job.

A milestone is met when `achieved_at` is set; `services.plan.refresh_milestone` sets it when its
last task is completed. A milestone whose tasks were all completed behind the services' back (a
raw update, an import) is therefore open everywhere until it is refreshed, never done on the
portal while open in the checklist, the metrics, health and reminders.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from onboarding.checklists import phase_checklists
from onboarding.metrics import metrics_report
from onboarding.models import Milestone, Task
from onboarding.selectors import portal_page
from onboarding.selectors_portfolio import open_milestones
from onboarding.services.plan import refresh_milestone
from portal.tenancy.context import tenant_context
from tests.factories import build_world


def _readings(world, milestone: Milestone) -> dict[str, bool]:
    """What each reader says about `milestone`: True for met."""
    with tenant_context(world.tenant):
        onboarding = world.onboarding
        page = portal_page(onboarding, world.client, today=dt.date(2026, 12, 4))
        go_live = next(
            item
            for phase in phase_checklists(world.tenant, onboarding)
            for item in phase.items
            if item.item.key == "go-live-met"
        )
        metrics_row = next(
            r for r in metrics_report(world.tenant).rows if r.onboarding.pk == onboarding.pk
        )
        return {
            "portal": next(m for m in page.milestones if m.pk == milestone.pk).state == "done",
            "open_milestones": not open_milestones().filter(pk=milestone.pk).exists(),
            "checklist go-live": go_live.done,
            "metrics first value": metrics_row.first_value_date is not None,
        }


def test_every_reader_goes_by_achieved_at(db):
    world = build_world("alpha")
    with tenant_context(world.tenant):
        last = world.onboarding.milestones.order_by("-position", "-due_date", "-id").first()
        # The last milestone is both the go-live the checklist looks at and, here, the first
        # value milestone the metrics look at.
        world.onboarding.milestones.update(is_first_value=False)
        Milestone.objects.filter(pk=last.pk).update(is_first_value=True, achieved_at=None)
        assert last.tasks.exists()
        # Completed behind the services' back: nothing refreshed the milestone.
        last.tasks.update(status=Task.Status.COMPLETE, completed_at=timezone.now())

    assert _readings(world, last) == dict.fromkeys(
        ("portal", "open_milestones", "checklist go-live", "metrics first value"), False
    )

    with tenant_context(world.tenant):
        assert refresh_milestone(last) == "achieved"
    assert _readings(world, last) == dict.fromkeys(
        ("portal", "open_milestones", "checklist go-live", "metrics first value"), True
    )
