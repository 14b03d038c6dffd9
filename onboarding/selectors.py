"""Reads of the onboarding domain. Each runs a fixed number of queries whatever the data size."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Max, Prefetch, Q, QuerySet
from django.db.models.functions import TruncWeek
from django.utils import timezone

from accounts.models import User
from onboarding.models import (
    Contact,
    EngagementEvent,
    FaqEntry,
    KeyContact,
    Milestone,
    NpsResponse,
    Onboarding,
    PortalAccess,
    Task,
    TaskAttachment,
    TaskComment,
    TrainingCompletion,
    TrainingResource,
)
from onboarding.people import known_name
from portal.tenancy.context import current_tenant_or_none


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
class NextWatch:
    """What a client is waiting on when no open task is theirs: a vendor task or a milestone."""

    kind: str  # "task" or "milestone"
    title: str
    due_date: dt.date
    obj: Task | Milestone


def next_to_watch(tasks: list[Task], milestones: list[Milestone]) -> NextWatch | None:
    open_vendor = [t for t in tasks if t.owner_side == "vendor" and t.is_open]
    task = min(open_vendor, key=lambda t: (t.due_date, t.position, t.pk), default=None)
    if task is not None:
        return NextWatch("task", task.title, task.due_date, task)
    milestone = next((m for m in milestones if m.state != "done"), None)
    if milestone is not None:
        return NextWatch("milestone", milestone.name, milestone.due_date, milestone)
    return None


PHASES = [s for s in Onboarding.Status if s != Onboarding.Status.CLOSED]


@dataclass
class Phase:
    label: str
    state: str  # done, current, upcoming


def phases_of(onboarding: Onboarding) -> list[Phase]:
    order = list(Onboarding.Status)
    current = order.index(Onboarding.Status(onboarding.status))
    result = []
    for phase in PHASES:
        position = order.index(phase)
        state = "done" if position < current else "current" if position == current else "upcoming"
        result.append(Phase(phase.label, state))
    return result


def _milestone_states(
    milestones: list[Milestone], tasks: list[Task], today: dt.date, *, closed: bool = False
) -> None:
    """Each milestone's state on the timeline: done, overdue, next or upcoming; once the
    onboarding is closed an unmet one is "not met", nothing being next or late any more."""
    by_milestone: dict[int | None, list[Task]] = {}
    for task in tasks:
        by_milestone.setdefault(task.milestone_id, []).append(task)
    current_found = False
    for milestone in milestones:
        own = by_milestone.get(milestone.pk, [])
        milestone.task_total = len(own)
        milestone.task_done = sum(1 for t in own if t.status == Task.Status.COMPLETE)
        if milestone.achieved_at:
            milestone.state = "done"
        elif closed:
            milestone.state = "not_met"
        elif milestone.due_date < today:
            milestone.state = "overdue"
        elif not current_found:
            milestone.state = "next"
        else:
            milestone.state = "upcoming"
        if milestone.state in ("overdue", "next"):
            current_found = True


@dataclass
class TrainingGroup:
    audience: str
    resources: list[TrainingResource]


@dataclass
class PortalPage:
    onboarding: Onboarding
    tasks: list[Task]
    milestones: list[Milestone]
    phases: list[Phase]
    contacts: list[Contact]  # this onboarding's people: the vendor team and customer key contacts
    key_contacts: list[KeyContact]  # the tenant's key contacts, in every portal
    training_groups: list[TrainingGroup]
    knowledge_base: list[TrainingResource]
    training_total: int
    training_done: int
    faqs: list[FaqEntry]
    next_step: Task | None
    next_watch: NextWatch | None
    progress: int
    tasks_done: int
    onboardings: list[Onboarding]  # every onboarding the user may switch to, this one included
    other_onboardings: list[Onboarding]
    nps_open: bool
    nps_answer: NpsResponse | None
    today: dt.date

    @property
    def read_only(self) -> bool:
        return self.onboarding.status == Onboarding.Status.CLOSED

    # Kept for templates written against the first version of the page.
    @property
    def training(self) -> list[TrainingResource]:
        return [r for g in self.training_groups for r in g.resources] + self.knowledge_base


def portal_tasks(onboarding: Onboarding) -> QuerySet[Task]:
    """The plan as a client sees it, with counts of what a client may open on each task."""
    return plan_tasks(onboarding).annotate(
        public_comments=Count("comments", filter=Q(comments__internal=False), distinct=True),
        attachment_count=Count("attachments", distinct=True),
    )


def portal_page(onboarding: Onboarding, user: User, *, today: dt.date | None = None) -> PortalPage:
    """Everything on a client's portal page, in a fixed number of queries."""
    today = today or _tenant_today()
    tasks = list(portal_tasks(onboarding))
    done = sum(1 for t in tasks if t.status == Task.Status.COMPLETE)
    milestones = list(onboarding.milestones.all())
    _milestone_states(
        milestones, tasks, today, closed=onboarding.status == Onboarding.Status.CLOSED
    )

    resources = list(onboarding.training_resources.all())
    completed = dict(
        TrainingCompletion.objects.filter(resource__onboarding=onboarding, user=user).values_list(
            "resource_id", "completed_at"
        )
    )
    groups: dict[str, list[TrainingResource]] = {}
    knowledge_base = []
    for resource in resources:
        resource.done_at = completed.get(resource.pk)
        if resource.kind == TrainingResource.Kind.KNOWLEDGE_BASE:
            knowledge_base.append(resource)
        else:
            groups.setdefault(resource.audience.strip() or "Everyone", []).append(resource)

    onboardings = list(client_onboardings(user))
    nps_open = onboarding.status == Onboarding.Status.CLOSED
    # Closed, nothing is a next step any more: what was left open was carried forward.
    next_step = None if nps_open else next_client_step(tasks)
    return PortalPage(
        onboarding=onboarding,
        tasks=tasks,
        milestones=milestones,
        phases=phases_of(onboarding),
        contacts=list(
            onboarding.contacts.filter(Q(is_key_contact=True) | Q(side="vendor")).order_by(
                "side", "name"
            )
        ),
        key_contacts=list(KeyContact.objects.all()),
        training_groups=[TrainingGroup(a, rs) for a, rs in groups.items()],
        knowledge_base=knowledge_base,
        training_total=sum(len(rs) for rs in groups.values()),
        training_done=sum(1 for rs in groups.values() for r in rs if r.done_at),
        faqs=list(FaqEntry.objects.all()),
        next_step=next_step,
        next_watch=None if next_step or nps_open else next_to_watch(tasks, milestones),
        progress=progress_percent(done, len(tasks)),
        tasks_done=done,
        onboardings=onboardings,
        other_onboardings=[o for o in onboardings if o.pk != onboarding.pk],
        nps_open=nps_open,
        nps_answer=NpsResponse.objects.filter(onboarding=onboarding, user=user).first()
        if nps_open
        else None,
        today=today,
    )


def client_onboardings_with_progress(user: User) -> list[Onboarding]:
    """The switcher's list: each invited onboarding with its progress, in one query."""
    onboardings = list(
        client_onboardings(user).annotate(
            task_count=Count("tasks", distinct=True),
            tasks_done=Count("tasks", filter=Q(tasks__status=Task.Status.COMPLETE), distinct=True),
        )
    )
    for onboarding in onboardings:
        onboarding.progress = progress_percent(onboarding.tasks_done, onboarding.task_count)
    return onboardings


@dataclass
class TaskPage:
    onboarding: Onboarding
    task: Task
    comments: list[TaskComment]
    attachments: list[TaskAttachment]

    @property
    def client_may_edit(self) -> bool:
        return (
            self.task.owner_side == "customer"
            and self.onboarding.status != Onboarding.Status.CLOSED
        )


def task_comments(task: Task, *, include_internal: bool) -> list[TaskComment]:
    """The task's comments, oldest first, each with the name its onboarding knows its author
    by (`author_name`): one query."""
    comments = (
        task.comments.select_related("author")
        .annotate(author_name=known_name("author", "task__onboarding"))
        .order_by("created_at", "id")
    )
    if not include_internal:
        comments = comments.filter(internal=False)
    return list(comments)


def client_task_page(onboarding: Onboarding, task_id: int) -> TaskPage | None:
    """One task of the onboarding as a client sees it; None when the onboarding has no such task."""
    task = plan_tasks(onboarding).filter(pk=task_id).first()
    if task is None:
        return None
    return TaskPage(
        onboarding=onboarding,
        task=task,
        comments=task_comments(task, include_internal=False),
        attachments=task_attachments(task),
    )


def task_attachments(task: Task) -> list[TaskAttachment]:
    """The task's files, oldest first, each with the name its onboarding knows the uploader by
    (`uploader_name`): one query."""
    return list(
        task.attachments.select_related("uploaded_by")
        .annotate(uploader_name=known_name("uploaded_by", "task__onboarding"))
        .order_by("created_at", "id")
    )


def _tenant_today() -> dt.date:
    tenant = current_tenant_or_none()
    return tenant.local_today() if tenant is not None else dt.date.today()


# --- Engagement, for the CSM -------------------------------------------------------------------

ENGAGEMENT_WEEKS = 8


@dataclass
class WeekCount:
    start: dt.date  # the Monday
    count: int

    @property
    def label(self) -> str:
        year, week, _ = self.start.isocalendar()
        return f"{year}-W{week:02d}"


@dataclass
class StakeholderEngagement:
    access: PortalAccess
    name: str
    email: str
    invited_at: dt.datetime
    accepted_at: dt.datetime | None
    revoked: bool
    last_visit: dt.datetime | None
    last_sign_in: dt.datetime | None
    sign_ins: int
    visits: int
    resource_opens: int
    trainings_done: int
    weeks: list[WeekCount]

    @property
    def never_signed_in(self) -> bool:
        # Any trace of a session counts: whichever way they signed in, they were here.
        return (
            self.accepted_at is None
            and self.sign_ins == 0
            and self.visits == 0
            and self.last_visit is None
        )


@dataclass
class EngagementSummary:
    stakeholders: list[StakeholderEngagement]
    weeks: list[WeekCount]  # visits of all stakeholders per ISO week, oldest first
    recent: list[EngagementEvent]

    @property
    def never_signed_in(self) -> list[StakeholderEngagement]:
        return [s for s in self.stakeholders if s.never_signed_in and not s.revoked]

    @property
    def week_max(self) -> int:
        return max((w.count for w in self.weeks), default=0)

    @property
    def visits_in_window(self) -> int:
        return sum(w.count for w in self.weeks)


def _week_start(value: dt.datetime | dt.date, tz) -> dt.date:
    if isinstance(value, dt.datetime):
        value = value.astimezone(tz).date() if value.tzinfo else value.date()
    return value - dt.timedelta(days=value.weekday())


def engagement_summary(
    onboarding: Onboarding, *, now: dt.datetime | None = None, recent: int = 20
) -> EngagementSummary:
    """Who of the customer's invitees signs in, visits, opens and finishes what, in 5 queries.

    Weeks are ISO weeks (Monday to Sunday) in the tenant's time zone: the current one and the
    seven before it.
    """
    now = now or timezone.now()
    tz = (current_tenant_or_none() or onboarding.tenant).tz
    this_monday = _week_start(now, tz)
    mondays = [this_monday - dt.timedelta(weeks=i) for i in range(ENGAGEMENT_WEEKS - 1, -1, -1)]
    window_start = dt.datetime.combine(mondays[0], dt.time.min, tzinfo=tz)

    accesses = list(
        onboarding.accesses.select_related("contact", "user").order_by("contact__name", "id")
    )
    totals: dict[tuple[int, str], dict] = {
        (row["user_id"], row["kind"]): row
        for row in EngagementEvent.objects.filter(onboarding=onboarding)
        .order_by()
        .values("user_id", "kind")
        .annotate(n=Count("id"), last=Max("created_at"))
    }
    weekly: dict[tuple[int, dt.date], int] = {}
    for row in (
        EngagementEvent.objects.filter(
            onboarding=onboarding,
            kind=EngagementEvent.Kind.VISIT,
            created_at__gte=window_start,
            created_at__lte=now,
        )
        .annotate(week=TruncWeek("created_at", tzinfo=tz))
        .order_by()
        .values("user_id", "week")
        .annotate(n=Count("id"))
    ):
        key = (row["user_id"], _week_start(row["week"], tz))
        weekly[key] = weekly.get(key, 0) + row["n"]
    trainings = dict(
        TrainingCompletion.objects.filter(resource__onboarding=onboarding)
        .order_by()
        .values("user_id")
        .annotate(n=Count("id"))
        .values_list("user_id", "n")
    )

    def stat(user_id: int, kind: str, field: str, empty):
        return totals.get((user_id, kind), {}).get(field, empty)

    stakeholders = []
    for access in accesses:
        uid = access.user_id
        last_visit_event = stat(uid, EngagementEvent.Kind.VISIT, "last", None)
        seen = [v for v in (access.last_seen_at, last_visit_event) if v is not None]
        stakeholders.append(
            StakeholderEngagement(
                access=access,
                name=access.contact.name or access.user.get_full_name(),
                email=access.user.email,
                invited_at=access.invited_at,
                accepted_at=access.accepted_at,
                revoked=access.revoked_at is not None,
                last_visit=max(seen) if seen else None,
                last_sign_in=stat(uid, EngagementEvent.Kind.SIGN_IN, "last", None),
                sign_ins=stat(uid, EngagementEvent.Kind.SIGN_IN, "n", 0),
                visits=stat(uid, EngagementEvent.Kind.VISIT, "n", 0),
                resource_opens=stat(uid, EngagementEvent.Kind.RESOURCE_OPEN, "n", 0),
                trainings_done=trainings.get(uid, 0),
                weeks=[WeekCount(m, weekly.get((uid, m), 0)) for m in mondays],
            )
        )
    weeks = [WeekCount(m, sum(n for (_, week), n in weekly.items() if week == m)) for m in mondays]
    recent_events = list(
        EngagementEvent.objects.filter(onboarding=onboarding)
        .select_related("user", "resource")
        .annotate(user_name=known_name("user", "onboarding"))
        .order_by("-created_at", "-id")[:recent]
    )
    return EngagementSummary(stakeholders=stakeholders, weeks=weeks, recent=recent_events)


def training_progress(onboarding: Onboarding) -> list[TrainingResource]:
    """Each training resource with who among the client users marked it done, and when."""
    resources = list(
        onboarding.training_resources.prefetch_related(
            Prefetch(
                "completions",
                queryset=TrainingCompletion.objects.select_related("user")
                .annotate(user_name=known_name("user", "resource__onboarding"))
                .order_by("completed_at", "id"),
            )
        )
    )
    for resource in resources:
        resource.done_by = list(resource.completions.all())
    return resources
