"""The base class of every tenant-owned model and its fail-closed manager.

`TenantOwned.objects` filters every query to the tenant in scope. With no tenant in scope it
raises on the first use, so a forgotten scope is a crash in development, never a leak in
production. Related managers (`onboarding.tasks`) are built from the default manager and inherit
the same filter.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from .context import TenantScopeError, _scope, current_tenant_or_none, is_cross_tenant


def _scope_filter() -> dict[str, Any] | None:
    """The filter for the scope in force; None in the cross-tenant scope; raises with no scope."""
    if is_cross_tenant():
        return None
    tenant = current_tenant_or_none()
    if tenant is None:
        raise TenantScopeError(
            "Tenant-owned data queried outside a tenant scope. Use tenant_context(tenant), or "
            "cross_tenant('reason') for deliberate cross-tenant work."
        )
    return {"tenant_id": tenant.pk}


def stamp_tenant(objs: list[Any]) -> None:
    """Give new rows the tenant in scope and refuse rows of another tenant."""
    _scope_filter()
    tenant = current_tenant_or_none()
    for obj in objs:
        if obj.tenant_id is None:
            if tenant is None:
                raise TenantScopeError("Cannot create a tenant-owned row without a tenant")
            obj.tenant_id = tenant.pk
        elif tenant is not None and obj.tenant_id != tenant.pk:
            raise TenantScopeError("Row belongs to another tenant than the one in scope")


class TenantQuerySet(models.QuerySet):
    def bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        stamp_tenant(objs)
        return super().bulk_create(objs, *args, **kwargs)

    def bulk_update(self, objs, fields, *args, **kwargs):
        if "tenant" in fields or "tenant_id" in fields:
            raise TenantScopeError("A row's tenant never changes")
        objs = list(objs)
        stamp_tenant(objs)
        return super().bulk_update(objs, fields, *args, **kwargs)

    def update(self, **kwargs):
        if "tenant" in kwargs or "tenant_id" in kwargs:
            raise TenantScopeError("A row's tenant never changes")
        return super().update(**kwargs)


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):  # type: ignore[misc]
    def get_queryset(self) -> TenantQuerySet:
        qs = super().get_queryset()
        where = _scope_filter()
        return qs if where is None else qs.filter(**where)

    def raw(self, raw_query, params=(), translations=None, using=None):
        # Raw SQL cannot be filtered for us; allow it only where the author chose the scope.
        if _scope.get() is None:
            raise TenantScopeError("Raw SQL on a tenant-owned table outside a tenant scope")
        return super().raw(raw_query, params, translations, using)


class TenantOwned(models.Model):
    tenant = models.ForeignKey("accounts.Tenant", on_delete=models.CASCADE, related_name="+")

    objects = TenantManager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        stamp_tenant([self])
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any):
        stamp_tenant([self])
        return super().delete(*args, **kwargs)
