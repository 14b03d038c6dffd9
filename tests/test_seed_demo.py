"""The demo tenant that `make run` seeds shows every chart with something in it."""

from __future__ import annotations

import datetime as dt
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from accounts.models import Tenant
from onboarding.checklists import phase_checklists
from onboarding.metrics import metrics_report
from onboarding.models import CloseReview, HealthScore, Kickoff, Onboarding, Task
from portal.tenancy.context import tenant_context


def test_the_demo_has_health_history_snapshots_and_metrics(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", stdout=StringIO())
    tenant = Tenant.objects.get(slug="demo")
    with tenant_context(tenant):
        today = tenant.local_today()
        for onboarding in Onboarding.objects.exclude(status=Onboarding.Status.CLOSED):
            days = set(
                HealthScore.objects.filter(onboarding=onboarding, kind="daily").values_list(
                    "for_date", flat=True
                )
            )
            # A trend: a score for every day since the start (or the last 100 days), none before.
            first = max(onboarding.start_date, today - dt.timedelta(days=100))
            assert min(days) == first and max(days) == today
            assert len(days) == (today - first).days + 1
        assert HealthScore.objects.filter(kind="day30").count() >= 2
        assert HealthScore.objects.filter(kind="day90").count() >= 1
        closed = Onboarding.objects.get(status=Onboarding.Status.CLOSED)
        assert CloseReview.objects.get(onboarding=closed).qbr_date > today  # closed by review
        report = metrics_report(tenant)
    assert report.ttfv_overall.median is not None
    assert report.day30.scores and report.day90.scores
    assert report.tickets_complete  # someone's first 90 days are over
    assert report.nps.count == 1


def test_the_demo_steps_agree_with_the_demo_plans(db, settings, tmp_path):
    """A finished kickoff task has a held kickoff behind it, documented requirements have items,
    and the checklists say the same as the plan (no "no kickoff yet" beside a done kickoff)."""
    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", stdout=StringIO())
    tenant = Tenant.objects.get(slug="demo")
    seen = set()
    with tenant_context(tenant):
        for onboarding in Onboarding.objects.select_related("customer"):
            assert onboarding.name != f"{onboarding.customer.name} onboarding"
            done = set(
                onboarding.tasks.filter(status=Task.Status.COMPLETE).values_list("title", flat=True)
            )
            kickoff = Kickoff.objects.filter(onboarding=onboarding).first()
            items = {
                i.item.key: i.done
                for phase in phase_checklists(tenant, onboarding)
                for i in phase.items
            }
            if "Hold the kickoff call" in done:
                assert kickoff.held_at is not None
                assert items["kickoff-held"] and items["goals-confirmed"] and items["cadence-set"]
                seen.add("held")
            elif onboarding.status == Onboarding.Status.KICKOFF:
                assert kickoff.held_at is None and kickoff.scheduled_at > timezone.now()
                assert items["kickoff-scheduled"] and not items["kickoff-held"]
                seen.add("scheduled")
            else:
                assert kickoff is None
            documented = "Document technical requirements" in done
            assert items["requirements-documented"] == documented
            if documented:
                assert onboarding.requirements.filter(task__isnull=False).count() >= 2
                seen.add("requirements")
    assert seen == {"held", "scheduled", "requirements"}
