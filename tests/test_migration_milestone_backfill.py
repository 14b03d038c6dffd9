"""The data migration that gives achieved_at to milestones whose tasks were all complete."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("onboarding", "0006_reminder_build_indexes")]
AFTER = [("onboarding", "0007_backfill_milestone_achieved_at")]


@pytest.mark.django_db(transaction=True)
def test_backfill_achieves_only_milestones_whose_tasks_are_all_complete():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        _check_backfill(executor)
    finally:  # leave the schema as the other tests expect, whatever happened
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def _check_backfill(executor: MigrationExecutor) -> None:
    apps = executor.loader.project_state(BEFORE).apps
    Tenant = apps.get_model("accounts", "Tenant")
    Customer = apps.get_model("onboarding", "Customer")
    Onboarding = apps.get_model("onboarding", "Onboarding")
    Milestone = apps.get_model("onboarding", "Milestone")
    Task = apps.get_model("onboarding", "Task")
    tenant = Tenant.objects.create(name="Old", slug="old")
    customer = Customer.objects.create(tenant=tenant, name="Acme")
    onboarding = Onboarding.objects.create(
        tenant=tenant, customer=customer, name="Acme", model="mid", start_date=dt.date(2025, 1, 1)
    )
    day = dt.date(2025, 2, 1)
    done_at = dt.datetime(2025, 2, 3, 12, tzinfo=dt.UTC)
    kept_at = dt.datetime(2025, 1, 20, tzinfo=dt.UTC)

    def milestone(name, statuses, achieved_at=None):
        m = Milestone.objects.create(
            tenant=tenant, onboarding=onboarding, name=name, due_date=day, achieved_at=achieved_at
        )
        for i, status in enumerate(statuses):
            Task.objects.create(
                tenant=tenant, onboarding=onboarding, milestone=m, title=f"{name}{i}",
                owner_side="vendor", due_date=day, status=status,
                completed_at=done_at - dt.timedelta(days=i) if status == "complete" else None,
            )  # fmt: skip
        return m.pk

    all_done = milestone("all-done", ["complete", "complete"])
    one_open = milestone("one-open", ["complete", "in_progress"])
    no_tasks = milestone("no-tasks", [])
    already = milestone("already", ["complete"], achieved_at=kept_at)

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    apps = executor.loader.project_state(AFTER).apps
    achieved = dict(
        apps.get_model("onboarding", "Milestone").objects.values_list("pk", "achieved_at")
    )
    assert achieved[all_done] == done_at  # the last of its tasks' completions
    assert achieved[one_open] is None
    assert achieved[no_tasks] is None
    assert achieved[already] == kept_at
