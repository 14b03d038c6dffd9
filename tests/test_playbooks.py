from __future__ import annotations

import datetime as dt

import pytest

from accounts.services import create_tenant
from onboarding import playbook_defaults as defaults
from onboarding.models import Customer, Playbook, PlaybookTask, TaskDependency
from onboarding.services.playbooks import start_onboarding
from portal.tenancy.context import tenant_context


@pytest.fixture
def tenant(db):
    return create_tenant(name="Zoned", slug="zoned", time_zone="America/New_York")


def test_each_default_playbook_fits_its_model(tenant):
    with tenant_context(tenant):
        playbooks = {p.model: p for p in Playbook.objects.filter(is_default=True)}
        assert set(playbooks) == {"high", "mid", "low"}
        for model, playbook in playbooks.items():
            low, high = defaults.TYPICAL_RANGE[model]
            offsets = list(playbook.tasks.values_list("due_offset_days", flat=True))
            assert low <= max(offsets) <= high, model
            assert low <= playbook.length_days <= high
            phases = set(playbook.tasks.values_list("phase", flat=True))
            assert phases == {"pre_kickoff", "kickoff", "setup", "training", "go_live"}
            assert playbook.milestones.count() == 5
        assert playbooks["low"].tasks.count() < playbooks["high"].tasks.count()
        # Every dependency points at a task of the same playbook.
        for task in PlaybookTask.objects.all():
            keys = set(task.playbook.tasks.values_list("key", flat=True))
            assert set(task.depends_on_keys) <= keys


def test_starting_an_onboarding_gives_calendar_due_dates(tenant):
    with tenant_context(tenant):
        playbook = Playbook.objects.get(model="mid", is_default=True)
        customer = Customer.objects.create(name="Dated")
        # 2026-10-15 + 30 days crosses the end of US daylight saving time (Nov 1).
        onboarding = start_onboarding(
            customer=customer, playbook=playbook, start_date=dt.date(2026, 10, 15), name="x"
        )
        expected = {
            t.title: dt.date(2026, 10, 15) + dt.timedelta(days=t.due_offset_days)
            for t in playbook.tasks.all()
        }
        assert {t.title: t.due_date for t in onboarding.tasks.all()} == expected
        assert onboarding.tasks.count() == playbook.tasks.count()
        assert onboarding.milestones.count() == 5
        deps = TaskDependency.objects.filter(task__onboarding=onboarding).count()
        assert deps == sum(len(t.depends_on_keys) for t in playbook.tasks.all()) > 0
        go_live = onboarding.milestones.get(name="Go-live and close")
        assert go_live.due_date == dt.date(2026, 10, 15) + dt.timedelta(days=45)


def test_editing_a_playbook_does_not_rewrite_running_onboardings(tenant):
    with tenant_context(tenant):
        playbook = Playbook.objects.get(model="low", is_default=True)
        onboarding = start_onboarding(
            customer=Customer.objects.create(name="C"),
            playbook=playbook,
            start_date=dt.date(2026, 1, 1),
            name="x",
        )
        before = list(onboarding.tasks.values_list("title", "due_date"))
        playbook.tasks.update(title="Changed", due_offset_days=3)
        assert list(onboarding.tasks.values_list("title", "due_date")) == before
