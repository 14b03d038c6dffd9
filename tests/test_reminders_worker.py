"""Due-task reminders through a real Celery worker process, a real broker and a real SMTP server.

The broker is Redis when REDIS_URL is set, else the filesystem broker in a fresh directory. The
worker reads the test database (committed rows: `transactional_db`) and sends through SMTP to an
in-memory server in this process. The same sweep enqueued again, and a direct per-tenant run, must
send nothing twice.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from accounts.models import Tenant
from onboarding.models import Contact, Customer, Onboarding, ReminderDelivery, Task
from onboarding.tasks import fan_out_reminders, send_reminders
from portal import celery_app
from portal.tenancy.context import TenantScopeError, cross_tenant, tenant_context
from tests.factories import World, build_world
from tests.live import celery_worker, smtp_sink, wait_until, worker_database_url

FAN_OUT = "onboarding.tasks.fan_out_reminders"
SEND = "onboarding.tasks.send_reminders"
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
    Tenant.objects.filter(pk=alpha.tenant.pk).update(reminder_days_ahead=3)
    Tenant.objects.filter(pk=bravo.tenant.pk).update(reminder_days_ahead=1)
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
        ]
        # Outside the window, complete, or in a closed onboarding: no email.
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
    for sub in ("out", "processed"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(broker_dir / "out"),
        "data_folder_out": str(broker_dir / "out"),
        "processed_folder": str(broker_dir / "processed"),
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


@pytest.mark.worker
def test_a_real_worker_emails_each_due_task_once_and_never_twice(transactional_db, tmp_path):
    assert not celery_app.conf.task_always_eager, "a worker test must not run tasks in-process"
    alpha, bravo, expected = _build_tenants()
    tenant_count = Tenant.objects.count()

    uses_filesystem_broker = celery_app.conf.broker_url.startswith("filesystem")
    broker_dir = tmp_path / "broker" if uses_filesystem_broker else None
    # This process read its broker settings at import: point its producer at the worker's folder.
    transport_options = _filesystem_broker_options(broker_dir) if broker_dir else None

    def enqueue(task, **kwargs) -> str:
        with celery_app.connection_for_write(transport_options=transport_options) as conn:
            return task.apply_async(kwargs=kwargs, connection=conn).id

    with (
        smtp_sink() as smtp,
        celery_worker(_worker_env(smtp.port, broker_dir), tmp_path / "worker.log") as worker,
    ):

        def done(name: str, ok: bool = True) -> int:
            return sum(1 for o in worker.outcomes(name) if o.ok is ok)

        # The beat's sweep: one send_reminders per tenant, each sending what is due.
        first_sweep = enqueue(fan_out_reminders)
        arrived = wait_until(lambda: len(smtp.messages) >= len(expected), WAIT)
        finished = wait_until(lambda: done(SEND) >= tenant_count, WAIT)
        mails = smtp.messages
        assert arrived, f"{len(mails)} of {len(expected)} emails arrived within {WAIT}s"
        assert finished, f"send_reminders did not finish: {worker.outcomes()}"
        assert [o.id for o in worker.outcomes(FAN_OUT)] == [first_sweep]
        assert not [o for o in worker.outcomes() if not o.ok], worker.outcomes()

        received = sorted((m.rcpt_tos, m.subject) for m in mails)
        assert len(mails) == len(expected), received
        for want in expected:
            matching = [
                m
                for m in mails
                if m.rcpt_tos == (want.recipient.lower(),) and m.subject.endswith(f": {want.title}")
            ]
            assert len(matching) == 1, (want, received)
            assert want.tenant.display_name in str(matching[0].message["From"])
        for title in ("too far", "overdue", "done", "closed onboarding"):
            assert not [m for m in mails if title in m.subject], received

        # A duplicated beat, a direct run for one tenant, and a message without a tenant.
        first_round_sends = {o.id for o in worker.outcomes(SEND)}
        enqueue(fan_out_reminders)
        enqueue(fan_out_reminders)
        enqueue(send_reminders, tenant_id=alpha.tenant.pk)
        enqueue(send_reminders)
        repeats = 2 * tenant_count + 1
        settled = wait_until(
            lambda: (
                done(FAN_OUT) >= 3
                and done(SEND) >= tenant_count + repeats
                and done(SEND, ok=False) >= 1
            ),
            WAIT,
        )
        assert settled, f"repeated tasks did not all finish: {worker.outcomes()}"
        later = [o for o in worker.outcomes(SEND) if o.ok and o.id not in first_round_sends]
        assert len(later) == repeats
        assert {o.result for o in later} == {"0"}, "a repeated run reported sending something"
        refused = worker.outcomes(SEND)
        refused = [o for o in refused if not o.ok]
        assert len(refused) == 1 and "TenantScopeError" in refused[0].result, refused

        # Nothing late either: give a straggler a moment to show up.
        assert not wait_until(lambda: len(smtp.messages) > len(expected), 3)
        assert len(smtp.messages) == len(expected)

    with cross_tenant("test: every reminder delivery recorded by the worker"):
        deliveries = list(ReminderDelivery.objects.select_related("task"))
    assert sorted(d.task.title for d in deliveries) == sorted(e.title for e in expected)
    assert {d.state for d in deliveries} == {ReminderDelivery.State.SENT}
    assert {d.attempts for d in deliveries} == {1}
    assert {d.tenant_id for d in deliveries if d.task.title.startswith("Bravo")} == {
        bravo.tenant.pk
    }


def test_a_tenant_task_without_tenant_id_is_refused():
    result = send_reminders.apply(kwargs={})
    assert result.failed()
    assert isinstance(result.result, TenantScopeError)
    with pytest.raises(TenantScopeError):
        result.get()
