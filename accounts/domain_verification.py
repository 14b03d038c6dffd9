"""Proof that a tenant controls a custom domain: a DNS TXT record holding its claim's token.

The record is `_onboarding-portal.<domain>`. A name cannot be proven by pointing it at the
platform (a CNAME): a record left behind by its owner would let anyone claim it. Nameservers come
from DOMAIN_VERIFICATION_NAMESERVERS (host or host:port, comma-separated; empty: the system's).
"""

from __future__ import annotations

import dns.exception
import dns.resolver
from django.conf import settings

RECORD_PREFIX = "_onboarding-portal"


class LookupFailed(Exception):
    """DNS could not be asked (timeout, no nameserver answered): say so, change nothing."""


def record_name(domain: str) -> str:
    return f"{RECORD_PREFIX}.{domain}"


def _resolver() -> dns.resolver.Resolver:
    servers = settings.DOMAIN_VERIFICATION_NAMESERVERS
    resolver = dns.resolver.Resolver(configure=not servers)
    if servers:
        resolver.nameservers = [s.rsplit(":", 1)[0] for s in servers]
        ports = {int(s.rsplit(":", 1)[1]) for s in servers if ":" in s}
        if ports:
            resolver.port = ports.pop()
    resolver.lifetime = settings.DOMAIN_VERIFICATION_TIMEOUT
    return resolver


def published_tokens(domain: str) -> set[str]:
    """The TXT strings published at the domain's verification record (empty: none)."""
    try:
        answer = _resolver().resolve(record_name(domain), "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return set()
    except (dns.exception.Timeout, dns.resolver.NoNameservers) as exc:
        raise LookupFailed(str(exc)) from exc
    return {b"".join(rdata.strings).decode("ascii", "replace") for rdata in answer}
