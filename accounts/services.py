"""Tenants, memberships and client sign-in links."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from portal.tenancy.context import tenant_context

from .models import Membership, Role, SignInLink, Tenant, User

SIGN_IN_LINK_LIFETIME = dt.timedelta(days=7)


@transaction.atomic
def create_tenant(*, name: str, slug: str, time_zone: str = "UTC") -> Tenant:
    from onboarding.services.playbooks import install_default_playbooks

    tenant = Tenant(name=name, slug=slug, time_zone=time_zone)
    tenant.full_clean()
    tenant.save()
    install_default_playbooks(tenant)
    return tenant


def get_or_create_user(email: str, full_name: str = "") -> User:
    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, full_name=full_name)
    return user


def add_member(tenant: Tenant, user: User, role: Role | str) -> Membership:
    with tenant_context(tenant):
        membership, _ = Membership.objects.update_or_create(user=user, defaults={"role": role})
        return membership


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_sign_in_link(tenant: Tenant, user: User) -> str:
    """A fresh single-use sign-in URL on the tenant's canonical host (never a request's Host)."""
    token = secrets.token_urlsafe(32)
    with tenant_context(tenant):
        SignInLink.objects.create(
            user=user,
            email=user.email,
            token_hash=_hash(token),
            expires_at=timezone.now() + SIGN_IN_LINK_LIFETIME,
        )
    return tenant.absolute_url(reverse("portal:sign-in", kwargs={"token": token}))


def find_sign_in_link(token: str) -> SignInLink | None:
    """The usable link in this tenant, or None: used, expired, unknown or another tenant's."""
    return (
        SignInLink.objects.select_related("user")
        .filter(token_hash=_hash(token), used_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )


def redeem_sign_in_link(token: str) -> User | None:
    """Use the link once. The conditional UPDATE makes two simultaneous clicks sign in once."""
    link = find_sign_in_link(token)
    if link is None:
        return None
    used = SignInLink.objects.filter(pk=link.pk, used_at__isnull=True).update(
        used_at=timezone.now()
    )
    if used != 1 or link.user.email.lower() != link.email.lower() or not link.user.is_active:
        return None
    return link.user
