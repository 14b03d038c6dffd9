"""Reads of the onboarding domain. Each runs a fixed number of queries whatever the data size."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Prefetch, Q, QuerySet

from accounts.models import User
from onboarding.models import (
    Contact,
    FaqEntry,
    Milestone,
    Onboarding,
    PortalAccess,
    Task,
    TrainingResource,
)


def onboardings_with_progress() -> QuerySet[Onboarding]:
    """The tenant's onboardings annotated with task totals, for lists and the API."""
    return (
        Onboarding.objects.select_related("customer", "owner")
        .annotate(
            task_count=Count("tasks", distinct=True),
            tasks_done=Count("tasks", filter=Q(tasks__status=Task.Status.COMPLETE), distinct=True),
            tasks_blocked=Count(
                "tasks", filter=Q(tasks__status=Task.Status.BLOCKED), distinct=True
            ),
        )
        .order_by("-start_date", "id")
    )


def progress_percent(done: int, total: int) -> int:
    return round(100 * done / total) if total else 0


def client_onboardings(user: User) -> QuerySet[Onboarding]:
    """Onboardings this client user was invited to (and not revoked from) in the current tenant."""
    return (
        Onboarding.objects.filter(accesses__user=user, accesses__revoked_at__isnull=True)
        .select_related("customer")
        .order_by("-start_date", "id")
        .distinct()
    )


def has_portal_access(user: User) -> bool:
    return PortalAccess.objects.filter(user=user, revoked_at__isnull=True).exists()


def plan_tasks(onboarding: Onboarding) -> QuerySet[Task]:
    return (
        onboarding.tasks.select_related("owner_contact", "milestone")
        .prefetch_related(Prefetch("depends_on", queryset=Task.objects.only("id", "title")))
        .order_by("due_date", "position", "id")
    )


def next_client_step(tasks: list[Task]) -> Task | None:
    """The earliest open task the customer side owns: the portal's one clear next action."""
    open_customer = [t for t in tasks if t.owner_side == "customer" and t.is_open]
    return min(open_customer, key=lambda t: (t.due_date, t.position, t.pk), default=None)


@dataclass
class PortalPage:
    onboarding: Onboarding
    tasks: list[Task]
    milestones: list[Milestone]
    key_contacts: list[Contact]
    training: list[TrainingResource]
    faqs: list[FaqEntry]
    next_step: Task | None
    progress: int
    other_onboardings: list[Onboarding]


def portal_page(onboarding: Onboarding, user: User) -> PortalPage:
    tasks = list(plan_tasks(onboarding))
    done = sum(1 for t in tasks if t.status == Task.Status.COMPLETE)
    milestones = list(onboarding.milestones.all())
    by_milestone: dict[int, list[Task]] = {}
    for task in tasks:
        by_milestone.setdefault(task.milestone_id, []).append(task)
    for milestone in milestones:
        own = by_milestone.get(milestone.pk, [])
        milestone.task_total = len(own)
        milestone.task_done = sum(1 for t in own if t.status == Task.Status.COMPLETE)
    return PortalPage(
        onboarding=onboarding,
        tasks=tasks,
        milestones=milestones,
        key_contacts=list(
            onboarding.contacts.filter(Q(is_key_contact=True) | Q(side="vendor")).order_by(
                "side", "name"
            )
        ),
        training=list(onboarding.training_resources.all()),
        faqs=list(FaqEntry.objects.all()),
        next_step=next_client_step(tasks),
        progress=progress_percent(done, len(tasks)),
        other_onboardings=[o for o in client_onboardings(user) if o.pk != onboarding.pk],
    )
