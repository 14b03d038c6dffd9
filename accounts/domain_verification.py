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


def _nameserver(entry: str) -> tuple[str, int | None]:
    """ "192.0.2.1", "192.0.2.1:5353", "2001:db8::1" or "[2001:db8::1]:5353" -> (ip, port)."""
    if entry.startswith("["):
        host, _, port = entry[1:].partition("]")
        return host, int(port.lstrip(":")) if port else None
    if entry.count(":") == 1:
        host, port = entry.split(":")
        return host, int(port)
    return entry, None


def _resolver() -> dns.resolver.Resolver:
    servers = [_nameserver(s) for s in settings.DOMAIN_VERIFICATION_NAMESERVERS]
    resolver = dns.resolver.Resolver(configure=not servers)
    if servers:
        resolver.nameservers = [host for host, _ in servers]
        resolver.nameserver_ports = {host: port for host, port in servers if port}
    resolver.lifetime = settings.DOMAIN_VERIFICATION_TIMEOUT
    return resolver


def published_tokens(domain: str) -> set[str]:
    """The TXT strings published at the domain's verification record (empty: none)."""
    try:
        answer = _resolver().resolve(record_name(domain), "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return set()
    except dns.exception.DNSException as exc:  # timeout, no nameserver answered, refused...
        raise LookupFailed(str(exc) or type(exc).__name__) from exc
    return {b"".join(rdata.strings).decode("ascii", "replace") for rdata in answer}
