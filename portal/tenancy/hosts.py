"""Which tenant a Host header names. Unknown hosts name none, and there is no fallback."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from accounts.models import Tenant


@dataclass(frozen=True)
class HostMatch:
    tenant: Tenant | None  # None on the platform host
    is_platform: bool


def split_port(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if ":" in host else host


def resolve_host(raw_host: str) -> HostMatch | None:
    host = split_port(raw_host).rstrip(".")
    base = settings.BASE_DOMAIN
    if host == base:
        return HostMatch(tenant=None, is_platform=True)
    suffix = "." + base
    if host.endswith(suffix):
        slug = host[: -len(suffix)]
        if "." in slug or not slug:
            return None
        tenant = Tenant.objects.filter(slug=slug).first()
    else:
        # Only a verified claim opens a portal (accounts.domain_verification).
        tenant = Tenant.objects.filter(
            domains__domain=host, domains__verified_at__isnull=False
        ).first()
    return HostMatch(tenant=tenant, is_platform=False) if tenant else None
