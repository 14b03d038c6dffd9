"""Reminder digests through a real Celery worker process, a real broker and a real SMTP server.

The broker is Redis when REDIS_URL is set, else the filesystem broker in a fresh directory. The
worker reads the test database (committed rows: `transactional_db`) and sends through SMTP to an
in-memory server in this process. Shown here: one digest per recipient per day, also with a
duplicated beat, two beat processes and retries; a worker killed with SIGKILL mid-sweep loses
nothing and duplicates nothing; a rolled-back transaction sends nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from accounts.models import Tenant
from onboarding.models import Contact, Customer, Onboarding, ReminderDigest, Task
from onboarding.services.invitations import invite_contact
from onboarding.services.reminders import SENDING_LEASE, problem_digests, send_pending
from onboarding.tasks import fan_out_reminders, send_reminders
from portal import celery_app
from portal.tenancy.context import TenantScopeError, cross_tenant, tenant_context
from tests.factories import World, build_world
from tests.live import (
    celery_beat,
    celery_worker,
    smtp_sink,
    wait_until,
    worker_database_url,
)

FAN_OUT = "onboarding.tasks.fan_out_reminders"
SEND = "onboarding.tasks.send_reminders"
SEND_MANY = "onboarding.tasks.send_reminders_for_tenants"
WAIT = 60  # seconds


@dataclass(frozen=True)
class Expected:
    recipient: str
    title: str
    tenant: Tenant


def _task(world: World, title: str, due: dt.date, *, side: str, contact=None, **extra) -> Task:
    return Task.objects.create(
        onboarding=extra.pop("onboarding", world.onboarding),
        title=title,
        owner_side=side,
        owner_contact=contact,
        due_date=due,
        **extra,
    )


def _build_tenants() -> tuple[World, World, list[Expected]]:
    """Alpha reminds 3 days ahead, bravo 1 day; each has tasks inside and outside its window."""
    alpha = build_world("alpha", tasks=0)
    bravo = build_world("bravo", tasks=0)
    # Digests may go out at any hour on any day, so the test does not depend on when it runs.
    Tenant.objects.filter(pk=alpha.tenant.pk).update(
        reminder_days_ahead=3, digest_hour=0, skip_weekends=False
    )
    Tenant.objects.filter(pk=bravo.tenant.pk).update(
        reminder_days_ahead=1, digest_hour=0, skip_weekends=False
    )
    for world in (alpha, bravo):
        with tenant_context(world.tenant):
            world.onboarding.milestones.all().delete()
    alpha.tenant.refresh_from_db()
    bravo.tenant.refresh_from_db()

    expected: list[Expected] = []
    today = alpha.tenant.local_today()
    with tenant_context(alpha.tenant):
        second = Contact.objects.create(
            onboarding=alpha.onboarding,
            side="customer",
            name="Sam Owner",
            email="Sam.Owner@Alpha-Customer.example",
        )
        # Due inside the window: one email each.
        _task(alpha, "Alpha kickoff prep", today, side="customer", contact=alpha.contact)
        _task(
            alpha,
            "Alpha SSO metadata",
            today + dt.timedelta(days=1),
            side="customer",
            contact=second,
        )
        _task(
            alpha,
            "Alpha admin list",
            today + dt.timedelta(days=2),
            side="customer",
            contact=alpha.contact,
            status=Task.Status.IN_PROGRESS,
        )
        _task(alpha, "Alpha sandbox", today + dt.timedelta(days=3), side="vendor")  # -> the CSM
        expected += [
            Expected(alpha.contact.email, "Alpha kickoff prep", alpha.tenant),
            Expected("sam.owner@alpha-customer.example", "Alpha SSO metadata", alpha.tenant),
            Expected(alpha.contact.email, "Alpha admin list", alpha.tenant),
            Expected(alpha.csm.email, "Alpha sandbox", alpha.tenant),
            Expected(alpha.contact.email, "Alpha overdue", alpha.tenant),
        ]
        # Outside the window, complete, or in a closed onboarding: not mentioned.
        _task(
            alpha,
            "Alpha too far",
            today + dt.timedelta(days=4),
            side="customer",
            contact=alpha.contact,
        )
        _task(
            alpha,
            "Alpha overdue",
            today - dt.timedelta(days=1),
            side="customer",
            contact=alpha.contact,
        )
        _task(
            alpha,
            "Alpha done",
            today + dt.timedelta(days=1),
            side="customer",
            contact=alpha.contact,
            status=Task.Status.COMPLETE,
        )
        closed = Onboarding.objects.create(
            customer=Customer.objects.create(name="Alpha closed customer"),
            name="Closed rollout",
            model="low",
            start_date=today - dt.timedelta(days=90),
            status=Onboarding.Status.CLOSED,
            owner=alpha.csm,
        )
        closed_contact = Contact.objects.create(
            onboarding=closed, side="customer", name="Closed", email="closed@alpha-customer.example"
        )
        _task(
            alpha,
            "Alpha closed onboarding",
            today,
            side="customer",
            contact=closed_contact,
            onboarding=closed,
        )

    bravo_today = bravo.tenant.local_today()
    with tenant_context(bravo.tenant):
        _task(
            bravo,
            "Bravo data export",
            bravo_today + dt.timedelta(days=1),
            side="customer",
            contact=bravo.contact,
        )
        expected.append(Expected(bravo.contact.email, "Bravo data export", bravo.tenant))
        # Inside alpha's 3 days but outside bravo's 1: bravo's own setting applies.
        _task(
            bravo,
            "Bravo too far",
            bravo_today + dt.timedelta(days=2),
            side="customer",
            contact=bravo.contact,
        )
    return alpha, bravo, expected


def _filesystem_broker_options(broker_dir: Path) -> dict:
    for sub in ("out", "processed", "control"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(broker_dir / "out"),
        "data_folder_out": str(broker_dir / "out"),
        "processed_folder": str(broker_dir / "processed"),
        "control_folder": str(broker_dir / "control"),
        "store_processed": False,
    }


def _worker_env(smtp_port: int, broker_dir: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=worker_database_url(),
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        EMAIL_USE_TLS="0",
        CELERY_TASK_ALWAYS_EAGER="0",
        LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    if broker_dir is not None:
        env["CELERY_FS_BROKER_DIR"] = str(broker_dir)
    return env


def _by_recipient(expected: list[Expected]) -> dict[str, set[str]]:
    wanted: dict[str, set[str]] = {}
    for e in expected:
        wanted.setdefault(e.recipient.lower(), set()).add(e.title)
    return wanted


def _check_digests(mails, expected: list[Expected]) -> None:
    """Exactly one message per recipient, naming exactly that recipient's items."""
    wanted = _by_recipient(expected)
    counts = Counter(m.rcpt_tos for m in mails)
    assert counts == Counter({(r,): 1 for r in wanted}), counts
    all_titles = {e.title for e in expected} | {
        "Alpha too far",
        "Alpha done",
        "Alpha closed onboarding",
        "Bravo too far",
    }
    for m in mails:
        body = m.message.get_body(("plain",)).get_content()
        mine = wanted[m.rcpt_tos[0]]
        assert {t for t in all_titles if t in body} == mine, (m.rcpt_tos, body)
        assert "/notifications/unsubscribe/" in body
    tenants = {e.recipient.lower(): e.tenant for e in expected}
    for m in mails:
        assert tenants[m.rcpt_tos[0]].display_name in str(m.message["From"])


@contextmanager
def _broker(tmp_path: Path):
    """The broker shared by this process and the worker: Redis, or a fresh filesystem folder.

    This process read its broker settings at import; for the filesystem broker its producer is
    pointed at the test's folder for the duration (and put back afterwards).
    """
    if not celery_app.conf.broker_url.startswith("filesystem"):
        yield None
        return
    broker_dir = tmp_path / "broker"
    saved = celery_app.conf.broker_transport_options
    celery_app.conf.broker_transport_options = _filesystem_broker_options(broker_dir)
    _reset_producer_pools()
    try:
        yield broker_dir
    finally:
        celery_app.conf.broker_transport_options = saved
        _reset_producer_pools()


def _reset_producer_pools() -> None:
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
        celery_app._pool = None
    celery_app.amqp._producer_pool = None


def _digests() -> list[ReminderDigest]:
    with cross_tenant("test: every digest recorded by the worker"):
        return list(ReminderDigest.objects.order_by("recipient"))


@pytest.mark.worker
def test_a_real_worker_sends_one_digest_per_recipient_and_never_twice(transactional_db, tmp_path):
    assert not celery_app.conf.task_always_eager, "a worker test must not run tasks in-process"
    alpha, bravo, expected = _build_tenants()
    recipients = len(_by_recipient(expected))

    with (
        _broker(tmp_path) as broker_dir,
        smtp_sink() as smtp,
        celery_worker(_worker_env(smtp.port, broker_dir), tmp_path / "worker.log") as worker,
    ):

        def done(name: str, ok: bool = True) -> int:
            return sum(1 for o in worker.outcomes(name) if o.ok is ok)

        # Both tenants are small: one message carries them both.
        first_sweep = fan_out_reminders.delay().id
        arrived = wait_until(lambda: len(smtp.messages) >= recipients, WAIT)
        finished = wait_until(lambda: done(SEND_MANY) >= 1, WAIT)
        assert arrived, f"{len(smtp.messages)} of {recipients} digests arrived within {WAIT}s"
        assert finished, f"send_reminders_for_tenants did not finish: {worker.outcomes()}"
        assert [(o.id, o.result) for o in worker.outcomes(FAN_OUT)] == [(first_sweep, "1")]
        assert not [o for o in worker.outcomes() if not o.ok], worker.outcomes()
        _check_digests(smtp.messages, expected)

        # A duplicated beat finds nothing left to do and sends no message; a direct run for one
        # tenant records and sends nothing; a message without a tenant is refused.
        fan_out_reminders.delay()
        fan_out_reminders.delay()
        send_reminders.delay(tenant_id=alpha.tenant.pk)
        send_reminders.delay()
        settled = wait_until(
            lambda: done(FAN_OUT) >= 3 and done(SEND) >= 1 and done(SEND, ok=False) >= 1, WAIT
        )
        assert settled, f"repeated tasks did not all finish: {worker.outcomes()}"
        assert [o.result for o in worker.outcomes(FAN_OUT)][1:] == ["0", "0"]
        assert done(SEND_MANY) == 1
        [direct] = [o for o in worker.outcomes(SEND) if o.ok]
        assert "'sent': 0" in direct.result and "'items': 0" in direct.result, direct
        refused = [o for o in worker.outcomes(SEND) if not o.ok]
        assert len(refused) == 1 and "TenantScopeError" in refused[0].result, refused
        assert not wait_until(lambda: len(smtp.messages) > recipients, 3)

    digests = _digests()
    assert [d.recipient for d in digests] == sorted(_by_recipient(expected))
    assert {(d.state, d.attempts) for d in digests} == {(ReminderDigest.State.SENT, 1)}
    assert {d.tenant_id for d in digests if d.recipient == bravo.contact.email} == {bravo.tenant.pk}


@pytest.mark.worker
def test_two_beat_processes_still_send_one_digest_per_recipient(transactional_db, tmp_path):
    _, _, expected = _build_tenants()
    recipients = len(_by_recipient(expected))
    with _broker(tmp_path) as broker_dir, smtp_sink() as smtp:
        env = _worker_env(smtp.port, broker_dir)
        env["REMINDER_SWEEP_SECONDS"] = "1"  # both beats fire every second
        with (
            celery_worker(env, tmp_path / "worker.log", concurrency=4) as worker,
            celery_beat(env, tmp_path, "beat-1"),
            celery_beat(env, tmp_path, "beat-2"),
        ):
            arrived = wait_until(lambda: len(smtp.messages) >= recipients, WAIT)
            assert arrived, f"{len(smtp.messages)} of {recipients} digests within {WAIT}s"
            # Keep both beats running for a while longer: many more sweeps, no more mail.
            wait_until(lambda: len(worker.outcomes(FAN_OUT)) >= 12, 20)
            assert len(worker.outcomes(FAN_OUT)) >= 6, worker.log()[-3000:]
            assert not wait_until(lambda: len(smtp.messages) > recipients, 3)
        _check_digests(smtp.messages, expected)


@pytest.mark.worker
def test_a_worker_killed_mid_sweep_loses_nothing_and_duplicates_nothing(transactional_db, tmp_path):
    world = build_world("slow", tasks=0)
    Tenant.objects.filter(pk=world.tenant.pk).update(digest_hour=0, skip_weekends=False)
    world.tenant.refresh_from_db()
    today = world.tenant.local_today()
    people = [f"person{i:02d}@slow-customer.example" for i in range(10)]
    with tenant_context(world.tenant):
        world.onboarding.milestones.all().delete()
        for i, email in enumerate(people):
            contact = Contact.objects.create(
                onboarding=world.onboarding, side="customer", name=f"P{i}", email=email
            )
            _task(world, f"Task for {email}", today, side="customer", contact=contact)
    with _broker(tmp_path) as broker_dir, smtp_sink(hold_at=3) as smtp:
        env = _worker_env(smtp.port, broker_dir)
        with celery_worker(env, tmp_path / "worker-1.log", concurrency=1) as first:
            send_reminders.delay(tenant_id=world.tenant.pk)
            assert wait_until(lambda: len(smtp.messages) >= 3, WAIT), first.log()[-3000:]
            # The server holds the third message unconfirmed: the sender is waiting for it.
            os.killpg(first.proc.pid, signal.SIGKILL)  # parent and pool child, no goodbye
            first.proc.wait(10)
        smtp.release()
        before_rerun = len(smtp.messages)
        assert before_rerun == 3, before_rerun
        with celery_worker(env, tmp_path / "worker-2.log", concurrency=1) as second:
            send_reminders.delay(tenant_id=world.tenant.pk)
            settled = wait_until(
                lambda: (
                    not [d for d in _digests() if d.state == ReminderDigest.State.PENDING]
                    and any(o.ok for o in second.outcomes(SEND))
                ),
                WAIT,
            )
            assert settled, second.log()[-3000:]
            assert not wait_until(lambda: len(smtp.messages) > len(people), 2)
        received = Counter(m.rcpt_tos[0] for m in smtp.messages)
    # The kill came while the server held the third message and had not yet confirmed it.
    # Everyone has their digest, exactly once: the rerun sent the rest and not that one again.
    assert received == Counter(people), received
    killed_mid_send = smtp.messages[before_rerun - 1].rcpt_tos[0]
    states = {d.recipient: d.state for d in _digests()}
    # Its sender never heard, so it stays in doubt: left for an admin, never sent by itself.
    assert states.pop(killed_mid_send) == ReminderDigest.State.SENDING
    assert set(states.values()) == {ReminderDigest.State.SENT}, states
    with tenant_context(world.tenant):
        after_lease = timezone.now() + SENDING_LEASE + dt.timedelta(minutes=1)
        assert send_pending(world.tenant, after_lease) == (0, 0, 0, 1)
        assert [d.recipient for d in problem_digests()] == [killed_mid_send]


@pytest.mark.worker
def test_a_rolled_back_transaction_sends_nothing(transactional_db, tmp_path):
    world = build_world("rollback", tasks=0)
    with tenant_context(world.tenant):
        kept = Contact.objects.create(
            onboarding=world.onboarding, side="customer", name="Kept", email="kept@rb.example"
        )
        dropped = Contact.objects.create(
            onboarding=world.onboarding, side="customer", name="Drop", email="dropped@rb.example"
        )
    with (
        _broker(tmp_path) as broker_dir,
        smtp_sink() as smtp,
        celery_worker(_worker_env(smtp.port, broker_dir), tmp_path / "worker.log") as worker,
    ):
        with tenant_context(world.tenant):
            with pytest.raises(RuntimeError), transaction.atomic():
                invite_contact(world.tenant, dropped)
                raise RuntimeError("the request failed after the invitation was queued")
            with transaction.atomic():
                invite_contact(world.tenant, kept)
        assert wait_until(lambda: len(smtp.messages) >= 1, WAIT), worker.log()[-3000:]
        assert not wait_until(lambda: len(smtp.messages) > 1, 4)
        assert [m.rcpt_tos for m in smtp.messages] == [("kept@rb.example",)]
        assert len(worker.outcomes("onboarding.tasks.send_invitation")) == 1


def test_a_tenant_task_without_tenant_id_is_refused():
    result = send_reminders.apply(kwargs={})
    assert result.failed()
    assert isinstance(result.result, TenantScopeError)
    with pytest.raises(TenantScopeError):
        result.get()
