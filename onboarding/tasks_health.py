"""Celery entry points for health scores and NPS at close.

Beat runs `fan_out_health` every hour. It finds, in one cross-tenant query, the onboardings that
still lack today's score in their tenant's local calendar (or a day-30/day-90 snapshot due today),
and enqueues the work in batches: one message per 1,000 such onboardings at most (a tenant is never
split; small tenants share a message). A tenant is therefore computed in the first run after its
local midnight, a failed or missed run is caught up by the next one, and runs that find nothing to
do send nothing. Each computation is one idempotent INSERT ... SELECT (`onboarding.health`).
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from accounts.models import Tenant
from onboarding import batching
from onboarding.health import compute_health, snapshot_start_ranges
from onboarding.models import HealthScore, Onboarding
from onboarding.services.closing import NpsNotSent, send_nps_requests
from portal.tenancy.context import cross_tenant
from portal.tenancy.tasks import tenant_task


@tenant_task(acks_late=True)
def compute_health_for_tenant(tenant: Tenant) -> int:
    """Today's scores (the tenant's local date) and the snapshots due today. Idempotent."""
    return compute_health(tenant, tenant.local_today())


@shared_task(acks_late=True)
def compute_health_for_tenants(tenant_ids: list[int]) -> int:
    """The same for several small tenants in one message, each inside its own scope."""
    return sum(
        batching.for_each_tenant(
            tenant_ids, lambda t: compute_health(t, t.local_today()), "Health computation"
        )
    )


@tenant_task(acks_late=True, autoretry_for=(NpsNotSent,), retry_backoff=True, max_retries=5)
def send_nps_for_onboarding(tenant: Tenant, onboarding_id: int) -> int:
    return send_nps_requests(tenant, onboarding_id)


def pending_onboardings(now: dt.datetime | None = None) -> dict[int, int]:
    """Per tenant id, how many onboardings still lack today's score or a snapshot due today,
    each tenant judged on its own local date. One query over all tenants."""
    now = now or timezone.now()
    by_date: dict[dt.date, list[int]] = {}
    for pk, tz_name in Tenant.objects.values_list("pk", "time_zone"):
        tenant = Tenant(pk=pk, time_zone=tz_name)
        by_date.setdefault(now.astimezone(tenant.tz).date(), []).append(pk)
    if not by_date:
        return {}
    with cross_tenant("health fan-out: which tenants still lack today's scores"):
        wanted = Q(pk__in=[])
        for today, tenant_ids in by_date.items():
            ranges = snapshot_start_ranges(today)

            def missing(kind: str, day: dt.date | None = None) -> Exists:
                scores = HealthScore.objects.filter(onboarding=OuterRef("pk"), kind=kind)
                return ~Exists(scores.filter(for_date=day) if day else scores)

            wanted |= Q(tenant_id__in=tenant_ids) & (
                (
                    ~Q(status=Onboarding.Status.CLOSED)
                    & Q(start_date__lte=today)  # not started yet: no score due
                    & missing(HealthScore.Kind.DAILY, today)
                )
                # A snapshot is due until one exists (of any date: taken once, even if the start
                # date moved since), on its day or late within the catch-up window.
                | (Q(start_date__range=ranges["day30"]) & missing(HealthScore.Kind.DAY30))
                | (Q(start_date__range=ranges["day90"]) & missing(HealthScore.Kind.DAY90))
            )
        rows = (
            Onboarding.objects.filter(wanted)
            .order_by()
            .values("tenant_id")
            .annotate(n=Count("id"))
            .values_list("tenant_id", "n")
        )
        return dict(rows)


@shared_task
def fan_out_health(now: str | None = None) -> int:
    """Beat entry (hourly): enqueue the health computations still due; returns messages sent."""
    moment = dt.datetime.fromisoformat(now) if now else timezone.now()
    return batching.enqueue(
        pending_onboardings(moment),
        one_tenant=compute_health_for_tenant,
        several_tenants=compute_health_for_tenants,
    )
