"""The CSM workspace: the tenant's onboardings and each one's plan."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.access import member_required
from onboarding.selectors import (
    engagement_summary,
    onboardings_with_progress,
    plan_tasks,
    progress_percent,
    training_progress,
)


@member_required()
def onboarding_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(onboardings_with_progress(), 50).get_page(request.GET.get("page"))
    for onboarding in page:
        onboarding.progress = progress_percent(onboarding.tasks_done, onboarding.task_count)
    return render(request, "workspace/onboarding_list.html", {"page": page})


@member_required()
def onboarding_detail(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = onboardings_with_progress().filter(pk=onboarding_id).first()
    if onboarding is None:
        raise Http404
    onboarding.progress = progress_percent(onboarding.tasks_done, onboarding.task_count)
    context = {
        "onboarding": onboarding,
        "handoff": getattr(onboarding, "handoff", None),
        "tasks": list(plan_tasks(onboarding)),
        "milestones": list(onboarding.milestones.all()),
        "contacts": list(onboarding.contacts.all()),
        # What the client did: sign-ins, visits, resource opens, trainings finished.
        "engagement": engagement_summary(onboarding),
        "training": training_progress(onboarding),
    }
    return render(request, "workspace/onboarding_detail.html", context)
