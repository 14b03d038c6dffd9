"""The current tenant of a request or a task, held in a context variable.

There are three states: no scope (every tenant-owned query raises), one tenant (queries are filtered
to it), and the explicit cross-tenant scope used by the platform admin and by beat fan-out. The
cross-tenant scope must be entered by name, so that every place that reads across tenants is
visible in a search for `cross_tenant(`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from accounts.models import Tenant


class TenantScopeError(RuntimeError):
    """A tenant-owned table was touched with no tenant in scope."""


@dataclass(frozen=True)
class _CrossTenant:
    reason: str


_scope: ContextVar[Tenant | _CrossTenant | None] = ContextVar("tenant_scope", default=None)


@contextmanager
def tenant_context(tenant: Tenant) -> Iterator[Tenant]:
    if tenant is None or getattr(tenant, "pk", None) is None:
        raise TenantScopeError("tenant_context() needs a saved tenant")
    token = _scope.set(tenant)
    try:
        yield tenant
    finally:
        _scope.reset(token)


@contextmanager
def cross_tenant(reason: str) -> Iterator[None]:
    """Read and write every tenant's rows. Say why; it shows up in tracebacks and reviews."""
    if not reason:
        raise ValueError("cross_tenant() needs a reason")
    token = _scope.set(_CrossTenant(reason))
    try:
        yield
    finally:
        _scope.reset(token)


@contextmanager
def no_tenant() -> Iterator[None]:
    """Leave every scope, e.g. to prove that a query outside one fails."""
    token = _scope.set(None)
    try:
        yield
    finally:
        _scope.reset(token)


def current_tenant() -> Tenant:
    """The tenant in scope; raises when there is none or when the scope is cross-tenant."""
    scope = _scope.get()
    if scope is None or isinstance(scope, _CrossTenant):
        raise TenantScopeError("No tenant in scope")
    return scope


def current_tenant_or_none() -> Tenant | None:
    scope = _scope.get()
    return None if isinstance(scope, _CrossTenant) else scope


def is_cross_tenant() -> bool:
    return isinstance(_scope.get(), _CrossTenant)
