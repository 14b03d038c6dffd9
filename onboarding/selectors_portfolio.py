"""Reads of the portfolio: the tenant's onboardings on one page, and everything overdue.

Every figure a row shows is an annotation of one query (correlated subqueries, never a join that
multiplies rows), so a page of 25 costs the same queries as a page of 2, and the page can be
filtered and sorted by any of them in the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    Case,
    Count,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Lower

from accounts.models import Role, Tenant, User
from onboarding.health import with_current_health
from onboarding.models import Milestone, Onboarding, Task

PAGE_SIZE = 25

# sort parameter -> the ordering it means; "-key" reverses it. Ties break on the id so pages are
# stable (an onboarding never shows on two pages).
SORTS = {
    "customer": Lower("customer__name"),
    "start": F("start_date"),
    "progress": F("progress"),
    "next_milestone": F("next_milestone_date"),
    "overdue": F("overdue_count"),
}
DEFAULT_SORT = "-start"
OPEN_STATUSES = [s.value for s in Task.Status if s != Task.Status.COMPLETE]


def _task_count(**conditions) -> Coalesce:
    """How many of the outer onboarding's tasks match `conditions`, as a scalar subquery."""
    counted = (
        Task.objects.filter(onboarding=OuterRef("pk"), **conditions)
        .order_by()
        .values("onboarding")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def open_milestones() -> QuerySet[Milestone]:
    """Milestones not met yet. Met means `achieved_at` is set, the one fact every reader uses
    (portal, checklists, metrics, health, reminders); `services.plan.refresh_milestone` keeps it
    in step with the milestone's tasks."""
    return Milestone.objects.filter(achieved_at__isnull=True)


def with_portfolio_figures(queryset: QuerySet[Onboarding], today: dt.date) -> QuerySet[Onboarding]:
    """Annotate: task_count, tasks_done, tasks_blocked, overdue_count, progress (0-100),
    next_milestone_name / next_milestone_date, and the latest daily health (health_band,
    health_score, health_date). `today` is the tenant's local date: a task due today is not late.
    """
    next_milestone = (
        open_milestones()
        .filter(onboarding=OuterRef("pk"))
        .order_by("position", "due_date", "id")  # the portal's order: the first one not met
    )
    queryset = queryset.annotate(
        task_count=_task_count(),
        tasks_done=_task_count(status=Task.Status.COMPLETE),
        # A closed onboarding is read-only: what it left open is carried forward, not late or
        # blocked.
        tasks_blocked=Case(
            When(status=Onboarding.Status.CLOSED, then=Value(0)),
            default=_task_count(status=Task.Status.BLOCKED),
            output_field=IntegerField(),
        ),
        overdue_count=Case(
            When(status=Onboarding.Status.CLOSED, then=Value(0)),
            default=_task_count(due_date__lt=today, status__in=OPEN_STATUSES),
            output_field=IntegerField(),
        ),
        # Nor is anything next once closed.
        next_milestone_name=Case(
            When(status=Onboarding.Status.CLOSED, then=Value(None)),
            default=Subquery(next_milestone.values("name")[:1]),
        ),
        next_milestone_date=Case(
            When(status=Onboarding.Status.CLOSED, then=Value(None)),
            default=Subquery(next_milestone.values("due_date")[:1]),
        ),
    ).annotate(
        progress=Case(
            When(task_count=0, then=Value(0.0)),
            default=100.0 * Cast("tasks_done", FloatField()) / Cast("task_count", FloatField()),
            output_field=FloatField(),
        )
    )
    return with_current_health(queryset)


@dataclass(frozen=True)
class PortfolioFilters:
    status: str = ""
    model: str = ""
    csm: User | None = None
    overdue: bool = False
    blocked: bool = False
    q: str = ""
    sort: str = DEFAULT_SORT


def portfolio(tenant: Tenant, filters: PortfolioFilters, *, today: dt.date | None = None):
    """The dashboard's onboardings of `tenant` (the tenant in scope), filtered and sorted."""
    today = today or tenant.local_today()
    queryset = with_portfolio_figures(Onboarding.objects.select_related("customer", "owner"), today)
    if filters.status:
        queryset = queryset.filter(status=filters.status)
    if filters.model:
        queryset = queryset.filter(model=filters.model)
    if filters.csm is not None:
        queryset = queryset.filter(owner=filters.csm)
    if filters.overdue:
        queryset = queryset.filter(overdue_count__gt=0)
    if filters.blocked:
        queryset = queryset.filter(tasks_blocked__gt=0)
    if filters.q.strip():
        queryset = queryset.filter(customer__name__icontains=filters.q.strip())
    return queryset.order_by(*ordering(filters.sort))


def ordering(sort: str) -> list:
    descending = sort.startswith("-")
    expression = SORTS.get(sort.lstrip("-"))
    if expression is None:
        return ordering(DEFAULT_SORT)
    # Rows without a value (no open milestone) go last either way.
    term = expression.desc(nulls_last=True) if descending else expression.asc(nulls_last=True)
    return [term, "id"]


def staff_of(tenant: Tenant) -> QuerySet[User]:
    """Members of the tenant who can own an onboarding (the CSM filter's choices)."""
    return (
        User.objects.filter(
            memberships__tenant=tenant, memberships__role__in=[Role.CSM, Role.ADMIN]
        )
        .order_by("full_name", "email")
        .distinct()
    )


def overdue_tasks(tenant: Tenant, *, today: dt.date | None = None, owner: User | None = None):
    """Open tasks due before the tenant's today, across onboardings that are not closed, most
    overdue first. `owner`: only onboardings that CSM owns."""
    today = today or tenant.local_today()
    queryset = (
        Task.objects.filter(due_date__lt=today, status__in=OPEN_STATUSES)
        .exclude(onboarding__status=Onboarding.Status.CLOSED)
        .select_related("onboarding__customer", "onboarding__owner", "owner_contact", "milestone")
        .order_by("due_date", "onboarding__customer__name", "position", "id")
    )
    if owner is not None:
        queryset = queryset.filter(onboarding__owner=owner)
    return queryset
