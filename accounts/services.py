"""Tenants, memberships and client sign-in links."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from portal.tenancy.context import tenant_context

from .addresses import normalize_email
from .models import Membership, Role, SignInLink, Tenant, User

SIGN_IN_LINK_LIFETIME = dt.timedelta(days=7)
SIGN_IN_CODE_LIFETIME = dt.timedelta(minutes=30)
MAX_CODE_ATTEMPTS = 5
CODE_DIGITS = 8


@transaction.atomic
def create_tenant(*, name: str, slug: str, time_zone: str = "UTC") -> Tenant:
    from onboarding.services.playbooks import install_default_playbooks

    tenant = Tenant(name=name, slug=slug, time_zone=time_zone)
    tenant.full_clean()
    tenant.save()
    install_default_playbooks(tenant)
    return tenant


def get_or_create_user(email: str, full_name: str = "") -> User:
    email = normalize_email(email)
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, full_name=full_name)
    return user


def add_member(tenant: Tenant, user: User, role: Role | str) -> Membership:
    with tenant_context(tenant):
        membership, _ = Membership.objects.update_or_create(user=user, defaults={"role": role})
        return membership


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class SignIn:
    url: str
    code: str


def _code_hash(email: str, code: str) -> str:
    return salted_hmac(
        "sign-in-code", f"{normalize_email(email)}:{code}", algorithm="sha256"
    ).hexdigest()


def issue_sign_in(
    tenant: Tenant, user: User, lifetime: dt.timedelta = SIGN_IN_LINK_LIFETIME
) -> SignIn:
    """A fresh single-use sign-in: a URL on the tenant's canonical host (never a request's Host)
    and, for a sign-in that lives no longer than SIGN_IN_CODE_LIFETIME, the same as an eight-digit
    code for the tenant's sign-in page (SignIn.code is "" otherwise)."""
    link, sign_in = _new_sign_in(tenant, user, lifetime)
    with tenant_context(tenant):
        link.save(force_insert=True)
    return sign_in


def issue_sign_in_for_message(
    tenant: Tenant, user: User, lifetime: dt.timedelta, message_id: str | None
) -> SignIn | None:
    """The same, for the Celery message `message_id` that will email it; None if that message
    issued one before: it is being or has been sent, and must not be sent twice."""
    link, sign_in = _new_sign_in(tenant, user, lifetime)
    link.message_id = message_id
    with tenant_context(tenant):
        try:
            with transaction.atomic():
                link.save(force_insert=True)
        except IntegrityError:
            if not SignInLink.objects.filter(message_id=message_id).exists():
                raise
            return None
    return sign_in


def _new_sign_in(tenant: Tenant, user: User, lifetime: dt.timedelta) -> tuple[SignInLink, SignIn]:
    token = secrets.token_urlsafe(32)
    # Eight digits: with 5 guesses per code and 5 codes per address an hour, someone trying
    # many invited addresses at once still has about one chance in 10^8 per guess.
    # Only a short-lived sign-in carries a code: an invitation's week-long link has none, so no
    # code nobody was shown can be guessed for a week, or shadow the one that was emailed.
    code = ""
    if lifetime <= SIGN_IN_CODE_LIFETIME:
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    link = SignInLink(
        user=user,
        email=user.email,
        token_hash=_hash(token),
        code_hash=_code_hash(user.email, code) if code else "",
        expires_at=timezone.now() + lifetime,
    )
    url = tenant.absolute_url(reverse("portal:sign-in", kwargs={"token": token}))
    return link, SignIn(url, code)


def withdraw_sign_in(tenant: Tenant, message_id: str | None) -> None:
    """The message that was to carry this link certainly did not go out: the link goes, and the
    message's next try issues a fresh one."""
    if message_id is not None:
        with tenant_context(tenant):
            SignInLink.objects.filter(message_id=message_id).delete()


def issue_sign_in_link(tenant: Tenant, user: User) -> str:
    return issue_sign_in(tenant, user).url


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
    if (
        used != 1
        or normalize_email(link.user.email) != normalize_email(link.email)
        or not link.user.is_active
    ):
        return None
    return link.user


def redeem_sign_in_code(email: str, code: str) -> User | None:
    """Sign in with an emailed code, in the current tenant.

    Unknown emails, wrong codes, used or expired codes all answer None, so the caller cannot tell
    them apart. Each wrong guess counts against the newest open code for the email; after
    MAX_CODE_ATTEMPTS it is spent.
    """
    link = (
        SignInLink.objects.select_related("user")
        .filter(
            email=normalize_email(email),
            used_at__isnull=True,
            expires_at__gt=timezone.now(),
            # Codes on links issued before invitations stopped carrying them end here too.
            created_at__gt=timezone.now() - SIGN_IN_CODE_LIFETIME,
            failed_attempts__lt=MAX_CODE_ATTEMPTS,
        )
        .exclude(code_hash="")
        .order_by("-created_at", "-id")
        .first()
    )
    if link is None:
        return None
    code = "".join(code.split())  # "1234 5678" as typed from the email
    if not constant_time_compare(link.code_hash, _code_hash(link.email, code)):
        SignInLink.objects.filter(pk=link.pk).update(failed_attempts=F("failed_attempts") + 1)
        return None
    used = SignInLink.objects.filter(
        pk=link.pk, used_at__isnull=True, failed_attempts__lt=MAX_CODE_ATTEMPTS
    ).update(used_at=timezone.now())
    if used != 1 or not link.user.is_active:
        return None
    return link.user
