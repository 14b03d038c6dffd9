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
  blocked    blocked more than K days: to the CSM and the escalation contacts; key: blocked-on date
  milestone  milestone not achieved, due within the horizon; to the CSM and the primary contact
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.core import signing
from django.core.mail import EmailMultiAlternatives
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import Count, Q, prefetch_related_objects
from django.urls import reverse
from django.utils import timezone

from accounts.addresses import normalize_email
from accounts.models import Membership, Tenant, User
from onboarding.emails import branded_message
from onboarding.mail_delivery import Outcome, deliver
from onboarding.models import (
    Contact,
    DigestRun,
    Milestone,
    NotificationOptOut,
    Onboarding,
    PortalAccess,
    ReminderDigest,
    ReminderItem,
    ReminderKind,
    Task,
)
from onboarding.people import name_for_address
from portal.tenancy.context import cross_tenant, current_tenant

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
RETRY_BASE = dt.timedelta(minutes=5)
# A digest still "sending" after this long belongs to a worker that died mid-send.
SENDING_LEASE = dt.timedelta(minutes=10)
UNSUBSCRIBE_SALT = "reminders.unsubscribe"


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


def tenants_with_reminder_work(now: dt.datetime) -> dict[int, int]:
    """Per tenant id with reminder work now, its open onboardings (at least 1), to size batches.

    Work is: the day's digests to build (the tenant's local digest time has come and no build
    for its local date exists), digests due to be sent (first tries, retries, an admin's send
    again), or claims whose lease ran out (to be marked uncertain). Everyone else is left alone,
    so a sweep every few minutes sends no message for a tenant with nothing to do. Reads the
    tenant list, then three cross-tenant queries whatever the number of tenants.
    """
    build_by_date: dict[dt.date, list[int]] = {}
    for tenant in Tenant.objects.only("pk", "time_zone", "digest_hour", "skip_weekends"):
        if is_digest_time(tenant, now):
            build_by_date.setdefault(now.astimezone(tenant.tz).date(), []).append(tenant.pk)
    with cross_tenant("reminder fan-out: which tenants have reminder work now"):
        built = Q(pk__in=[])
        for day, tenant_ids in build_by_date.items():
            built |= Q(for_date=day, tenant_id__in=tenant_ids)
        done = set(DigestRun.objects.filter(built).values_list("tenant_id", flat=True))
        due = {pk for pks in build_by_date.values() for pk in pks} - done
        due |= set(
            ReminderDigest.objects.filter(
                Q(state=ReminderDigest.State.PENDING, next_attempt_at__lte=now)
                | Q(state=ReminderDigest.State.SENDING, claimed_at__lt=now - SENDING_LEASE)
            )
            .order_by()
            .values_list("tenant_id", flat=True)
            .distinct()
        )
        sizes = dict(
            Onboarding.objects.filter(tenant_id__in=due)
            .exclude(status=Onboarding.Status.CLOSED)
            .order_by()
            .values("tenant_id")
            .annotate(n=Count("id"))
            .values_list("tenant_id", "n")
        )
    return {pk: max(1, sizes.get(pk, 0)) for pk in due}


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


# Where each kind of item comes from; every source yields the same columns. The task's owner is
# its named contact, else the owning CSM for vendor-side tasks.
# A contact cut off (see cut_off below) counts as no contact. Checked on the joined row, by a
# hashed lookup: as a join condition the planner would filter every contact of the tenant first.
TASK_OWNER = """COALESCE(
    NULLIF(CASE WHEN c.id IN (SELECT id FROM cut_off) THEN NULL ELSE c.email END, ''),
    CASE WHEN t.owner_side = 'vendor' THEN u.email END)"""


def _sources() -> str:
    task, onb, contact, user, milestone = (
        _t(Task),
        _t(Onboarding),
        _t(Contact),
        _t(User),
        _t(Milestone),
    )
    item = _t(ReminderItem)
    # The owning CSM, while still an active member of the tenant: one who left keeps the
    # onboarding until it is reassigned, but no longer gets its customers' details by email.
    csm = f"""{user} u ON u.id = o.owner_id AND u.is_active AND EXISTS (
        SELECT 1 FROM {_t(Membership)} mb WHERE mb.user_id = u.id AND mb.tenant_id = o.tenant_id)"""

    access, membership = _t(PortalAccess), _t(Membership)
    # Contacts the onboarding may no longer tell things: an account deactivated; the vendor's
    # person with an account (linked, as the CRM import links the owning CSM's own contact, or by
    # address, as the stakeholder editor stores them) but no membership any more; the customer's
    # person whose portal access was revoked. A vendor person without any account is still
    # emailed. A vendor task whose contact is cut off falls back to the owning CSM, as an unnamed
    # one does. Few rows, found once (one pass over the tenant's contacts with hashed lookups)
    # rather than probed per task: per-row probes cost more than the rest of the build.
    cut_off = f"""
        SELECT c.id FROM {contact} c
        WHERE c.tenant_id = %(tenant)s AND (
            c.user_id IN (SELECT id FROM {user} WHERE NOT is_active)
            OR c.email IN (SELECT email FROM {user} WHERE NOT is_active)
            OR (c.onboarding_id, c.user_id) IN (
                SELECT onboarding_id, user_id FROM {access}
                WHERE tenant_id = %(tenant)s AND revoked_at IS NOT NULL)
            OR (c.side = 'vendor' AND EXISTS (
                SELECT 1 FROM {user} cu
                WHERE (cu.id = c.user_id OR cu.email = c.email) AND NOT EXISTS (
                    SELECT 1 FROM {membership} cm
                    WHERE cm.user_id = cu.id AND cm.tenant_id = c.tenant_id))))"""

    def reachable(c: str) -> str:
        return f"{c}.id NOT IN (SELECT id FROM cut_off)"

    columns = "t.tenant_id, t.id AS task_id, CAST(NULL AS BIGINT) AS milestone_id, 'task:' || t.id"
    open_tasks = f"""{task} t
        JOIN {onb} o ON o.id = t.onboarding_id AND o.tenant_id = t.tenant_id"""
    owned_tasks = f"""{open_tasks}
        LEFT JOIN {contact} c ON c.id = t.owner_contact_id AND c.tenant_id = t.tenant_id
         AND c.onboarding_id = t.onboarding_id
        LEFT JOIN {csm}"""
    blocked = """t.tenant_id = %(tenant)s AND t.status = 'blocked'
        AND t.blocked_on < %(blocked_by)s AND o.status <> 'closed'"""
    approaching = f"""{milestone} m
        JOIN {onb} o ON o.id = m.onboarding_id AND o.tenant_id = m.tenant_id"""
    milestone_columns = "m.tenant_id, CAST(NULL AS BIGINT), m.id, 'milestone:' || m.id"
    milestone_where = """m.tenant_id = %(tenant)s AND m.achieved_at IS NULL
        AND m.due_date BETWEEN %(today)s AND %(milestone_to)s AND o.status <> 'closed'"""
    return f"""
        WITH cut_off AS ({cut_off})
        -- due soon and due today: the open tasks due in today .. today + N
        SELECT {columns} AS item_key,
               CASE WHEN t.due_date > %(today)s THEN 'due_soon' ELSE 'due_today' END AS kind,
               t.due_date AS key_date, LOWER({TASK_OWNER}) AS recipient
        FROM {owned_tasks}
        WHERE t.tenant_id = %(tenant)s AND t.status <> 'complete' AND o.status <> 'closed'
          AND t.due_date BETWEEN %(today)s AND %(soon_to)s
        UNION ALL
        -- overdue: again every M days, so not if reminded of it in the last M days
        SELECT {columns}, 'overdue', %(today)s, LOWER({TASK_OWNER})
        FROM {owned_tasks}
        WHERE t.tenant_id = %(tenant)s AND t.status <> 'complete' AND o.status <> 'closed'
          AND t.due_date < %(today)s
          AND NOT EXISTS (
              SELECT 1 FROM {item} prev
              WHERE prev.tenant_id = t.tenant_id AND prev.kind = 'overdue'
                AND prev.item_key = 'task:' || t.id AND prev.key_date > %(overdue_since)s
                AND prev.recipient = LOWER({TASK_OWNER})
          )
        UNION ALL
        -- blocked more than K days: escalated to the owning CSM ...
        SELECT {columns}, 'blocked', t.blocked_on, LOWER(u.email)
        FROM {open_tasks} JOIN {csm}
        WHERE {blocked}
        UNION ALL
        -- ... and to every escalation contact of the onboarding, on both sides
        SELECT {columns}, 'blocked', t.blocked_on, LOWER(ec.email)
        FROM {open_tasks}
        JOIN {contact} ec ON ec.onboarding_id = o.id AND ec.tenant_id = t.tenant_id
         AND ec.is_escalation_contact AND {reachable("ec")}
        WHERE {blocked}
        UNION ALL
        -- milestones coming up: to the owning CSM ...
        SELECT {milestone_columns}, 'milestone', m.due_date, LOWER(u.email)
        FROM {approaching} JOIN {csm}
        WHERE {milestone_where}
        UNION ALL
        -- ... and to the customer's primary contact
        SELECT {milestone_columns}, 'milestone', m.due_date, LOWER(pc.email)
        FROM {approaching}
        JOIN {contact} pc ON pc.onboarding_id = o.id AND pc.tenant_id = m.tenant_id
         AND pc.is_primary AND pc.side = 'customer' AND {reachable("pc")}
        WHERE {milestone_where}
    """  # noqa: S608


def _items_select() -> str:
    """Every item due today, as rows of the items table, minus opt-outs."""
    optout = _t(NotificationOptOut)
    return f"""
        SELECT x.tenant_id, x.recipient, %(today)s AS queued_for, x.kind, x.item_key, x.key_date,
               x.task_id, x.milestone_id
        FROM ({_sources()}) x
        WHERE x.recipient IS NOT NULL AND x.recipient <> ''
          AND NOT EXISTS (
              SELECT 1 FROM {optout} oo
              WHERE oo.tenant_id = x.tenant_id AND LOWER(oo.email) = x.recipient
                AND oo.kind IN ('all', x.kind)
          )
    """  # noqa: S608


def _items_sql() -> str:
    """One INSERT ... SELECT of every kind of item. A conflict with the unique (recipient, item,
    kind, key date) means it was already recorded, by an earlier day or by the same row twice."""
    return f"""
        INSERT INTO {_t(ReminderItem)}
            (tenant_id, recipient, queued_for, kind, item_key, key_date, task_id, milestone_id)
        {_items_select()}
        ON CONFLICT DO NOTHING
    """  # noqa: S608


def _digests_sql(new_items: str) -> str:
    """One digest for each recipient of `new_items` (a table expression with a recipient)."""
    return f"""
        INSERT INTO {_t(ReminderDigest)}
            (tenant_id, recipient, recipient_name, for_date, state, attempts, next_attempt_at,
             last_error, created_at)
        SELECT DISTINCT %(tenant)s, recipient, '', %(today)s, 'pending', 0, %(now)s, '', %(now)s
        FROM {new_items}
        ON CONFLICT DO NOTHING
    """  # noqa: S608


def build_params(tenant: Tenant, today: dt.date, now: dt.datetime | None = None) -> dict:
    """The bound values of the build's statements: the tenant's N, M and K as dates."""
    day = connection.ops.adapt_datefield_value
    return {
        "tenant": tenant.pk,
        "today": day(today),
        "soon_to": day(today + dt.timedelta(days=tenant.reminder_days_ahead)),
        "overdue_since": day(today - dt.timedelta(days=tenant.overdue_repeat_days)),
        "blocked_by": day(today - dt.timedelta(days=tenant.blocked_escalation_days)),
        "milestone_to": day(today + dt.timedelta(days=tenant.milestone_days_ahead)),
        "now": connection.ops.adapt_datetimefield_value(now or timezone.now()),
    }


def due_items_count_sql() -> str:
    """The build's reading half alone: how many items it would record (for the benchmark)."""
    return f"SELECT COUNT(*) FROM ({_items_select()}) due"  # noqa: S608


def build_digests(tenant: Tenant, today: dt.date, now: dt.datetime | None = None) -> int | None:
    """Record today's reminder items and digests for `tenant` (the tenant in scope).

    Returns how many items were recorded, or None if another run already built this day. The
    DigestRun row is inserted first, in the same transaction: a second builder blocks on it and
    then finds it taken.
    """
    if current_tenant().pk != tenant.pk:
        raise ValueError("build_digests() runs inside the scope of the tenant it builds for")
    params = build_params(tenant, today, now)
    try:
        with transaction.atomic():
            DigestRun.objects.create(for_date=today)
            with connection.cursor() as cursor:
                if connection.vendor == "postgresql":
                    # The digests come from the rows just inserted, without reading them back.
                    cursor.execute(
                        f"""WITH new AS ({_items_sql()} RETURNING recipient),
                            digests AS ({_digests_sql("new")})
                            SELECT COUNT(*) FROM new""",  # noqa: S608
                        params,
                    )
                    return cursor.fetchone()[0]
                cursor.execute(_items_sql(), params)
                recorded = max(cursor.rowcount, 0)
                cursor.execute(
                    _digests_sql(
                        f"{_t(ReminderItem)} WHERE tenant_id = %(tenant)s"
                        " AND queued_for = %(today)s"
                    ),
                    params,
                )
                return recorded
    except IntegrityError:
        return None


def unsubscribe_token(tenant: Tenant, email: str, kind: str = "all") -> str:
    return signing.dumps(
        {"t": tenant.pk, "e": normalize_email(email), "k": kind}, salt=UNSUBSCRIBE_SALT
    )


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


def _still_due(item: ReminderItem) -> bool:
    # Items have no database-level foreign keys (see ReminderItem): the row may be gone.
    if item.task is not None:
        task = item.task
        if task.onboarding.status == Onboarding.Status.CLOSED:
            return False
        if item.kind == ReminderKind.BLOCKED:
            return task.status == Task.Status.BLOCKED
        return task.status != Task.Status.COMPLETE
    if item.milestone is not None:
        milestone = item.milestone
        return (
            milestone.achieved_at is None
            and milestone.onboarding.status != Onboarding.Status.CLOSED
        )
    return False


def _digest_context(tenant: Tenant, digest: ReminderDigest) -> dict:
    items = list(
        ReminderItem.objects.filter(recipient=digest.recipient, queued_for=digest.for_date)
        .select_related("task__onboarding__customer", "milestone__onboarding__customer")
        .order_by("kind", "key_date", "id")
    )
    # Read again at sending, which may be hours after the build (retries) or days (an admin's
    # send again): what was done, met, unblocked, closed or deleted since is left out.
    items = [item for item in items if _still_due(item)]
    # Opt-outs are read again at sending: one made after the build (say, while this digest waited
    # for a retry) still holds.
    opted_out = opted_out_kinds(digest.recipient)
    items = [item for item in items if "all" not in opted_out and item.kind not in opted_out]
    groups: dict[str, list[ReminderItem]] = {}
    for item in items:
        groups.setdefault(item.kind, []).append(item)
    labels = dict(ReminderKind.choices)
    name = name_for_address(digest.recipient)
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


def _claim(digest_id: int, now: dt.datetime) -> ReminderDigest | None:
    """The digest, claimed by this sender; None when another sender has it."""
    # The lease runs from the claim itself, not from the start of a sweep that may have been
    # sending for a while: a long sweep's digest in flight must not look abandoned.
    stamp = max(now, timezone.now())
    claimed = ReminderDigest.objects.filter(
        pk=digest_id, state=ReminderDigest.State.PENDING, next_attempt_at__lte=now
    ).update(state=ReminderDigest.State.SENDING, claimed_at=stamp)
    if not claimed:
        return None
    return ReminderDigest.objects.filter(pk=digest_id, claimed_at=stamp).first()


def _record(digest: ReminderDigest, **fields) -> None:
    """Write what became of a claimed digest, if this sender's claim still holds.

    A sender that stalled past its lease has lost it: the digest was marked uncertain, and an
    admin may have put it back to be sent again by another. Its late write changes nothing.
    """
    held = ReminderDigest.objects.filter(
        pk=digest.pk, state=ReminderDigest.State.SENDING, claimed_at=digest.claimed_at
    ).update(**fields)
    if not held:
        log.warning("digest %s: claim lost before recording %s", digest.pk, fields.get("state"))


def send_pending(tenant: Tenant, now: dt.datetime | None = None) -> tuple[int, int, int, int]:
    """Send every pending digest that is due; returns (sent, retried, failed, uncertain)."""
    now = now or timezone.now()
    # Every digest links to the tenant's canonical host several times: look it up once.
    prefetch_related_objects([tenant], "domains")
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
        digest = _claim(digest_id, now)
        if digest is None:
            continue  # another worker has it
        # Only building is guarded: an error there means nothing went out, so the digest may be
        # tried again. An error once the server has the message must never lead to a retry.
        try:
            prepared = _build_message(tenant, digest)
        except Exception as exc:  # noqa: BLE001 - any failure to build: nothing went out
            log.exception("digest %s to %s could not be built", digest.pk, digest.recipient)
            outcome = _not_sent(digest, digest.attempts + 1, now, exc)
        else:
            outcome = _deliver(digest, prepared, now)
        sent += outcome == "sent"
        retried += outcome == "retry"
        failed += outcome == "failed"
        uncertain += outcome == "uncertain"
    return sent, retried, failed, uncertain


def _build_message(
    tenant: Tenant, digest: ReminderDigest
) -> tuple[EmailMultiAlternatives, str] | None:
    """The digest's email and the recipient's name; None when nothing is left to send."""
    context = _digest_context(tenant, digest)
    if not context["count"]:
        return None
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
    return message, context["name"]


def _deliver(
    digest: ReminderDigest, prepared: tuple[EmailMultiAlternatives, str] | None, now: dt.datetime
) -> str:
    if prepared is None:
        _record(digest, state=ReminderDigest.State.SKIPPED)
        return "empty"
    message, name = prepared
    attempts = digest.attempts + 1
    outcome, error = deliver(message)
    if outcome == Outcome.NOT_SENT:
        return _not_sent(digest, attempts, now, error)
    if outcome != Outcome.SENT:
        # Rejected: certainly not sent, and a retry would fail alike. Uncertain: the server may
        # have taken it, so it is never resent. Both are for an admin to look at.
        state = (
            ReminderDigest.State.FAILED
            if outcome == Outcome.REJECTED
            else ReminderDigest.State.UNCERTAIN
        )
        _record(digest, state=state, attempts=attempts, last_error=repr(error)[:2000])
        log.warning("digest %s to %s: %s: %r", digest.pk, digest.recipient, outcome, error)
        return "failed" if outcome == Outcome.REJECTED else "uncertain"
    try:
        with transaction.atomic():  # a savepoint, should the caller hold a transaction
            _record(
                digest,
                state=ReminderDigest.State.SENT,
                sent_at=timezone.now(),
                attempts=attempts,
                recipient_name=name[:200],
            )
    except DatabaseError:
        # Sent, but not recorded: the claim stays, its lease runs out and the digest is shown
        # as uncertain. Never resent.
        log.exception("digest %s to %s was sent but not recorded", digest.pk, digest.recipient)
        return "uncertain"
    return "sent"


def _not_sent(digest: ReminderDigest, attempts: int, now: dt.datetime, exc: Exception) -> str:
    """The server refused or could not be reached: retry later with backoff, up to a limit."""
    if attempts >= MAX_ATTEMPTS:
        state, outcome, next_at = ReminderDigest.State.FAILED, "failed", now
    else:
        state, outcome = ReminderDigest.State.PENDING, "retry"
        next_at = now + RETRY_BASE * (2 ** (attempts - 1))
    _record(
        digest, state=state, attempts=attempts, next_attempt_at=next_at, last_error=repr(exc)[:2000]
    )
    log.warning("digest %s to %s not sent (%s): %r", digest.pk, digest.recipient, outcome, exc)
    return outcome


def opted_out_kinds(email: str) -> set[str]:
    return set(
        NotificationOptOut.objects.filter(email=normalize_email(email)).values_list(
            "kind", flat=True
        )
    )


def set_preferences(email: str, enabled: set[str]) -> None:
    """Turn kinds on and off for one person; 'all' off means none are sent."""
    email = normalize_email(email)
    with transaction.atomic():
        NotificationOptOut.objects.filter(email=email).delete()
        NotificationOptOut.objects.bulk_create(
            NotificationOptOut(email=email, kind=k) for k in ReminderKind.values if k not in enabled
        )


def unsubscribe(email: str, kind: str = "all") -> None:
    NotificationOptOut.objects.get_or_create(email=normalize_email(email), kind=kind)


def send_again(tenant: Tenant, digest_id: int, by: User, now: dt.datetime | None = None) -> bool:
    """An admin's decision to send a failed or uncertain digest once more, from its items as
    they are now, with a fresh set of attempts. False when it is no longer failed or uncertain
    (a second click, a stale page): a digest is put back at most once per decision.

    Never automatic: an uncertain digest may have arrived. Raises ReminderDigest.DoesNotExist
    for an id that is not this tenant's.
    """
    mine = ReminderDigest.objects.filter(pk=digest_id)
    changed = mine.filter(
        state__in=[ReminderDigest.State.FAILED, ReminderDigest.State.UNCERTAIN],
    ).update(
        state=ReminderDigest.State.PENDING,
        attempts=0,
        next_attempt_at=now or timezone.now(),
        claimed_at=None,
        last_error=f"Sent again by {by.email}.",
    )
    if not changed:
        if not mine.exists():
            raise ReminderDigest.DoesNotExist
        return False
    log.info("digest %s on tenant %s sent again by %s", digest_id, tenant.pk, by.pk)
    from onboarding.tasks import send_reminders

    transaction.on_commit(lambda: send_reminders.delay(tenant_id=tenant.pk))
    return True


def problem_digests():
    return ReminderDigest.objects.filter(
        Q(state=ReminderDigest.State.FAILED) | Q(state=ReminderDigest.State.UNCERTAIN)
    ).order_by("-for_date", "recipient")
