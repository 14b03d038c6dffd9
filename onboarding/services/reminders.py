"""Reminders and escalations, sent as one digest per person per local day.

Everything is derived from the database, never from per-message countdown tasks:

- build_digests(tenant, today) records what each person is to be reminded of today, set-based,
  with INSERT ... SELECT ... ON CONFLICT DO NOTHING. A reminder item is unique per (recipient,
  item, kind, key date), so a duplicated beat, a retried task or a second worker records nothing.
- send_pending(tenant, now) sends each pending digest after claiming it with a conditional UPDATE
  (pending -> sending). Only the claimant talks to the mail server. A digest left "sending" by a
  worker that died is marked "uncertain" for an admin to review rather than sent a second time;
  everything not yet claimed is sent by the next run.

Kinds, with N, M, K and the milestone horizon set per tenant:
  due_soon   open task due in 1..N days             key date: its due date (once per due date)
  due_today  open task due today                    key date: today
  overdue    open task past due, again every M days key date: today, if none in the last M days
  blocked    blocked K or more days: to the CSM and the escalation contacts; key: blocked-on date
  milestone  milestone not achieved, due within the horizon; to the CSM and the primary contact
"""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
from dataclasses import dataclass

from django.core import signing
from django.core.mail import mailers
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import Tenant, User
from onboarding.emails import branded_message
from onboarding.models import (
    Contact,
    DigestRun,
    Milestone,
    NotificationOptOut,
    Onboarding,
    ReminderDigest,
    ReminderItem,
    ReminderKind,
    Task,
)
from portal.tenancy.context import current_tenant

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_BASE = dt.timedelta(minutes=5)
# A digest still "sending" after this long belongs to a worker that died mid-send.
SENDING_LEASE = dt.timedelta(minutes=10)
UNSUBSCRIBE_SALT = "reminders.unsubscribe"

# Refusals the server gave before accepting the message: it was certainly not delivered.
NOT_SENT_ERRORS = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
    smtplib.SMTPHeloError,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPNotSupportedError,
)


@dataclass(frozen=True)
class SweepResult:
    built: bool
    items: int
    sent: int
    retried: int
    failed: int
    uncertain: int


def is_digest_time(tenant: Tenant, now: dt.datetime) -> bool:
    local = now.astimezone(tenant.tz)
    if tenant.skip_weekends and local.weekday() >= 5:
        return False
    return local.hour >= tenant.digest_hour


def sweep(tenant: Tenant, now: dt.datetime | None = None) -> SweepResult:
    """The periodic job: build today's digests once it is time, then send what is pending."""
    now = now or timezone.now()
    today = now.astimezone(tenant.tz).date()
    items = build_digests(tenant, today, now) if is_digest_time(tenant, now) else None
    sent, retried, failed, uncertain = send_pending(tenant, now)
    return SweepResult(items is not None, items or 0, sent, retried, failed, uncertain)


# The SQL below is assembled from quoted table names and fixed fragments of this module; every
# value (tenant id, dates) is a bound parameter. Hence the S608 exemptions.


def _t(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _item_sql(*, kind: str, select_from: str, recipient: str, key_date: str, where: str) -> str:
    """INSERT ... SELECT of one kind of item; everything else about an item is the same."""
    optout = _t(NotificationOptOut)
    return f"""
        INSERT INTO {_t(ReminderItem)}
            (tenant_id, recipient, queued_for, kind, item_key, key_date, task_id, milestone_id)
        SELECT DISTINCT x.tenant_id, x.recipient, %(today)s, '{kind}', x.item_key, {key_date},
               x.task_id, x.milestone_id
        FROM (
            SELECT src.*, LOWER({recipient}) AS recipient
            FROM {select_from}
        ) x
        WHERE x.recipient IS NOT NULL AND x.recipient <> '' AND {where}
          AND NOT EXISTS (
              SELECT 1 FROM {optout} oo
              WHERE oo.tenant_id = x.tenant_id AND LOWER(oo.email) = x.recipient
                AND oo.kind IN ('all', '{kind}')
          )
        ON CONFLICT DO NOTHING
    """


def _task_source(owner_expr: str, extra_join: str = "") -> str:
    task, onb, contact, user = _t(Task), _t(Onboarding), _t(Contact), _t(User)
    return f"""(
        SELECT t.tenant_id, t.id AS task_id, CAST(NULL AS BIGINT) AS milestone_id, t.due_date,
               t.blocked_on, t.status, 'task:' || t.id AS item_key, {owner_expr} AS owner_email
        FROM {task} t
        JOIN {onb} o ON o.id = t.onboarding_id AND o.tenant_id = t.tenant_id
        LEFT JOIN {contact} c ON c.id = t.owner_contact_id AND c.tenant_id = t.tenant_id
        LEFT JOIN {user} u ON u.id = o.owner_id
        {extra_join}
        WHERE t.tenant_id = %(tenant)s AND t.status <> 'complete' AND o.status <> 'closed'
    ) src"""


# The task's owner: its named contact, else the owning CSM for vendor-side tasks.
TASK_OWNER = "COALESCE(NULLIF(c.email, ''), CASE WHEN t.owner_side = 'vendor' THEN u.email END)"


def build_digests(tenant: Tenant, today: dt.date, now: dt.datetime | None = None) -> int | None:
    """Record today's reminder items and digests for `tenant` (the tenant in scope).

    Returns how many items were recorded, or None if another run already built this day. The
    DigestRun row is inserted first, in the same transaction: a second builder blocks on it and
    then finds it taken.
    """
    now = now or timezone.now()
    if current_tenant().pk != tenant.pk:
        raise ValueError("build_digests() runs inside the scope of the tenant it builds for")
    day = connection.ops.adapt_datefield_value
    params = {
        "tenant": tenant.pk,
        "today": day(today),
        "soon_to": day(today + dt.timedelta(days=tenant.reminder_days_ahead)),
        "tomorrow": day(today + dt.timedelta(days=1)),
        "overdue_since": day(today - dt.timedelta(days=tenant.overdue_repeat_days)),
        "blocked_by": day(today - dt.timedelta(days=tenant.blocked_escalation_days)),
        "milestone_to": day(today + dt.timedelta(days=tenant.milestone_days_ahead)),
        "now": connection.ops.adapt_datetimefield_value(now),
    }
    statements = [
        _item_sql(
            kind=ReminderKind.DUE_SOON,
            select_from=_task_source(TASK_OWNER),
            recipient="src.owner_email",
            key_date="x.due_date",
            where="x.due_date BETWEEN %(tomorrow)s AND %(soon_to)s",
        ),
        _item_sql(
            kind=ReminderKind.DUE_TODAY,
            select_from=_task_source(TASK_OWNER),
            recipient="src.owner_email",
            key_date="%(today)s",
            where="x.due_date = %(today)s",
        ),
        _item_sql(
            kind=ReminderKind.OVERDUE,
            select_from=_task_source(TASK_OWNER),
            recipient="src.owner_email",
            key_date="%(today)s",
            where=f"""x.due_date < %(today)s AND NOT EXISTS (
                SELECT 1 FROM {_t(ReminderItem)} prev
                WHERE prev.tenant_id = x.tenant_id AND prev.recipient = x.recipient
                  AND prev.kind = 'overdue' AND prev.item_key = x.item_key
                  AND prev.key_date > %(overdue_since)s)""",
        ),
        # Escalation to the owning CSM ...
        _item_sql(
            kind=ReminderKind.BLOCKED,
            select_from=_task_source("u.email"),
            recipient="src.owner_email",
            key_date="x.blocked_on",
            where="x.status = 'blocked' AND x.blocked_on <= %(blocked_by)s",
        ),
        # ... and to every escalation contact of the onboarding, on both sides.
        _item_sql(
            kind=ReminderKind.BLOCKED,
            select_from=_task_source(
                "ec.email",
                f"JOIN {_t(Contact)} ec ON ec.onboarding_id = o.id AND ec.tenant_id = t.tenant_id"
                " AND ec.is_escalation_contact",
            ),
            recipient="src.owner_email",
            key_date="x.blocked_on",
            where="x.status = 'blocked' AND x.blocked_on <= %(blocked_by)s",
        ),
    ]
    milestone_source = f"""(
        SELECT m.tenant_id, CAST(NULL AS BIGINT) AS task_id, m.id AS milestone_id, m.due_date,
               'milestone:' || m.id AS item_key, r.email AS owner_email
        FROM {_t(Milestone)} m
        JOIN {_t(Onboarding)} o ON o.id = m.onboarding_id AND o.tenant_id = m.tenant_id
        JOIN (
            SELECT o2.id AS onboarding_id, u2.email AS email
            FROM {_t(Onboarding)} o2 JOIN {_t(User)} u2 ON u2.id = o2.owner_id
            WHERE o2.tenant_id = %(tenant)s
            UNION
            SELECT pc.onboarding_id, pc.email FROM {_t(Contact)} pc
            WHERE pc.tenant_id = %(tenant)s AND pc.is_primary AND pc.side = 'customer'
        ) r ON r.onboarding_id = o.id
        WHERE m.tenant_id = %(tenant)s AND m.achieved_at IS NULL AND o.status <> 'closed'
    ) src"""
    statements.append(
        _item_sql(
            kind=ReminderKind.MILESTONE,
            select_from=milestone_source,
            recipient="src.owner_email",
            key_date="x.due_date",
            where="x.due_date BETWEEN %(today)s AND %(milestone_to)s",
        )
    )
    digests = f"""
        INSERT INTO {_t(ReminderDigest)}
            (tenant_id, recipient, recipient_name, for_date, state, attempts, next_attempt_at,
             last_error, created_at)
        SELECT DISTINCT tenant_id, recipient, '', %(today)s, 'pending', 0, %(now)s, '', %(now)s
        FROM {_t(ReminderItem)}
        WHERE tenant_id = %(tenant)s AND queued_for = %(today)s
        ON CONFLICT DO NOTHING
    """
    try:
        with transaction.atomic():
            DigestRun.objects.create(for_date=today)
            recorded = 0
            with connection.cursor() as cursor:
                for sql in statements:
                    cursor.execute(sql, params)
                    recorded += max(cursor.rowcount, 0)
                cursor.execute(digests, params)
    except IntegrityError:
        return None
    return recorded


def unsubscribe_token(tenant: Tenant, email: str, kind: str = "all") -> str:
    return signing.dumps({"t": tenant.pk, "e": email.lower(), "k": kind}, salt=UNSUBSCRIBE_SALT)


def read_unsubscribe_token(tenant: Tenant, token: str) -> tuple[str, str] | None:
    """(email, kind) for a valid token of this tenant; None for anything else."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT, max_age=dt.timedelta(days=180))
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or data.get("t") != tenant.pk:
        return None
    kind = data.get("k")
    if kind != "all" and kind not in ReminderKind.values:
        return None
    return data.get("e"), kind


def _digest_context(tenant: Tenant, digest: ReminderDigest) -> dict:
    items = list(
        ReminderItem.objects.filter(recipient=digest.recipient, queued_for=digest.for_date)
        .select_related("task__onboarding__customer", "milestone__onboarding__customer")
        .order_by("kind", "key_date", "id")
    )
    groups: dict[str, list[ReminderItem]] = {}
    for item in items:
        groups.setdefault(item.kind, []).append(item)
    labels = dict(ReminderKind.choices)
    name = (
        Contact.objects.filter(email__iexact=digest.recipient)
        .values_list("name", flat=True)
        .first()
        or User.objects.filter(email__iexact=digest.recipient)
        .values_list("full_name", flat=True)
        .first()
        or ""
    )
    return {
        "name": name,
        "groups": [(labels[k], groups[k]) for k in ReminderKind.values if k in groups],
        "count": len(items),
        "url": tenant.absolute_url("/"),
        "unsubscribe_url": tenant.absolute_url(
            reverse(
                "unsubscribe",
                kwargs={"unsubscribe_token": unsubscribe_token(tenant, digest.recipient)},
            )
        ),
        "preferences_url": tenant.absolute_url(reverse("notification-preferences")),
    }


def _claim(digest_id: int, now: dt.datetime) -> bool:
    return (
        ReminderDigest.objects.filter(
            pk=digest_id, state=ReminderDigest.State.PENDING, next_attempt_at__lte=now
        ).update(state=ReminderDigest.State.SENDING, claimed_at=now)
        == 1
    )


def send_pending(tenant: Tenant, now: dt.datetime | None = None) -> tuple[int, int, int, int]:
    """Send every pending digest that is due; returns (sent, retried, failed, uncertain)."""
    now = now or timezone.now()
    uncertain = ReminderDigest.objects.filter(
        state=ReminderDigest.State.SENDING, claimed_at__lt=now - SENDING_LEASE
    ).update(
        state=ReminderDigest.State.UNCERTAIN,
        last_error="The sender stopped while sending; it may or may not have been delivered.",
    )
    due = list(
        ReminderDigest.objects.filter(state=ReminderDigest.State.PENDING, next_attempt_at__lte=now)
        .order_by("id")
        .values_list("pk", flat=True)
    )
    sent = retried = failed = 0
    for digest_id in due:
        if not _claim(digest_id, now):
            continue  # another worker has it
        digest = ReminderDigest.objects.get(pk=digest_id)
        outcome = _send_one(tenant, digest, now)
        sent += outcome == "sent"
        retried += outcome == "retry"
        failed += outcome == "failed"
        uncertain += outcome == "uncertain"
    return sent, retried, failed, uncertain


def _send_one(tenant: Tenant, digest: ReminderDigest, now: dt.datetime) -> str:
    context = _digest_context(tenant, digest)
    if not context["count"]:
        ReminderDigest.objects.filter(pk=digest.pk).update(state=ReminderDigest.State.SENT)
        return "empty"
    message = branded_message(
        tenant,
        to=digest.recipient,
        subject=f"{context['count']} onboarding reminder{'s' if context['count'] != 1 else ''}"
        f" for {digest.for_date:%a %b %-d}",
        template="digest",
        context=context,
    )
    message.extra_headers["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
    message.extra_headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    attempts = digest.attempts + 1
    mailer = mailers.default
    try:
        mailer.open()
    except (OSError, smtplib.SMTPException) as exc:
        return _not_sent(digest, attempts, now, exc)
    try:
        mailer.send_messages([message])
    except NOT_SENT_ERRORS as exc:
        return _not_sent(digest, attempts, now, exc)
    except (OSError, smtplib.SMTPException) as exc:
        # The connection broke mid-conversation: the server may have accepted the message.
        ReminderDigest.objects.filter(pk=digest.pk).update(
            state=ReminderDigest.State.UNCERTAIN, attempts=attempts, last_error=repr(exc)[:2000]
        )
        log.warning("digest %s to %s: delivery uncertain: %r", digest.pk, digest.recipient, exc)
        return "uncertain"
    finally:
        try:
            mailer.close()
        except Exception:  # noqa: S110 - closing a broken connection may fail again; ignore
            pass
    ReminderDigest.objects.filter(pk=digest.pk).update(
        state=ReminderDigest.State.SENT,
        sent_at=timezone.now(),
        attempts=attempts,
        recipient_name=context["name"][:200],
    )
    return "sent"


def _not_sent(digest: ReminderDigest, attempts: int, now: dt.datetime, exc: Exception) -> str:
    """The server refused or could not be reached: retry later with backoff, up to a limit."""
    if attempts >= MAX_ATTEMPTS:
        state, outcome, next_at = ReminderDigest.State.FAILED, "failed", now
    else:
        state, outcome = ReminderDigest.State.PENDING, "retry"
        next_at = now + RETRY_BASE * (2 ** (attempts - 1))
    ReminderDigest.objects.filter(pk=digest.pk).update(
        state=state, attempts=attempts, next_attempt_at=next_at, last_error=repr(exc)[:2000]
    )
    log.warning("digest %s to %s not sent (%s): %r", digest.pk, digest.recipient, outcome, exc)
    return outcome


def opted_out_kinds(email: str) -> set[str]:
    return set(
        NotificationOptOut.objects.filter(email__iexact=email).values_list("kind", flat=True)
    )


def set_preferences(email: str, enabled: set[str]) -> None:
    """Turn kinds on and off for one person; 'all' off means none are sent."""
    email = email.lower()
    with transaction.atomic():
        NotificationOptOut.objects.filter(email__iexact=email).delete()
        NotificationOptOut.objects.bulk_create(
            NotificationOptOut(email=email, kind=k) for k in ReminderKind.values if k not in enabled
        )


def unsubscribe(email: str, kind: str = "all") -> None:
    NotificationOptOut.objects.get_or_create(email=email.lower(), kind=kind)


def problem_digests():
    return ReminderDigest.objects.filter(
        Q(state=ReminderDigest.State.FAILED) | Q(state=ReminderDigest.State.UNCERTAIN)
    ).order_by("-for_date", "recipient")
