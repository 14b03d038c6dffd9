"""Reminder emails about tasks due soon, each sent at most once per person, task and local day."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Tenant
from onboarding.emails import branded_message
from onboarding.models import ReminderDelivery, Task

log = logging.getLogger(__name__)
KIND_DUE_SOON = "due_soon"
# A claim older than this whose sender never reported back is taken over by the next sweep.
CLAIM_LEASE = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class DueReminder:
    task: Task
    recipient: str
    recipient_name: str


def due_reminders(tenant: Tenant, today: dt.date) -> list[DueReminder]:
    """Open tasks due from today to today + N days, each with the person who owns it."""
    horizon = today + dt.timedelta(days=tenant.reminder_days_ahead)
    tasks = (
        Task.objects.filter(due_date__gte=today, due_date__lte=horizon)
        .exclude(status=Task.Status.COMPLETE)
        .exclude(onboarding__status="closed")
        .filter(
            Q(owner_contact__isnull=False) | Q(owner_side="vendor", onboarding__owner__isnull=False)
        )
        .select_related("owner_contact", "onboarding__owner", "onboarding__customer")
        .order_by("due_date", "id")
    )
    reminders = []
    for task in tasks:
        if task.owner_contact and task.owner_contact.email:
            reminders.append(
                DueReminder(task, task.owner_contact.email.lower(), task.owner_contact.name)
            )
        elif task.owner_side == "vendor" and task.onboarding.owner:
            owner = task.onboarding.owner
            reminders.append(DueReminder(task, owner.email.lower(), owner.get_full_name()))
    return reminders


def _claim(reminder: DueReminder, today: dt.date) -> ReminderDelivery | None:
    """Insert the delivery row before sending; whoever inserts it (or takes over a stale claim)
    sends. A duplicate beat, a retry or a second worker finds the row and sends nothing."""
    try:
        with transaction.atomic():
            return ReminderDelivery.objects.create(
                task=reminder.task, recipient=reminder.recipient, kind=KIND_DUE_SOON, for_date=today
            )
    except IntegrityError:
        pass
    now = timezone.now()
    taken = ReminderDelivery.objects.filter(
        task=reminder.task,
        recipient=reminder.recipient,
        kind=KIND_DUE_SOON,
        for_date=today,
        state=ReminderDelivery.State.CLAIMED,
        claimed_at__lt=now - CLAIM_LEASE,
    ).update(claimed_at=now)
    if taken != 1:
        return None
    return ReminderDelivery.objects.get(
        task=reminder.task, recipient=reminder.recipient, kind=KIND_DUE_SOON, for_date=today
    )


def send_due_reminders(tenant: Tenant, today: dt.date | None = None) -> int:
    """Send what is due and not yet sent; returns how many emails went out."""
    today = today or tenant.local_today()
    sent = 0
    for reminder in due_reminders(tenant, today):
        delivery = _claim(reminder, today)
        if delivery is None:
            continue
        task = reminder.task
        message = branded_message(
            tenant,
            to=reminder.recipient,
            subject=f"Due {task.due_date:%b %-d}: {task.title}",
            template="task_due",
            context={
                "task": task,
                "name": reminder.recipient_name,
                "onboarding": task.onboarding,
                "url": tenant.absolute_url("/"),
            },
        )
        try:
            message.send()
        except Exception as exc:  # the SMTP error is recorded; the lease lets a later run retry
            ReminderDelivery.objects.filter(pk=delivery.pk).update(
                attempts=delivery.attempts + 1, last_error=str(exc)[:2000]
            )
            log.warning("reminder %s to %s failed: %s", task.pk, reminder.recipient, exc)
            continue
        ReminderDelivery.objects.filter(pk=delivery.pk).update(
            state=ReminderDelivery.State.SENT,
            sent_at=timezone.now(),
            attempts=delivery.attempts + 1,
        )
        sent += 1
    return sent
