"""Celery entry points. Thin: each finds its tenant and calls a service."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from celery import current_task, shared_task
from django.core.mail import EmailMessage
from django.utils import timezone

from accounts.models import Tenant
from accounts.services import (
    SIGN_IN_CODE_LIFETIME,
    SIGN_IN_LINK_LIFETIME,
    SignIn,
    issue_sign_in_for_message,
    withdraw_sign_in,
)

# Celery's autodiscovery imports only `tasks` modules; tasks_comments and tasks_health register
# the rest.
from onboarding import batching, tasks_comments, tasks_health  # noqa: F401
from onboarding.emails import branded_message
from onboarding.mail_delivery import MailNotSent, Outcome, deliver
from onboarding.models import PortalAccess
from onboarding.people import name_of
from onboarding.services.reminders import sweep, tenants_with_reminder_work
from portal.tenancy.tasks import tenant_task

log = logging.getLogger(__name__)


@shared_task
def fan_out_reminders(now: str | None = None) -> int:
    """Beat entry (every few minutes): a message only for tenants with reminder work now,
    small tenants sharing one, at most one per 1,000 onboardings. Returns messages sent."""
    moment = dt.datetime.fromisoformat(now) if now else timezone.now()
    return batching.enqueue(
        tenants_with_reminder_work(moment),
        one_tenant=send_reminders,
        several_tenants=send_reminders_for_tenants,
    )


@tenant_task(acks_late=True)
def send_reminders(tenant: Tenant) -> dict:
    """Idempotent: a duplicated beat or a retry records nothing new and sends nothing twice."""
    return sweep(tenant).__dict__


@shared_task(acks_late=True)
def send_reminders_for_tenants(tenant_ids: list[int]) -> dict:
    """The same for several small tenants in one message, each inside its own scope."""
    total: dict[str, int] = {}
    for result in batching.for_each_tenant(tenant_ids, sweep, "Reminder sweep"):
        for key, value in result.__dict__.items():
            total[key] = total.get(key, 0) + int(value)
    return total


def _send_or_retry(message) -> bool:
    """Send; raise MailNotSent (the task retries with backoff) only when the message certainly
    did not go out. After an uncertain failure it may have arrived: never send a second copy."""
    outcome, error = deliver(message)
    if outcome == Outcome.NOT_SENT:
        raise MailNotSent(f"to {message.to}: {error!r}") from error
    if outcome != Outcome.SENT:
        log.warning("email to %s: %s, not resent: %r", message.to, outcome, error)
    return outcome == Outcome.SENT


# Retried only for MailNotSent, not any OSError: an SMTPServerDisconnected after the server took
# the message is an OSError too, and retrying it would send a second invitation or code.
@tenant_task(acks_late=True, autoretry_for=(MailNotSent,), retry_backoff=True, max_retries=5)
def send_invitation(tenant: Tenant, access_id: int) -> bool:
    access = (
        PortalAccess.objects.select_related("user", "contact", "onboarding__customer")
        .filter(pk=access_id, revoked_at__isnull=True)
        .first()
    )
    if access is None:
        return False
    return _send_sign_in_once(
        tenant,
        access.user,
        SIGN_IN_LINK_LIFETIME,
        lambda sign_in: branded_message(
            tenant,
            to=access.user.email,
            subject=(
                f"{tenant.display_name}: your onboarding portal for {access.onboarding.customer}"
            ),
            template="invitation",
            context={"access": access, "url": sign_in.url, "name": access.contact.name},
        ),
    )


@tenant_task(acks_late=True, autoretry_for=(MailNotSent,), retry_backoff=True, max_retries=5)
def send_sign_in_code(tenant: Tenant, user_id: int) -> bool:
    from accounts.models import User

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not PortalAccess.objects.filter(user=user, revoked_at__isnull=True).exists():
        return False
    return _send_sign_in_once(
        tenant,
        user,
        SIGN_IN_CODE_LIFETIME,
        lambda sign_in: branded_message(
            tenant,
            to=user.email,
            subject=f"Your {tenant.display_name} sign-in code: {sign_in.code}",
            template="sign_in_code",
            context={"name": name_of(user), "code": sign_in.code, "url": sign_in.url},
        ),
    )


def _send_sign_in_once(
    tenant: Tenant, user, lifetime: dt.timedelta, build: Callable[[SignIn], EmailMessage]
) -> bool:
    """Issue the link for this Celery message and send it, once per message.

    These tasks acknowledge their message only when done, so a worker that dies mid-send has it
    delivered again. The link, tagged with the message id and committed before the send, is the
    claim: a second delivery finds it and sends nothing, since the first may have gone out (its
    addressee can ask for a new code, or the CSM resend the invitation). Only a send that
    certainly failed withdraws the link, so that the retry issues and sends a fresh one."""
    message_id = current_task.request.id if current_task else None
    sign_in = issue_sign_in_for_message(tenant, user, lifetime, message_id)
    if sign_in is None:
        log.warning(
            "message %s was delivered again; its email may have gone out, not resent", message_id
        )
        return False
    try:
        return _send_or_retry(build(sign_in))
    except MailNotSent:
        withdraw_sign_in(tenant, message_id)
        raise
