"""The CSM workspace: the portfolio, one onboarding's overview, its checklist ticks and activity.

Every member reads; only CSMs and admins change anything (viewers and account executives get the
404 an unknown page gets). Objects are looked up through the tenant-scoped managers, so another
tenant's ids answer exactly like missing ones.
"""

from __future__ import annotations

from dataclasses import replace

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_POST

from accounts.access import member_required
from accounts.models import Role
from onboarding import checklists
from onboarding.health import health_panel
from onboarding.metrics import nps_summary
from onboarding.models import ActivityEntry, Onboarding, TouchModel
from onboarding.people import known_name
from onboarding.selectors import engagement_summary, plan_tasks, training_progress
from onboarding.selectors_portfolio import (
    PAGE_SIZE,
    PortfolioFilters,
    overdue_tasks,
    portfolio,
    staff_of,
    with_portfolio_figures,
)

RUNNING_ROLES = (Role.CSM, Role.ADMIN)
OVERDUE_PAGE_SIZE = 50
ACTIVITY_PAGE_SIZE = 50
NEXT_TASKS = 5

SORT_CHOICES = [
    ("-start", "Newest first"),
    ("start", "Oldest first"),
    ("customer", "Customer A–Z"),
    ("-customer", "Customer Z–A"),
    ("progress", "Least progress"),
    ("-progress", "Most progress"),
    ("next_milestone", "Next milestone soonest"),
    ("-next_milestone", "Next milestone latest"),
    ("-overdue", "Most overdue tasks"),
    ("overdue", "Fewest overdue tasks"),
]
# Columns whose header sorts the table: (sort key, label).
SORT_COLUMNS = {"customer": "Customer", "progress": "Progress", "next_milestone": "Next milestone"}


class PortfolioFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100, label="Customer")
    status = forms.ChoiceField(
        required=False, choices=[("", "Any step"), *Onboarding.Status.choices], label="Step"
    )
    model = forms.ChoiceField(
        required=False, choices=[("", "Any model"), *TouchModel.choices], label="Model"
    )
    csm = forms.ModelChoiceField(queryset=None, required=False, empty_label="Any CSM", label="CSM")
    overdue = forms.BooleanField(required=False, label="With overdue tasks")
    blocked = forms.BooleanField(required=False, label="With blocked tasks")
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES, label="Sort")

    def __init__(self, *args, tenant, with_csm: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        # Members of this tenant only: another tenant's user id is "not a valid choice", exactly
        # like an id that exists nowhere.
        self.fields["csm"].queryset = staff_of(tenant)
        self.fields["csm"].label_from_instance = lambda user: user.get_full_name()
        if not with_csm:
            del self.fields["csm"]

    def filters(self) -> PortfolioFilters:
        """The valid part of the request: a bad value is reported next to its field and ignored."""
        self.is_valid()
        data = self.cleaned_data
        return PortfolioFilters(
            status=data.get("status") or "",
            model=data.get("model") or "",
            csm=data.get("csm"),
            overdue=bool(data.get("overdue")),
            blocked=bool(data.get("blocked")),
            q=data.get("q") or "",
            sort=data.get("sort") or PortfolioFilters.sort,
        )


def _sort_headers(current: str) -> dict[str, dict]:
    """Each sortable column: the sort its header link asks for, and its aria-sort state."""
    headers = {}
    for key, label in SORT_COLUMNS.items():
        if current == key:
            headers[key] = {"label": label, "sort": f"-{key}", "aria": "ascending"}
        elif current == f"-{key}":
            headers[key] = {"label": label, "sort": key, "aria": "descending"}
        else:
            headers[key] = {"label": label, "sort": key, "aria": ""}
    return headers


def _dashboard(request: HttpRequest, *, mine: bool) -> HttpResponse:
    tenant = request.tenant
    form = PortfolioFilterForm(request.GET or None, tenant=tenant, with_csm=not mine)
    filters = form.filters() if form.is_bound else PortfolioFilters()
    if mine:
        filters = replace(filters, csm=request.user)
    today = tenant.local_today()
    page = Paginator(portfolio(tenant, filters, today=today), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "workspace/onboarding_list.html",
        {
            "page": page,
            "form": form,
            "mine": mine,
            "today": today,
            "sort": filters.sort,
            "headers": _sort_headers(filters.sort),
            "filtered": form.is_bound
            and any(v for k, v in request.GET.items() if k not in ("page", "sort")),
        },
    )


@member_required()
def onboarding_list(request: HttpRequest) -> HttpResponse:
    return _dashboard(request, mine=False)


@member_required()
def my_onboardings(request: HttpRequest) -> HttpResponse:
    return _dashboard(request, mine=True)


@member_required()
def overdue(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    today = tenant.local_today()
    mine = request.GET.get("mine") == "1"
    tasks = overdue_tasks(tenant, today=today, owner=request.user if mine else None)
    page = Paginator(tasks, OVERDUE_PAGE_SIZE).get_page(request.GET.get("page"))
    for task in page:
        task.days_overdue = (today - task.due_date).days
    return render(request, "workspace/overdue.html", {"page": page, "mine": mine, "today": today})


def _onboarding(onboarding_id: int, tenant) -> Onboarding:
    queryset = with_portfolio_figures(
        Onboarding.objects.select_related("customer", "owner").filter(pk=onboarding_id),
        tenant.local_today(),
    )
    onboarding = queryset.first()
    if onboarding is None:
        raise Http404
    onboarding.progress = round(onboarding.progress)
    return onboarding


def _url_or_none(name: str, **kwargs) -> str | None:
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


@member_required()
def onboarding_detail(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    tenant = request.tenant
    onboarding = _onboarding(onboarding_id, tenant)
    tasks = list(plan_tasks(onboarding))
    context = {
        "onboarding": onboarding,
        "current_tab": "overview",
        "can_run": request.membership.role in RUNNING_ROLES
        and onboarding.status != Onboarding.Status.CLOSED,
        "checklists": checklists.phase_checklists(tenant, onboarding),
        "handoff": getattr(onboarding, "handoff", None),
        "tasks": tasks,
        # Closed, nothing is next: what was left open was carried forward.
        "next_tasks": []
        if onboarding.status == Onboarding.Status.CLOSED
        else [t for t in tasks if t.is_open][:NEXT_TASKS],
        "plan_url": _url_or_none("workspace:plan", onboarding_id=onboarding.pk),
        "milestones": list(onboarding.milestones.all()),
        "contacts": list(onboarding.contacts.all()),
        # What the client did: sign-ins, visits, resource opens, trainings finished.
        "engagement": engagement_summary(onboarding),
        "training": training_progress(onboarding),
        "health": health_panel(onboarding),
        "nps": nps_summary(onboarding),
    }
    return render(request, "workspace/overview.html", context)


@member_required()
def activity(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = get_object_or_404(Onboarding.objects.select_related("customer"), pk=onboarding_id)
    entries = (
        ActivityEntry.objects.filter(onboarding=onboarding)
        .select_related("actor")
        .annotate(actor_name=known_name("actor", "onboarding"))
    )
    page = Paginator(entries.order_by("-created_at", "-id"), ACTIVITY_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "workspace/activity.html",
        {"onboarding": onboarding, "current_tab": "activity", "page": page},
    )


@member_required(*RUNNING_ROLES)
@require_POST
def checklist_tick(request: HttpRequest, onboarding_id: int, item_key: str) -> HttpResponse:
    onboarding = get_object_or_404(Onboarding.objects.all(), pk=onboarding_id)
    if item_key not in checklists.MANUAL_KEYS:
        raise Http404  # unknown, or answered by the data: nothing to tick
    done = request.POST.get("done") == "1"
    try:
        checklists.set_tick(onboarding, item_key, done=done, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    url = reverse("workspace:onboarding", kwargs={"onboarding_id": onboarding.pk})
    return redirect(f"{url}#checklist")
