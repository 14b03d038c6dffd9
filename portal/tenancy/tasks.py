"""Celery tasks that run inside one tenant's scope.

A tenant task takes `tenant_id` as a keyword argument and refuses to run without it; the body runs
inside tenant_context, so its queries are filtered exactly as a request's are.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from celery import shared_task

from .context import TenantScopeError, tenant_context


def tenant_task(*task_args, **task_kwargs) -> Callable:
    def decorator(func: Callable) -> Callable:
        @functools.wraps(func)
        def run(*args, tenant_id: int | None = None, **kwargs):
            from accounts.models import Tenant

            if tenant_id is None:
                raise TenantScopeError(f"{func.__name__} needs tenant_id=")
            tenant = Tenant.objects.get(pk=tenant_id)
            with tenant_context(tenant):
                return func(tenant, *args, **kwargs)

        return shared_task(*task_args, **task_kwargs)(run)

    return decorator
