"""Playbooks: install the defaults, and start an onboarding from one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction

from accounts.models import Tenant
from onboarding import playbook_defaults as defaults
from onboarding.models import (
    Customer,
    HandoffDocument,
    Milestone,
    Onboarding,
    Playbook,
    PlaybookMilestone,
    PlaybookTask,
    Task,
    TaskDependency,
    TrainingResource,
)
from portal.tenancy.context import tenant_context


@transaction.atomic
def install_default_playbooks(tenant: Tenant) -> list[Playbook]:
    with tenant_context(tenant):
        installed = []
        for model in defaults.ALL:
            playbook, created = Playbook.objects.get_or_create(
                name=defaults.NAMES[model],
                defaults={
                    "model": model,
                    "length_days": defaults.LENGTH_DAYS[model],
                    "is_default": True,
                },
            )
            installed.append(playbook)
            if not created:
                continue
            milestones = {
                m.key: PlaybookMilestone(
                    playbook=playbook,
                    key=m.key,
                    name=m.name,
                    success_criteria=m.success_criteria,
                    due_offset_days=defaults.offset(m.at, model),
                    position=i,
                    is_first_value=m.key == defaults.FIRST_VALUE_MILESTONE,
                )
                for i, m in enumerate(defaults.MILESTONES)
            }
            PlaybookMilestone.objects.bulk_create(milestones.values())
            keys = {t.key for t in defaults.TASKS if model in t.models}
            PlaybookTask.objects.bulk_create(
                PlaybookTask(
                    playbook=playbook,
                    milestone=milestones[t.milestone],
                    key=t.key,
                    phase=t.phase,
                    title=t.title,
                    owner_side=t.owner_side,
                    due_offset_days=defaults.offset(t.at, model),
                    # A dependency on a step this model skips would point nowhere.
                    depends_on_keys=[k for k in t.depends_on if k in keys],
                    position=i,
                )
                for i, t in enumerate(defaults.TASKS)
                if model in t.models
            )
        return installed


def playbook_for_amount(tenant: Tenant, amount: Decimal) -> Playbook:
    """The tenant's default playbook for the model its thresholds give this contract value."""
    if amount >= tenant.high_touch_min_amount:
        model = "high"
    elif amount >= tenant.mid_touch_min_amount:
        model = "mid"
    else:
        model = "low"
    return Playbook.objects.get(model=model, is_default=True)


@transaction.atomic
def start_onboarding(
    *,
    customer: Customer,
    playbook: Playbook,
    start_date: dt.date,
    name: str,
    owner=None,
    crm_source: str = "",
    crm_record_id: str = "",
) -> Onboarding:
    """Create the onboarding, its empty handoff and its plan with concrete due dates.

    Dates are calendar dates in the tenant's zone: the start date is the local signature date and
    offsets add whole days, so no time-of-day or DST shift can move a due date.
    """
    onboarding = Onboarding.objects.create(
        customer=customer,
        name=name,
        model=playbook.model,
        start_date=start_date,
        owner=owner,
        playbook=playbook,
        crm_source=crm_source,
        crm_record_id=crm_record_id,
    )
    HandoffDocument.objects.create(onboarding=onboarding)
    template_milestones = list(playbook.milestones.all())
    milestones = Milestone.objects.bulk_create(
        Milestone(
            onboarding=onboarding,
            name=m.name,
            success_criteria=m.success_criteria,
            due_date=start_date + dt.timedelta(days=m.due_offset_days),
            position=m.position,
            is_first_value=m.is_first_value,
        )
        for m in template_milestones
    )
    milestone_by_template = {
        m.pk: new for m, new in zip(template_milestones, milestones, strict=True)
    }
    template_tasks = list(playbook.tasks.all())
    tasks = Task.objects.bulk_create(
        Task(
            onboarding=onboarding,
            milestone=milestone_by_template.get(t.milestone_id),
            title=t.title,
            description=t.description,
            owner_side=t.owner_side,
            due_date=start_date + dt.timedelta(days=t.due_offset_days),
            position=t.position,
        )
        for t in template_tasks
    )
    task_by_key = {t.key: new for t, new in zip(template_tasks, tasks, strict=True)}
    TaskDependency.objects.bulk_create(
        TaskDependency(task=task_by_key[t.key], depends_on=task_by_key[key])
        for t in template_tasks
        for key in t.depends_on_keys
        if key in task_by_key
    )
    # The playbook's training material, copied: later playbook edits leave this onboarding alone.
    TrainingResource.objects.bulk_create(
        TrainingResource(
            onboarding=onboarding,
            title=r.title,
            kind=r.kind,
            url=r.url,
            audience=r.audience,
            position=r.position,
        )
        for r in playbook.resources.all()
    )
    return onboarding
