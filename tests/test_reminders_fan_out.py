"""The reminder fan-out: a message only for tenants with work now, small tenants sharing one."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from celery.app.task import Task as CeleryTask
from django.core import mail

from accounts.models import Tenant
from onboarding.models import DigestRun, ReminderDigest, Task
from onboarding.services import reminders
from onboarding.tasks import fan_out_reminders
from portal.tenancy.context import tenant_context
from tests.factories import build_world

# Thursday 2026-12-03, 15:00 UTC: 10:00 in New York, 16:00 in Berlin, 00:00 next day in Tokyo.
NOW = dt.datetime(2026, 12, 3, 15, 0, tzinfo=dt.UTC)


def _tenant(slug: str, tz: str, hour: int, *, due_task: bool = True):
    world = build_world(slug, tasks=0)
    Tenant.objects.filter(pk=world.tenant.pk).update(
        time_zone=tz, digest_hour=hour, skip_weekends=False
    )
    world.tenant.refresh_from_db()
    with tenant_context(world.tenant):
        world.onboarding.milestones.all().delete()
        if due_task:
            Task.objects.create(
                onboarding=world.onboarding,
                title=f"{slug} due",
                owner_side="customer",
                owner_contact=world.contact,
                due_date=NOW.astimezone(world.tenant.tz).date(),
            )
    return world


@pytest.fixture
def tenants(db):
    return {
        # Its hour has come, nothing built yet: due.
        "due": _tenant("due", "America/New_York", 9),
        # Its hour has not come (16:00 in Berlin, it sends at 17:00): nothing to do.
        "early": _tenant("early", "Europe/Berlin", 17),
        # Built today already, nothing pending: nothing to do.
        "built": _tenant("built", "America/New_York", 8),
        # Its hour has not come, but a retry is due now: due.
        "retry": _tenant("retry", "Europe/Berlin", 17),
        # Already the next day in Tokyo, whose hour 0 has come: due for *its* date.
        "tokyo": _tenant("tokyo", "Asia/Tokyo", 0),
    }


def _prepare(tenants):
    with tenant_context(tenants["built"].tenant):
        reminders.sweep(tenants["built"].tenant, NOW)
        assert DigestRun.objects.count() == 1
        assert not ReminderDigest.objects.exclude(state="sent").exists()
    with tenant_context(tenants["retry"].tenant):
        ReminderDigest.objects.create(
            recipient="late@retry.example",
            for_date=dt.date(2026, 12, 2),
            attempts=1,
            next_attempt_at=NOW - dt.timedelta(minutes=1),
        )
    with tenant_context(tenants["tokyo"].tenant):
        # Yesterday's build (Tokyo's Dec 3) does not count for its Dec 4.
        DigestRun.objects.create(for_date=dt.date(2026, 12, 3))


def test_only_tenants_with_work_now_are_named(tenants, django_assert_max_num_queries):
    _prepare(tenants)
    with django_assert_max_num_queries(4):
        work = reminders.tenants_with_reminder_work(NOW)
    named = {slug for slug, w in tenants.items() if w.tenant.pk in work}
    assert named == {"due", "retry", "tokyo"}
    assert all(size >= 1 for size in work.values())


def test_the_query_count_does_not_grow_with_tenants(tenants, django_assert_max_num_queries):
    _prepare(tenants)
    for i in range(10):
        _tenant(f"more{i}", "America/New_York", 9)
    with django_assert_max_num_queries(4):
        assert len(reminders.tenants_with_reminder_work(NOW)) == 13


def test_a_fan_out_sends_one_message_for_small_tenants_and_does_their_work(tenants, monkeypatch):
    _prepare(tenants)
    published = []
    real_apply_async = CeleryTask.apply_async

    def counting(task, args=None, kwargs=None, **options):
        published.append((task.name, kwargs))
        return real_apply_async(task, args, kwargs, **options)  # eager in tests: runs here

    monkeypatch.setattr(CeleryTask, "apply_async", counting)
    mail.outbox.clear()
    with mock.patch("django.utils.timezone.now", return_value=NOW):  # the sweeps' clock too
        assert fan_out_reminders.run() == 1
    [(name, kwargs)] = published
    assert name == "onboarding.tasks.send_reminders_for_tenants"
    assert sorted(kwargs["tenant_ids"]) == sorted(
        tenants[s].tenant.pk for s in ("due", "retry", "tokyo")
    )
    # The work was done, not only planned: each tenant's digest went out.
    recipients = {to for m in mail.outbox for to in m.to}
    assert {tenants["due"].contact.email, tenants["tokyo"].contact.email} <= recipients
    assert tenants["early"].contact.email not in recipients
    with tenant_context(tenants["retry"].tenant):
        # Taken up: its items are gone (it was made by hand here), so it is closed as empty.
        assert ReminderDigest.objects.get(recipient="late@retry.example").state == "skipped"
    # Nothing left to do: the next run sends no message at all.
    published.clear()
    with mock.patch("django.utils.timezone.now", return_value=NOW + dt.timedelta(minutes=5)):
        assert fan_out_reminders.run() == 0
    assert published == []


def test_a_claim_whose_lease_ran_out_is_work(tenants):
    _prepare(tenants)
    with tenant_context(tenants["early"].tenant):
        stuck = ReminderDigest.objects.create(
            recipient="stuck@early.example",
            for_date=dt.date(2026, 12, 2),
            state=ReminderDigest.State.SENDING,
            claimed_at=NOW - reminders.SENDING_LEASE + dt.timedelta(minutes=1),
        )
    assert tenants["early"].tenant.pk not in reminders.tenants_with_reminder_work(NOW)
    later = NOW + dt.timedelta(minutes=2)  # now the lease has run out
    assert tenants["early"].tenant.pk in reminders.tenants_with_reminder_work(later)
    with tenant_context(tenants["early"].tenant):
        reminders.sweep(tenants["early"].tenant, later)
        assert ReminderDigest.objects.get(pk=stuck.pk).state == "uncertain"


def test_weekends_skipped_unless_something_is_due_to_be_sent(db):
    saturday = dt.datetime(2026, 12, 5, 15, 0, tzinfo=dt.UTC)  # 10:00 in New York
    world = _tenant("weekend", "America/New_York", 9)
    Tenant.objects.filter(pk=world.tenant.pk).update(skip_weekends=True)
    assert reminders.tenants_with_reminder_work(saturday) == {}
    assert world.tenant.pk in reminders.tenants_with_reminder_work(saturday.replace(day=7))
    with tenant_context(world.tenant):
        ReminderDigest.objects.create(
            recipient="retry@weekend.example",
            for_date=dt.date(2026, 12, 4),
            next_attempt_at=saturday - dt.timedelta(minutes=1),
        )
    assert world.tenant.pk in reminders.tenants_with_reminder_work(saturday)


def test_one_tenant_failing_in_a_shared_message_holds_back_no_other(tenants, monkeypatch):
    _prepare(tenants)
    real_build = reminders.build_digests

    def build(tenant, today, now=None):
        if tenant.slug == "due":
            raise RuntimeError("the database went away for this tenant")
        return real_build(tenant, today, now)

    monkeypatch.setattr(reminders, "build_digests", build)
    mail.outbox.clear()
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        assert fan_out_reminders.run() == 1  # the message fails at the end, naming "due"
    assert tenants["tokyo"].contact.email in {to for m in mail.outbox for to in m.to}
    after = NOW + dt.timedelta(minutes=5)
    assert set(reminders.tenants_with_reminder_work(after)) == {tenants["due"].tenant.pk}
