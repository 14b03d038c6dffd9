"""Celery entry points. Thin: each finds its tenant and calls a service."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from accounts.models import Tenant
from accounts.services import issue_sign_in_link

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
    url = issue_sign_in_link(tenant, access.user)
    message = branded_message(
        tenant,
        to=access.user.email,
        subject=f"{tenant.display_name}: your onboarding portal for {access.onboarding.customer}",
        template="invitation",
        context={"access": access, "url": url, "name": access.contact.name},
    )
    with transaction.atomic():  # a message certainly not sent leaves no sign-in link behind
        return _send_or_retry(message)


@tenant_task(acks_late=True, autoretry_for=(MailNotSent,), retry_backoff=True, max_retries=5)
def send_sign_in_code(tenant: Tenant, user_id: int) -> bool:
    from accounts.models import User
    from accounts.services import SIGN_IN_CODE_LIFETIME, issue_sign_in

    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None or not PortalAccess.objects.filter(user=user, revoked_at__isnull=True).exists():
        return False
    sign_in = issue_sign_in(tenant, user, SIGN_IN_CODE_LIFETIME)
    message = branded_message(
        tenant,
        to=user.email,
        subject=f"Your {tenant.display_name} sign-in code: {sign_in.code}",
        template="sign_in_code",
        context={
            "name": name_of(user),
            "code": sign_in.code,
            "url": sign_in.url,
        },
    )
    return _send_or_retry(message)
