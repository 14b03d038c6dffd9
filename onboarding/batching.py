"""Grouping tenants into Celery messages for the nightly fan-outs (health and reminders).

The budget the issue sets: at most one message per 1,000 onboardings (plus one per digest sent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from accounts.models import Tenant
from portal.tenancy.context import tenant_context

log = logging.getLogger(__name__)

ONBOARDINGS_PER_MESSAGE = 1000


def plan_batches(
    pending: dict[int, int] | Iterable[tuple[int, int]], per_message: int = ONBOARDINGS_PER_MESSAGE
) -> list[list[int]]:
    """Group tenants into messages: a message is closed once it covers `per_message` onboardings,
    so every message but the last covers at least that many, and there are at most
    ceil(total / per_message) messages."""
    items = sorted(pending.items() if isinstance(pending, dict) else pending)
    batches: list[list[int]] = []
    current: list[int] = []
    covered = 0
    for tenant_id, count in items:
        if count <= 0:
            continue
        current.append(tenant_id)
        covered += count
        if covered >= per_message:
            batches.append(current)
            current, covered = [], 0
    if current:
        batches.append(current)
    return batches


def enqueue(
    pending: dict[int, int], *, one_tenant: Any, several_tenants: Any, **task_kwargs: Any
) -> int:
    """Publish the batches for `pending`: `one_tenant` (a tenant task) for a batch of one,
    `several_tenants` (given `tenant_ids=`) for more. Returns the number of messages."""
    batches = plan_batches(pending)
    for batch in batches:
        if len(batch) == 1:
            one_tenant.delay(tenant_id=batch[0], **task_kwargs)
        else:
            several_tenants.delay(tenant_ids=batch, **task_kwargs)
    return len(batches)


def for_each_tenant[T](tenant_ids: list[int], work: Callable[[Tenant], T], what: str) -> list[T]:
    """Run `work` for each tenant of a shared message, inside that tenant's scope.

    One tenant's failure does not hold back the others; the message then fails naming the
    failed tenants, whose work the next fan-out finds still due and sends again.
    """
    results, failed = [], []
    for tenant in Tenant.objects.filter(pk__in=tenant_ids).order_by("pk"):
        try:
            with tenant_context(tenant):
                results.append(work(tenant))
        except Exception:  # noqa: BLE001 - whatever it was, the other tenants still get theirs
            log.exception("%s failed for tenant %s", what, tenant.pk)
            failed.append(tenant.pk)
    if failed:
        raise RuntimeError(f"{what} failed for tenants {failed}")
    return results
