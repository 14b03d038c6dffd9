"""Celery entry points of the accounts app. Thin: each calls a service."""

from __future__ import annotations

from celery import shared_task

from accounts.services_branding import recheck_verified_domains


@shared_task
def recheck_domains() -> dict[str, int]:
    """Beat entry (daily). Reads only custom domains, which belong to no tenant's scope."""
    return recheck_verified_domains()
