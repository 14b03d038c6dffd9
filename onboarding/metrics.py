"""Success metrics of a tenant's onboardings, for the metrics page and its CSV export.

Every figure is computed from a fixed number of queries (seven), whatever the number of
onboardings; dates are the tenant's local calendar dates. Definitions:

Time to first value (TTFV)
    Days from the onboarding's start date to the day its first-value milestone was reached
    (``Milestone.is_first_value``, copied from the playbook, so each playbook chooses it). Reached
    means ``achieved_at``, in the tenant's local calendar, as for every other reader of milestones.
    Onboardings that have not reached it are counted as "not yet" and left out of the median and
    the distribution.
Milestone completion rate within the onboarding period
    Of the onboardings whose outcome is known, the share that reached every milestone (same rule)
    on or before start + the playbook's length in days (the model's default length without a
    playbook). Known: all reached in time (a success, even before the period ends), or the period
    is over (a miss). Onboardings without milestones are left out.
Health at day 30 and day 90
    The fixed snapshots taken by ``onboarding.health`` on those days: distribution of scores and
    counts per band.
Support tickets in the first 90 days
    Tickets of the onboarding's customer opened on local days start .. start + 89. Averages and
    the distribution count only onboardings whose 90 days are over.
NPS at close
    Answers of client users to the question sent at close: NPS = % promoters (9-10) minus %
    detractors (0-6), from -100 to 100; the comments are listed.

Filters: touch model, CSM (the onboarding's owner) and start month.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncDate

from accounts.models import Tenant
from onboarding import playbook_defaults
from onboarding.models import (
    HealthScore,
    Milestone,
    NpsResponse,
    Onboarding,
    SupportTicket,
    TouchModel,
)
from onboarding.people import known_name

TICKET_WINDOW_DAYS = 90
TTFV_BUCKETS = [(0, 7), (8, 14), (15, 30), (31, 60), (61, 90), (91, None)]
TICKET_BUCKETS = [(0, 0), (1, 2), (3, 5), (6, 10), (11, None)]
SCORE_BUCKETS = [(lo, lo + 10) for lo in range(0, 100, 10)]
BANDS = ("green", "yellow", "red")
MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")


# --- Filters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    model: str = ""
    csm: int | None = None
    month: dt.date | None = None  # the first day of the start month

    @classmethod
    def from_query(cls, query) -> tuple[Filters, list[str]]:
        """Read ?model=&csm=&month=YYYY-MM; an invalid value is ignored and reported."""
        errors = []
        model = (query.get("model") or "").strip()
        if model and model not in TouchModel.values:
            errors.append("Unknown onboarding model; showing every model.")
            model = ""
        csm_raw = (query.get("csm") or "").strip()
        csm = None
        if csm_raw:
            if csm_raw.isdigit() and len(csm_raw) < 19:
                csm = int(csm_raw)
            else:
                errors.append("Unknown CSM; showing every CSM.")
        month = None
        month_raw = (query.get("month") or "").strip()
        if month_raw:
            match = MONTH_RE.match(month_raw)
            try:
                month = dt.date(int(match[1]), int(match[2]), 1) if match else None
            except ValueError:
                month = None
            if month is None:
                errors.append("Give the start month as YYYY-MM; showing every month.")
        return cls(model=model, csm=csm, month=month), errors

    def apply(self, queryset: QuerySet[Onboarding]) -> QuerySet[Onboarding]:
        if self.model:
            queryset = queryset.filter(model=self.model)
        if self.csm is not None:
            queryset = queryset.filter(owner_id=self.csm)
        if self.month is not None:
            queryset = queryset.filter(
                start_date__year=self.month.year, start_date__month=self.month.month
            )
        return queryset

    @property
    def month_value(self) -> str:
        return f"{self.month:%Y-%m}" if self.month else ""

    def as_params(self) -> dict[str, str]:
        params = {"model": self.model, "csm": str(self.csm or ""), "month": self.month_value}
        return {k: v for k, v in params.items() if v}


# --- Per onboarding --------------------------------------------------------------------------


@dataclass
class OnboardingMetrics:
    onboarding: Onboarding
    period_end: dt.date
    first_value_date: dt.date | None = None
    milestones_total: int = 0
    milestones_in_period: bool | None = None  # True met, False missed, None not known yet
    tickets_90: int = 0
    tickets_window_complete: bool = False
    day30: HealthScore | None = None  # only score and band are loaded
    day90: HealthScore | None = None
    nps: list[NpsResponse] = field(default_factory=list)

    @property
    def ttfv_days(self) -> int | None:
        if self.first_value_date is None:
            return None
        return max(0, (self.first_value_date - self.onboarding.start_date).days)

    @property
    def csm_name(self) -> str:
        owner = self.onboarding.owner
        return owner.get_full_name() if owner else "Unassigned"

    @property
    def milestone_outcome(self) -> str:
        if not self.milestones_total:
            return "no milestones"
        return {True: "met", False: "missed", None: "in progress"}[self.milestones_in_period]


# --- Aggregates ------------------------------------------------------------------------------


def _bucket_label(lo: int, hi: int | None, unit: str = "") -> str:
    if hi is None:
        return f"{lo}+{unit}"
    return f"{lo}{unit}" if lo == hi else f"{lo}–{hi}{unit}"


def _buckets(values: list[float], bounds: list[tuple[int, int | None]]) -> list[tuple[str, int]]:
    counts = []
    for lo, hi in bounds:
        n = sum(1 for v in values if v >= lo and (hi is None or v <= hi))
        counts.append((_bucket_label(lo, hi), n))
    return counts


def _score_buckets(scores: list[float]) -> list[tuple[str, int]]:
    counts = []
    for lo, hi in SCORE_BUCKETS:
        last = hi == 100
        n = sum(1 for s in scores if lo <= s < hi or (last and s == 100))
        counts.append((f"{lo}–{hi if last else hi - 1}", n))
    return counts


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass
class TtfvGroup:
    label: str
    total: int
    reached: list[int]

    @property
    def median(self) -> float | None:
        return _median(self.reached)

    @property
    def within_30(self) -> int:
        return sum(1 for d in self.reached if d <= 30)


@dataclass
class RateGroup:
    label: str
    met: int = 0
    missed: int = 0
    open: int = 0

    @property
    def rate(self) -> float | None:
        decided = self.met + self.missed
        return round(100 * self.met / decided, 1) if decided else None


@dataclass
class HealthSnapshotStats:
    kind: str
    scores: list[float]
    bands: dict[str, int]

    @property
    def median(self) -> float | None:
        return _median(self.scores)

    @property
    def distribution(self) -> list[tuple[str, int]]:
        return _score_buckets(self.scores)


@dataclass
class NpsStats:
    responses: list[NpsResponse]

    @property
    def count(self) -> int:
        return len(self.responses)

    @property
    def promoters(self) -> int:
        return sum(1 for r in self.responses if r.score >= 9)

    @property
    def passives(self) -> int:
        return sum(1 for r in self.responses if 7 <= r.score <= 8)

    @property
    def detractors(self) -> int:
        return sum(1 for r in self.responses if r.score <= 6)

    @property
    def score(self) -> int | None:
        """% promoters - % detractors, rounded half away from zero (12.5 is 13, -12.5 is -13,
        as NPS is usually reported; Python's round() would give 12); None with no answers."""
        if not self.responses:
            return None
        net = Fraction(100 * (self.promoters - self.detractors), self.count)
        return int(math.copysign(math.floor(abs(net) + Fraction(1, 2)), net))

    @property
    def distribution(self) -> list[tuple[int, int]]:
        counts = Counter(r.score for r in self.responses)
        return [(s, counts.get(s, 0)) for s in range(11)]

    @property
    def comments(self) -> list[NpsResponse]:
        return sorted(
            (r for r in self.responses if r.comment.strip()),
            key=lambda r: (r.created_at, r.pk),
            reverse=True,
        )


@dataclass
class MetricsReport:
    today: dt.date
    rows: list[OnboardingMetrics]
    ttfv_overall: TtfvGroup
    ttfv_by_model: list[TtfvGroup]
    ttfv_by_csm: list[TtfvGroup]
    milestones: RateGroup
    milestones_by_model: list[RateGroup]
    day30: HealthSnapshotStats
    day90: HealthSnapshotStats
    tickets_complete: list[int]  # per onboarding whose 90 days are over
    tickets_open_windows: int
    nps: NpsStats

    @property
    def ttfv_distribution(self) -> list[tuple[str, int]]:
        return _buckets(self.ttfv_overall.reached, TTFV_BUCKETS)

    @property
    def tickets_mean(self) -> float | None:
        if not self.tickets_complete:
            return None
        return round(sum(self.tickets_complete) / len(self.tickets_complete), 1)

    @property
    def tickets_median(self) -> float | None:
        return _median(self.tickets_complete)

    @property
    def tickets_distribution(self) -> list[tuple[str, int]]:
        return _buckets(self.tickets_complete, TICKET_BUCKETS)


# --- The report ------------------------------------------------------------------------------


def _period_days(onboarding: Onboarding) -> int:
    if onboarding.playbook is not None:
        return onboarding.playbook.length_days
    return playbook_defaults.LENGTH_DAYS.get(onboarding.model, 90)


def _reached_on(row: dict, tz) -> dt.date | None:
    """The local date a milestone was reached, or None."""
    if row["achieved_at"] is None:
        return None
    return row["achieved_at"].astimezone(tz).date()


def metrics_report(
    tenant: Tenant, filters: Filters | None = None, *, today: dt.date | None = None
) -> MetricsReport:
    """The metrics of the tenant in scope, filtered; five queries."""
    filters = filters or Filters()
    tz = tenant.tz
    today = today or tenant.local_today()
    base = filters.apply(Onboarding.objects.all())
    onboardings = list(
        base.select_related("customer", "owner", "playbook").order_by("start_date", "id")
    )
    rows = {
        o.pk: OnboardingMetrics(o, o.start_date + dt.timedelta(days=_period_days(o)))
        for o in onboardings
    }

    milestones = (
        Milestone.objects.filter(onboarding__in=base)
        .order_by()
        .values("id", "onboarding_id", "is_first_value", "achieved_at")
    )
    reached_by: dict[int, list[dt.date | None]] = defaultdict(list)
    for m in milestones:
        row = rows.get(m["onboarding_id"])
        if row is None:
            continue
        reached = _reached_on(m, tz)
        reached_by[row.onboarding.pk].append(reached)
        if m["is_first_value"] and reached is not None:
            if row.first_value_date is None or reached < row.first_value_date:
                row.first_value_date = reached
    for pk, dates in reached_by.items():
        row = rows[pk]
        row.milestones_total = len(dates)
        if all(d is not None and d <= row.period_end for d in dates):
            row.milestones_in_period = True
        elif today > row.period_end:
            row.milestones_in_period = False

    # Health snapshots.
    for s in (
        HealthScore.objects.filter(
            onboarding__in=base, kind__in=[HealthScore.Kind.DAY30, HealthScore.Kind.DAY90]
        )
        .order_by()
        .only("id", "onboarding_id", "kind", "score", "band", "for_date")
    ):
        row = rows.get(s.onboarding_id)
        if row is not None:
            setattr(row, s.kind, s)

    # Support tickets per customer and local day; summed over each onboarding's first 90 days.
    per_customer: dict[int, list[tuple[dt.date, int]]] = defaultdict(list)
    for t in (
        SupportTicket.objects.filter(customer__in=base.values("customer_id"))
        .annotate(day=TruncDate("opened_at", tzinfo=tz))
        .order_by()
        .values("customer_id", "day")
        .annotate(n=Count("id"))
    ):
        per_customer[t["customer_id"]].append((t["day"], t["n"]))
    for row in rows.values():
        start = row.onboarding.start_date
        end = start + dt.timedelta(days=TICKET_WINDOW_DAYS)
        row.tickets_90 = sum(
            n for day, n in per_customer.get(row.onboarding.customer_id, []) if start <= day < end
        )
        row.tickets_window_complete = today >= end

    # NPS answers.
    responses = list(
        NpsResponse.objects.filter(onboarding__in=base)
        .select_related("user")
        .annotate(user_name=known_name("user", "onboarding"))
        .order_by("created_at", "id")
    )
    for r in responses:
        row = rows.get(r.onboarding_id)
        if row is not None:
            r.onboarding = row.onboarding  # no query per answer in templates
            row.nps.append(r)

    ordered = list(rows.values())
    return MetricsReport(
        today=today,
        rows=ordered,
        ttfv_overall=_ttfv_group("All", ordered),
        ttfv_by_model=[
            _ttfv_group(label, [r for r in ordered if r.onboarding.model == value])
            for value, label in TouchModel.choices
        ],
        ttfv_by_csm=[
            _ttfv_group(name, group)
            for name, group in sorted(
                _group_by(ordered, lambda r: r.csm_name).items(),
                key=lambda item: (item[0] == "Unassigned", item[0].lower()),
            )
        ],
        milestones=_rate_group("All", ordered),
        milestones_by_model=[
            _rate_group(label, [r for r in ordered if r.onboarding.model == value])
            for value, label in TouchModel.choices
        ],
        day30=_snapshot_stats("day30", [r.day30 for r in ordered]),
        day90=_snapshot_stats("day90", [r.day90 for r in ordered]),
        tickets_complete=[r.tickets_90 for r in ordered if r.tickets_window_complete],
        tickets_open_windows=sum(1 for r in ordered if not r.tickets_window_complete),
        nps=NpsStats(responses),
    )


def _group_by(rows, key) -> dict[str, list[OnboardingMetrics]]:
    groups: dict[str, list[OnboardingMetrics]] = defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return groups


def _ttfv_group(label: str, rows: list[OnboardingMetrics]) -> TtfvGroup:
    return TtfvGroup(
        label=label,
        total=len(rows),
        reached=sorted(r.ttfv_days for r in rows if r.ttfv_days is not None),
    )


def _rate_group(label: str, rows: list[OnboardingMetrics]) -> RateGroup:
    group = RateGroup(label)
    for r in rows:
        if not r.milestones_total:
            continue
        if r.milestones_in_period is True:
            group.met += 1
        elif r.milestones_in_period is False:
            group.missed += 1
        else:
            group.open += 1
    return group


def _snapshot_stats(kind: str, snapshots: list[HealthScore | None]) -> HealthSnapshotStats:
    taken = [s for s in snapshots if s is not None]
    bands = Counter(s.band for s in taken)
    return HealthSnapshotStats(
        kind=kind, scores=[s.score for s in taken], bands={b: bands.get(b, 0) for b in BANDS}
    )


# --- For the filter form ---------------------------------------------------------------------


def filter_choices() -> dict:
    """The CSMs who own onboardings and the start months there are; two queries."""
    owners = (
        Onboarding.objects.exclude(owner=None)
        .order_by()
        .values_list("owner_id", "owner__full_name", "owner__email")
        .distinct()
    )
    return {
        "models": TouchModel.choices,
        "csms": sorted(
            ((pk, name or email) for pk, name, email in owners), key=lambda c: c[1].lower()
        ),
        "months": [
            (f"{d:%Y-%m}", f"{d:%B %Y}")
            for d in Onboarding.objects.dates("start_date", "month", order="DESC")
        ],
    }


# --- On the onboarding page ------------------------------------------------------------------


def nps_summary(onboarding: Onboarding) -> NpsStats:
    """The NPS answers of one onboarding (templates/metrics/_onboarding_nps.html); one query."""
    return NpsStats(
        list(
            onboarding.nps.select_related("user")
            .annotate(user_name=known_name("user", "onboarding"))
            .order_by("created_at", "id")
        )
    )
