"""A tenant's reminder schedule: when the daily digest goes out and what it reminds of.

The rules of the sweep itself live in onboarding.services.reminders; this only changes the values
it reads (N, M, K, the milestone horizon, the local hour, weekends, the time zone).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from .models import Tenant, User

log = logging.getLogger(__name__)

FIELDS = (
    "time_zone",
    "digest_hour",
    "skip_weekends",
    "reminder_days_ahead",
    "overdue_repeat_days",
    "blocked_escalation_days",
    "milestone_days_ahead",
)


@transaction.atomic
def update_reminder_settings(tenant: Tenant, values: dict[str, Any], by: User) -> Tenant:
    """Validate every value with the model's own validators and save them all, or none."""
    row = Tenant.objects.select_for_update().get(pk=tenant.pk)
    before = {name: getattr(row, name) for name in FIELDS}
    for name in FIELDS:
        setattr(row, name, values[name])
    row.full_clean(exclude=[f.name for f in Tenant._meta.fields if f.name not in FIELDS])
    row.save(update_fields=list(FIELDS))
    changed = {n: (before[n], getattr(row, n)) for n in FIELDS if before[n] != getattr(row, n)}
    if changed:
        log.info("tenant %s reminder settings changed by user %s: %s", row.pk, by.pk, changed)
    for name in FIELDS:  # the caller's object shows the new values too
        setattr(tenant, name, getattr(row, name))
    return tenant
