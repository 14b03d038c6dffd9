"""The health score: six components, each 0-100, and their weighted mean.

Computed in the database, in one INSERT ... SELECT per tenant and day (per range of onboarding ids
for a large tenant, see compute_health), never in a Python loop per onboarding. Every score row
keeps the formula version it was computed with, so it can be explained later even after the
tenant changes its weights.

Windows are counted in the tenant's local calendar: `T` is the tenant's local date of the run, and
"the last 14 days" means the local days T-13 .. T (timestamps are compared with the UTC instants of
those local midnights, so a DST change moves nothing).

The components
--------------
usage
    ``min(100, 100 * A / seats)`` where A is the average ``UsageRecord.active_users`` of the
    onboarding's customer over the records dated T-13 .. T (days without a record are not
    counted) and seats come from the sales handoff. No seats (empty or 0), or no usage record in
    the window: a neutral **50** - we do not know, so it neither helps nor hurts.
support
    ``max(0, 100 - 20 * n)`` where n is the number of support tickets of the customer opened in
    the local days T-29 .. T. No tickets: 100; five or more: 0.
engagement
    ``min(100, 100 * D / (4 * I))`` where I is the number of client users invited to the
    onboarding (portal accesses not revoked) and D the number of distinct (user, local day) pairs
    among those users with a sign-in or a portal visit in T-13 .. T. The target is every invited
    user active on 4 of 14 days (twice a week). Nobody invited: **0** (a portal nobody was given
    is a risk in itself).
training
    ``100 * C / (R * I)`` where R is the number of the onboarding's training resources (sessions,
    videos, guides; the knowledge base is reference, not training), I as above and C the number of
    those resources marked done by those users. No resources: a neutral **50**; resources but
    nobody invited: 0.
on_time
    ``100 * on-time / due`` over the onboarding's tasks due before T (a task due today is not late
    yet). A task is on time when it is complete and its completion's local date is on or before its
    due date (a complete task without a completion time counts as on time). Nothing due yet: 100.
milestones
    ``100 * reached / due`` over the onboarding's milestones due before T. A milestone is reached
    when it has ``achieved_at``; ``services.plan.refresh_milestone`` sets it when the last of its
    tasks is completed (and clears it when one reopens), after every change of a task, so the
    score reads the one recorded fact instead of re-deriving it from the tasks of each milestone.
    Nothing due yet: 100.

Each component is rounded to one decimal; the score is ``sum(weight * component) / sum(weights)``
rounded to one decimal, with the weights of the tenant's latest HealthFormula (version 1 with the
defaults is created on first use). Band: green if score >= green_min, yellow if score >=
yellow_min, else red.

Which rows
----------
* ``kind='daily'``, ``for_date=T``: every onboarding that has started (start date on or before T)
  and is not closed.
* ``kind='day30'`` / ``'day90'``, ``for_date=T``: every onboarding (closed ones too: day-90 health
  is a renewal signal even after a short onboarding closed) whose ``start_date + 30`` (or 90)
  calendar days is T. Start dates are local calendar dates, so the target start dates are computed
  in Python and matched with ``start_date BETWEEN ...``. A snapshot whose day passed without a
  successful run (an outage, a failing tenant) is taken late, on the first run within
  ``SNAPSHOT_CATCH_UP_DAYS``, and dated the day it was taken; older start dates (an import of a
  deal closed months ago) get none rather than a "day 30" measured on day 200.

``ON CONFLICT DO NOTHING`` against the unique constraints (one score per onboarding, kind and day;
one snapshot per onboarding and kind) makes a rerun of a day change nothing, and a snapshot is
taken exactly once even if the start date is edited afterwards.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django.utils.safestring import SafeString

from accounts.models import Tenant
from onboarding.models import (
    EngagementEvent,
    HandoffDocument,
    HealthFormula,
    HealthScore,
    Milestone,
    Onboarding,
    PortalAccess,
    SupportTicket,
    Task,
    TrainingCompletion,
    TrainingResource,
    UsageRecord,
)
from portal.tenancy.context import tenant_context

COMPONENTS = HealthFormula.COMPONENTS
LABELS = {
    "usage": "Product usage",
    "support": "Support tickets",
    "engagement": "Portal engagement",
    "training": "Training completion",
    "on_time": "Tasks done on time",
    "milestones": "Milestone progress",
}
DESCRIPTIONS = {
    "usage": "Average daily active users over the last 14 days, against the contract's seats. "
    "No seats or no usage data: 50.",
    "support": "100 minus 20 for each support ticket opened in the last 30 days.",
    "engagement": "Days on which invited client users signed in or visited the portal in the "
    "last 14 days; 4 days per user is 100.",
    "training": "Share of the training resources marked done by the invited client users. "
    "No training resources: 50.",
    "on_time": "Share of the tasks due before today that were completed by their due date.",
    "milestones": "Share of the milestones due before today that were reached.",
}
NEUTRAL = 50
USAGE_DAYS = 14
SUPPORT_DAYS = 30
TICKET_PENALTY = 20
ENGAGEMENT_DAYS = 14
ACTIVE_DAYS_TARGET = 4  # per invited user, in the 14-day window
SNAPSHOTS = ((HealthScore.Kind.DAY30, 30), (HealthScore.Kind.DAY90, 90))
SNAPSHOT_CATCH_UP_DAYS = 7  # how late a missed snapshot is still taken


# --- The formula ---------------------------------------------------------------------------


def ensure_formula(tenant: Tenant) -> HealthFormula:
    """The tenant's formula in force (its latest version); creates version 1 with the defaults."""
    with tenant_context(tenant):
        formula = HealthFormula.objects.order_by("-version").first()
        if formula is not None:
            return formula
        try:
            with transaction.atomic():
                return HealthFormula.objects.create(version=1)
        except IntegrityError:  # a concurrent run created it first
            return HealthFormula.objects.get(version=1)


class FormulaError(ValueError):
    pass


def new_formula_version(tenant: Tenant, **changes: int) -> HealthFormula:
    """Put a new version of the formula in force; scores already computed keep their version.

    `changes` are weights (`w_usage`, ... `w_milestones`) and thresholds (`green_min`,
    `yellow_min`); anything not given is carried over from the version in force.
    """
    allowed = {f"w_{c}" for c in COMPONENTS} | {"green_min", "yellow_min"}
    unknown = set(changes) - allowed
    if unknown:
        raise FormulaError(f"Unknown formula fields: {', '.join(sorted(unknown))}")
    with tenant_context(tenant), transaction.atomic():
        current = ensure_formula(tenant)
        values = {name: getattr(current, name) for name in allowed}
        values.update({k: int(v) for k, v in changes.items()})
        if any(values[f"w_{c}"] < 0 for c in COMPONENTS) or not sum(
            values[f"w_{c}"] for c in COMPONENTS
        ):
            raise FormulaError("Weights must be zero or more, and at least one above zero.")
        if not 0 <= values["yellow_min"] <= values["green_min"] <= 100:
            raise FormulaError("Thresholds must satisfy 0 <= yellow <= green <= 100.")
        return HealthFormula.objects.create(version=current.version + 1, **values)


# --- The computation -----------------------------------------------------------------------


def _local_midnight(tenant: Tenant, day: dt.date) -> dt.datetime:
    """The UTC instant at which `day` begins in the tenant's zone."""
    return dt.datetime.combine(day, dt.time.min, tzinfo=tenant.tz).astimezone(dt.UTC)


def _local_date_sql(column: str, tzname: str, params: dict[str, Any], prefix: str) -> str:
    """SQL for the tenant-local calendar date of a timestamp column, on either backend."""
    sql, extra = connection.ops.datetime_cast_date_sql(column, (), tzname)
    for i, value in enumerate(extra):
        name = f"{prefix}{i}"
        sql = sql.replace("%s", f"%({name})s", 1)
        params[name] = value
    return sql


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _health_sql(
    tzname: str, params: dict[str, Any], *, insert: bool = True, partitioned: bool = False
) -> str:
    t = {
        "onboarding": _table(Onboarding),
        "handoff": _table(HandoffDocument),
        "usage": _table(UsageRecord),
        "ticket": _table(SupportTicket),
        "access": _table(PortalAccess),
        "event": _table(EngagementEvent),
        "resource": _table(TrainingResource),
        "completion": _table(TrainingCompletion),
        "task": _table(Task),
        "milestone": _table(Milestone),
        "score": _table(HealthScore),
    }

    def part(column: str) -> str:
        """Keep the rows of this run's share of the onboardings (see compute_health)."""
        if not partitioned:
            return ""
        return f" AND {column} >= %(part_from)s AND {column} < %(part_to)s"

    def part_customer(column: str) -> str:
        if not partitioned:
            return ""
        scope = f"po.tenant_id = %(tenant)s{part('po.id')}"
        return f" AND {column} IN (SELECT po.customer_id FROM {t['onboarding']} po WHERE {scope})"  # noqa: S608

    event_day = _local_date_sql("e.created_at", tzname, params, "tz_e")
    done_day = _local_date_sql("k.completed_at", tzname, params, "tz_k")
    # Table names come from model metadata and every value is a bound parameter.
    # INSERT comes first: Python's sqlite3 reports rowcount only for statements that start with it.
    head = f"""INSERT INTO {t["score"]} (
    tenant_id, onboarding_id, formula_id, kind, for_date,
    usage, support, engagement, training, on_time, milestones, score, band, computed_at
)"""  # noqa: S608
    if not insert:  # the same computation, counted instead of written (for the benchmark)
        head = "SELECT COUNT(*), SUM(s.score) FROM ("
    sql = f"""
{head}
WITH usage_c AS (
    SELECT u.customer_id, AVG(u.active_users) AS avg_users
    FROM {t["usage"]} u
    WHERE u.tenant_id = %(tenant)s AND u.date >= %(usage_from)s AND u.date <= %(today)s
      {part_customer("u.customer_id")}
    GROUP BY u.customer_id
), tickets_c AS (
    SELECT s.customer_id, COUNT(*) AS n
    FROM {t["ticket"]} s
    WHERE s.tenant_id = %(tenant)s
      AND s.opened_at >= %(tickets_from)s AND s.opened_at < %(day_end)s
      {part_customer("s.customer_id")}
    GROUP BY s.customer_id
), invited_c AS (
    SELECT a.onboarding_id, COUNT(*) AS n
    FROM {t["access"]} a
    WHERE a.tenant_id = %(tenant)s AND a.revoked_at IS NULL{part("a.onboarding_id")}
    GROUP BY a.onboarding_id
), engaged_c AS (
    SELECT d.onboarding_id, COUNT(*) AS n
    FROM (
        SELECT e.onboarding_id, e.user_id, {event_day} AS day
        FROM {t["event"]} e
        JOIN {t["access"]} a
          ON a.onboarding_id = e.onboarding_id AND a.user_id = e.user_id
         AND a.tenant_id = %(tenant)s AND a.revoked_at IS NULL
        WHERE e.tenant_id = %(tenant)s AND e.kind IN (%(sign_in)s, %(visit)s)
          AND e.created_at >= %(engagement_from)s AND e.created_at < %(day_end)s
          {part("e.onboarding_id")}
        GROUP BY e.onboarding_id, e.user_id, {event_day}
    ) d
    GROUP BY d.onboarding_id
), resources_c AS (
    SELECT r.onboarding_id, COUNT(*) AS n
    FROM {t["resource"]} r
    WHERE r.tenant_id = %(tenant)s AND r.kind <> %(kb)s{part("r.onboarding_id")}
    GROUP BY r.onboarding_id
), completed_c AS (
    SELECT r.onboarding_id, COUNT(*) AS n
    FROM {t["completion"]} c
    JOIN {t["resource"]} r ON r.id = c.resource_id
    JOIN {t["access"]} a
      ON a.onboarding_id = r.onboarding_id AND a.user_id = c.user_id
     AND a.tenant_id = %(tenant)s AND a.revoked_at IS NULL
    WHERE c.tenant_id = %(tenant)s AND r.tenant_id = %(tenant)s AND r.kind <> %(kb)s
      AND c.completed_at < %(day_end)s
      {part("r.onboarding_id")}
    GROUP BY r.onboarding_id
), tasks_c AS (
    SELECT k.onboarding_id, COUNT(*) AS due,
           SUM(CASE WHEN k.status = %(complete)s
                     AND (k.completed_at IS NULL OR {done_day} <= k.due_date)
                    THEN 1 ELSE 0 END) AS on_time
    FROM {t["task"]} k
    WHERE k.tenant_id = %(tenant)s AND k.due_date < %(today)s{part("k.onboarding_id")}
    GROUP BY k.onboarding_id
), milestones_c AS (
    SELECT m.onboarding_id, COUNT(*) AS due, COUNT(m.achieved_at) AS reached
    FROM {t["milestone"]} m
    WHERE m.tenant_id = %(tenant)s AND m.due_date < %(today)s{part("m.onboarding_id")}
    GROUP BY m.onboarding_id
), comp AS (
    SELECT o.id AS onboarding_id, o.status, o.start_date,
        ROUND(CAST(CASE
            WHEN h.seats IS NULL OR h.seats = 0 OR uc.avg_users IS NULL THEN %(neutral)s
            WHEN 100.0 * uc.avg_users / h.seats > 100 THEN 100
            ELSE 100.0 * uc.avg_users / h.seats END AS NUMERIC), 1) AS usage,
        ROUND(CAST(CASE
            WHEN COALESCE(tc.n, 0) * %(penalty)s >= 100 THEN 0
            ELSE 100 - COALESCE(tc.n, 0) * %(penalty)s END AS NUMERIC), 1) AS support,
        ROUND(CAST(CASE
            WHEN COALESCE(ic.n, 0) = 0 THEN 0
            WHEN 100.0 * COALESCE(ec.n, 0) / (%(active_target)s * ic.n) > 100 THEN 100
            ELSE 100.0 * COALESCE(ec.n, 0) / (%(active_target)s * ic.n) END AS NUMERIC), 1)
            AS engagement,
        ROUND(CAST(CASE
            WHEN COALESCE(rc.n, 0) = 0 THEN %(neutral)s
            WHEN COALESCE(ic.n, 0) = 0 THEN 0
            WHEN 100.0 * COALESCE(cc.n, 0) / (rc.n * ic.n) > 100 THEN 100
            ELSE 100.0 * COALESCE(cc.n, 0) / (rc.n * ic.n) END AS NUMERIC), 1) AS training,
        ROUND(CAST(CASE
            WHEN COALESCE(kc.due, 0) = 0 THEN 100
            ELSE 100.0 * kc.on_time / kc.due END AS NUMERIC), 1) AS on_time,
        ROUND(CAST(CASE
            WHEN COALESCE(mc.due, 0) = 0 THEN 100
            ELSE 100.0 * mc.reached / mc.due END AS NUMERIC), 1) AS milestones
    FROM {t["onboarding"]} o
    LEFT JOIN {t["handoff"]} h ON h.onboarding_id = o.id AND h.tenant_id = %(tenant)s
    LEFT JOIN usage_c uc ON uc.customer_id = o.customer_id
    LEFT JOIN tickets_c tc ON tc.customer_id = o.customer_id
    LEFT JOIN invited_c ic ON ic.onboarding_id = o.id
    LEFT JOIN engaged_c ec ON ec.onboarding_id = o.id
    LEFT JOIN resources_c rc ON rc.onboarding_id = o.id
    LEFT JOIN completed_c cc ON cc.onboarding_id = o.id
    LEFT JOIN tasks_c kc ON kc.onboarding_id = o.id
    LEFT JOIN milestones_c mc ON mc.onboarding_id = o.id
    WHERE o.tenant_id = %(tenant)s{part("o.id")} AND o.start_date <= %(today)s
      AND (o.status <> %(closed)s
           OR o.start_date BETWEEN %(start30_from)s AND %(start30)s
           OR o.start_date BETWEEN %(start90_from)s AND %(start90)s)
), scored AS (
    SELECT c.*,
        ROUND(CAST(1.0 * (
            %(w_usage)s * c.usage + %(w_support)s * c.support
            + %(w_engagement)s * c.engagement + %(w_training)s * c.training
            + %(w_on_time)s * c.on_time + %(w_milestones)s * c.milestones
        ) / %(w_total)s AS NUMERIC), 1) AS score
    FROM comp c
)
SELECT %(tenant)s, s.onboarding_id, %(formula)s, s.kind, %(today)s,
    s.usage, s.support, s.engagement, s.training, s.on_time, s.milestones, s.score,
    CASE WHEN s.score >= %(green_min)s THEN %(green)s
         WHEN s.score >= %(yellow_min)s THEN %(yellow)s
         ELSE %(red)s END,
    %(now)s
FROM (
    SELECT scored.*, %(daily)s AS kind FROM scored WHERE status <> %(closed)s
    UNION ALL
    SELECT scored.*, %(day30)s AS kind FROM scored
    WHERE start_date BETWEEN %(start30_from)s AND %(start30)s
    UNION ALL
    SELECT scored.*, %(day90)s AS kind FROM scored
    WHERE start_date BETWEEN %(start90_from)s AND %(start90)s
) s
WHERE s.onboarding_id IS NOT NULL
"""  # noqa: S608
    return sql + ("ON CONFLICT DO NOTHING\n" if insert else ") s\n")


def snapshot_start_dates(today: dt.date) -> dict[str, dt.date]:
    """The start dates whose day-30 and day-90 fall on `today` (plain calendar arithmetic)."""
    return {kind: today - dt.timedelta(days=days) for kind, days in SNAPSHOTS}


def snapshot_start_ranges(today: dt.date) -> dict[str, tuple[dt.date, dt.date]]:
    """Per snapshot kind, the start dates (first, last) whose snapshot is due today: on its day,
    or late by up to SNAPSHOT_CATCH_UP_DAYS."""
    late = dt.timedelta(days=SNAPSHOT_CATCH_UP_DAYS)
    return {kind: (day - late, day) for kind, day in snapshot_start_dates(today).items()}


def health_statement(
    tenant: Tenant,
    today: dt.date,
    formula: HealthFormula,
    *,
    insert: bool = True,
    part: tuple[int, int] | None = None,
) -> tuple[str, dict]:
    """The INSERT ... SELECT of `compute_health` and its parameters; with insert=False the same
    computation as a SELECT of the row count and score total (for the benchmark). `part=(a, b)`
    limits it to the onboardings with a <= id < b."""
    weights = formula.weights()
    total = sum(weights.values())
    if total <= 0:
        raise FormulaError("The health formula's weights add up to zero.")
    ops = connection.ops
    ranges = snapshot_start_ranges(today)
    params: dict[str, Any] = {
        "tenant": tenant.pk,
        "formula": formula.pk,
        "today": ops.adapt_datefield_value(today),
        "usage_from": ops.adapt_datefield_value(today - dt.timedelta(days=USAGE_DAYS - 1)),
        "start30_from": ops.adapt_datefield_value(ranges[HealthScore.Kind.DAY30][0]),
        "start30": ops.adapt_datefield_value(ranges[HealthScore.Kind.DAY30][1]),
        "start90_from": ops.adapt_datefield_value(ranges[HealthScore.Kind.DAY90][0]),
        "start90": ops.adapt_datefield_value(ranges[HealthScore.Kind.DAY90][1]),
        "day_end": ops.adapt_datetimefield_value(
            _local_midnight(tenant, today + dt.timedelta(days=1))
        ),
        "tickets_from": ops.adapt_datetimefield_value(
            _local_midnight(tenant, today - dt.timedelta(days=SUPPORT_DAYS - 1))
        ),
        "engagement_from": ops.adapt_datetimefield_value(
            _local_midnight(tenant, today - dt.timedelta(days=ENGAGEMENT_DAYS - 1))
        ),
        "now": ops.adapt_datetimefield_value(timezone.now()),
        "closed": Onboarding.Status.CLOSED,
        "complete": Task.Status.COMPLETE,
        "sign_in": EngagementEvent.Kind.SIGN_IN,
        "visit": EngagementEvent.Kind.VISIT,
        "kb": TrainingResource.Kind.KNOWLEDGE_BASE,
        "daily": HealthScore.Kind.DAILY,
        "day30": HealthScore.Kind.DAY30,
        "day90": HealthScore.Kind.DAY90,
        "green": HealthScore.Band.GREEN,
        "yellow": HealthScore.Band.YELLOW,
        "red": HealthScore.Band.RED,
        "neutral": NEUTRAL,
        "penalty": TICKET_PENALTY,
        "active_target": ACTIVE_DAYS_TARGET,
        "green_min": formula.green_min,
        "yellow_min": formula.yellow_min,
        "w_total": total,
        **{f"w_{name}": weight for name, weight in weights.items()},
    }
    if part is not None:
        params["part_from"], params["part_to"] = part
    return _health_sql(
        tenant.time_zone, params, insert=insert, partitioned=part is not None
    ), params


def compute_health(tenant: Tenant, today: dt.date, *, parts: int | None = None) -> int:
    """Score every active onboarding of the tenant for its local date `today`; take the day-30 and
    day-90 snapshots due today. Returns the number of rows written (0 on a rerun of the same day).

    One INSERT ... SELECT per part. PostgreSQL runs an INSERT ... SELECT in one process, so a
    large tenant is split into `parts` ranges of onboarding ids that run at once, each on its
    own connection and in its own transaction: the work spreads over the database's cores. A part
    that fails leaves the others' rows, which are complete scores; the retry of the day writes
    only what is missing (ON CONFLICT DO NOTHING), so the day still ends with one score each.
    """
    formula = ensure_formula(tenant)
    ranges = _id_ranges(tenant, health_parts(tenant) if parts is None else parts)
    if len(ranges) == 1:
        return _compute_part(tenant, today, formula, None)
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        # SQLite takes one writer at a time, and other connections would not see the caller's
        # uncommitted rows: run the parts in turn on this connection.
        return sum(_compute_part(tenant, today, formula, r) for r in ranges)
    threads = min(len(ranges), settings.HEALTH_MAX_PARTS)  # each holds a database connection
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="health") as pool:
        futures = [pool.submit(_compute_part_in_thread, tenant, today, formula, r) for r in ranges]
        return sum(f.result() for f in futures)


def health_parts(tenant: Tenant) -> int:
    """How many parts to split the tenant's run into: one per HEALTH_ONBOARDINGS_PER_PART
    onboardings, at most HEALTH_MAX_PARTS; always one on SQLite."""
    if connection.vendor != "postgresql":
        return 1
    with tenant_context(tenant):
        onboardings = Onboarding.objects.count()
    return max(
        1, min(settings.HEALTH_MAX_PARTS, onboardings // settings.HEALTH_ONBOARDINGS_PER_PART)
    )


def _id_ranges(tenant: Tenant, parts: int) -> list[tuple[int, int]]:
    """`parts` half-open ranges of onboarding ids with about as many onboardings each, read in one
    statement (one snapshot, so the ranges never overlap). Ranges, not id modulo n: the planner
    estimates a range from its statistics and keeps its hash joins."""
    if parts <= 1:
        return [(0, 0)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT MIN(id) FROM (
                    SELECT id, NTILE(%s) OVER (ORDER BY id) AS part
                    FROM {_table(Onboarding)} WHERE tenant_id = %s
                ) numbered GROUP BY part ORDER BY 1""",  # noqa: S608 - a quoted table name
            [parts, tenant.pk],
        )
        starts = [row[0] for row in cursor.fetchall()]
    if len(starts) < parts:
        return [(0, 0)]
    bounds = [0, *starts[1:], 2**63 - 1]
    return [(bounds[i], bounds[i + 1]) for i in range(parts)]


def _compute_part_in_thread(
    tenant: Tenant, today: dt.date, formula: HealthFormula, part: tuple[int, int]
) -> int:
    # A thread starts with no tenant in scope and opens its own connection.
    try:
        return _compute_part(tenant, today, formula, part)
    finally:
        connection.close()  # this thread's own connection


def _compute_part(
    tenant: Tenant, today: dt.date, formula: HealthFormula, part: tuple[int, int] | None
) -> int:
    with tenant_context(tenant), transaction.atomic():
        sql, params = health_statement(tenant, today, formula, part=part)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # Compiling this one statement with LLVM costs more than it saves (measured by
                # `manage.py bench`: about 1.3 s of 4.5 s at 100,000 onboardings).
                cursor.execute("SET LOCAL jit = off")
            cursor.execute(sql, params)
            return max(cursor.rowcount, 0)


# --- Explaining a score --------------------------------------------------------------------


@dataclass(frozen=True)
class Contribution:
    component: str
    value: float
    weight: int
    contribution: float  # points of the score this component brings: value * weight / total

    @property
    def label(self) -> str:
        return LABELS[self.component]

    @property
    def description(self) -> str:
        return DESCRIPTIONS[self.component]

    def __iter__(self):  # unpacks as (component, value, weight, contribution)
        return iter((self.component, self.value, self.weight, self.contribution))


def explain(score: HealthScore) -> list[Contribution]:
    """Each component's value, weight and contribution (points of the score) under the formula
    version the score was computed with. The contributions add up to the score (to rounding)."""
    weights = score.formula.weights()
    total = sum(weights.values()) or 1
    return [
        Contribution(
            component=name,
            value=getattr(score, name),
            weight=weights[name],
            contribution=round(getattr(score, name) * weights[name] / total, 1),
        )
        for name in COMPONENTS
    ]


@dataclass(frozen=True)
class ComponentChange:
    component: str
    previous: float
    current: float

    @property
    def label(self) -> str:
        return LABELS[self.component]

    @property
    def delta(self) -> float:
        return round(self.current - self.previous, 1)


@dataclass
class Changes:
    previous: HealthScore | None
    score_delta: float = 0.0
    band_changed: bool = False
    formula_changed: bool = False
    components: list[ComponentChange] = field(default_factory=list)  # only those that moved

    @property
    def any(self) -> bool:
        return bool(
            self.components or self.score_delta or self.band_changed or self.formula_changed
        )


def _changes(score: HealthScore, previous: HealthScore | None) -> Changes:
    if previous is None:
        return Changes(previous=None)
    moved = [
        ComponentChange(name, getattr(previous, name), getattr(score, name))
        for name in COMPONENTS
        if round(getattr(score, name) - getattr(previous, name), 1) != 0
    ]
    return Changes(
        previous=previous,
        score_delta=round(score.score - previous.score, 1),
        band_changed=score.band != previous.band,
        formula_changed=score.formula_id != previous.formula_id,
        components=moved,
    )


def previous_score(score: HealthScore) -> HealthScore | None:
    """The daily score before this one (for a snapshot: the last daily score before its day)."""
    return (
        HealthScore.objects.select_related("formula")
        .filter(
            onboarding_id=score.onboarding_id,
            kind=HealthScore.Kind.DAILY,
            for_date__lt=score.for_date,
        )
        .order_by("-for_date")
        .first()
    )


def changes_since_previous(score: HealthScore) -> Changes:
    """What moved since the previous daily score: the score, the band, each component, and
    whether the formula version changed in between."""
    return _changes(score, previous_score(score))


# --- For the onboarding page and the portfolio list ------------------------------------------

TREND_DAYS = 90


@dataclass
class HealthPanel:
    """Context of templates/onboarding/_health.html (as `health`)."""

    current: HealthScore | None
    contributions: list[Contribution]
    changes: Changes
    trend: list[HealthScore]  # daily scores, oldest first
    day30: HealthScore | None
    day90: HealthScore | None
    chart: SafeString | str

    @property
    def formula(self) -> HealthFormula | None:
        return self.current.formula if self.current else None

    @property
    def total_weight(self) -> int:
        return sum(c.weight for c in self.contributions)


def health_panel(onboarding: Onboarding, *, days: int = TREND_DAYS) -> HealthPanel:
    """Everything the health panel shows, in one query: the latest daily score explained, what
    changed since the one before, the trend of the last `days` scores and the two snapshots."""
    from onboarding.charts import line_chart

    scores = list(
        HealthScore.objects.select_related("formula")
        .filter(onboarding=onboarding)
        .order_by("-for_date", "kind", "-id")
    )
    daily = [
        s
        for s in scores
        if s.kind == HealthScore.Kind.DAILY and s.for_date >= onboarding.start_date
    ]
    current = daily[0] if daily else None
    previous = daily[1] if len(daily) > 1 else None
    trend = list(reversed(daily[:days]))
    snapshots = {s.kind: s for s in scores if s.kind != HealthScore.Kind.DAILY}
    chart: SafeString | str = ""
    if trend:
        chart = line_chart(
            [(s.for_date, s.score) for s in trend],
            title=f"Health score of {onboarding.name}, last {len(trend)} days",
            y_max=100,
            thresholds=[
                (current.formula.green_min, "green"),
                (current.formula.yellow_min, "yellow"),
            ],
        )
    return HealthPanel(
        current=current,
        contributions=explain(current) if current else [],
        changes=_changes(current, previous) if current else Changes(previous=None),
        trend=trend,
        day30=snapshots.get(HealthScore.Kind.DAY30),
        day90=snapshots.get(HealthScore.Kind.DAY90),
        chart=chart,
    )


def with_current_health(queryset):
    """Annotate onboardings with their latest daily score: `health_score`, `health_band` and
    `health_date` (None when never scored). One subquery per column, no extra queries; for the
    portfolio list and templates/onboarding/_health_badge.html."""
    # Scores dated before the start date are from before the start was moved later: not current.
    latest = HealthScore.objects.filter(
        onboarding=OuterRef("pk"),
        kind=HealthScore.Kind.DAILY,
        for_date__gte=OuterRef("start_date"),
    ).order_by("-for_date")
    return queryset.annotate(
        health_score=Subquery(latest.values("score")[:1]),
        health_band=Subquery(latest.values("band")[:1]),
        health_date=Subquery(latest.values("for_date")[:1]),
    )
