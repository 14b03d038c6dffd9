"""Closing an onboarding, and the NPS question that goes out when it closes.

`close_onboarding` flips the status once (a second close is refused) and, only when the transaction
commits, enqueues `send_nps_for_onboarding`: a rolled-back close sends nothing.

`send_nps_requests` emails the question to each active client user of the onboarding at most once:
an NpsRequest row (unique per onboarding and user) is inserted and committed *before* the SMTP
conversation, so a duplicated task, a retry or a second worker finds the claim and skips the
person. When the mail server certainly did not take the message (unreachable, or it refused), the
claim is released and the task retries with backoff; when the connection broke mid-conversation
(the server may have accepted it) the claim stays and the message is never resent - the question
is also waiting in the portal, so nobody is left without a way to answer.
"""

from __future__ import annotations

import logging
import smtplib

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import mailers
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Role, Tenant, User
from accounts.services import issue_sign_in_link
from onboarding.emails import branded_message
from onboarding.models import NpsRequest, NpsResponse, Onboarding, PortalAccess
from portal.tenancy.context import current_tenant

log = logging.getLogger(__name__)

CLOSING_ROLES = (Role.ADMIN, Role.CSM)
ALREADY_CLOSED = "This onboarding is already closed."
# The server refused before accepting the message: it was certainly not delivered.
NOT_SENT_ERRORS = (
    smtplib.SMTPRecipientsRefused,
    smtplib.SMTPSenderRefused,
    smtplib.SMTPDataError,
    smtplib.SMTPHeloError,
    smtplib.SMTPAuthenticationError,
    smtplib.SMTPNotSupportedError,
)


class NpsNotSent(OSError):
    """Some NPS emails were certainly not sent; the task retries them (their claims are free)."""


def close_onboarding(onboarding: Onboarding, by_user: User) -> Onboarding:
    """Close the onboarding (admins and CSMs of the tenant in scope); the NPS question goes out
    once the transaction commits. Raises PermissionDenied, or ValidationError if already closed."""
    tenant = current_tenant()
    if not Membership.objects.filter(user=by_user, role__in=CLOSING_ROLES).exists():
        raise PermissionDenied("Only admins and CSMs close onboardings.")
    with transaction.atomic():
        # Conditional: of two simultaneous closes exactly one changes the row.
        changed = (
            Onboarding.objects.filter(pk=onboarding.pk)
            .exclude(status=Onboarding.Status.CLOSED)
            .update(status=Onboarding.Status.CLOSED)
        )
        if not changed:
            raise ValidationError(ALREADY_CLOSED)
        log.info("onboarding %s closed by user %s", onboarding.pk, by_user.pk)
        onboarding_id = onboarding.pk

        def enqueue() -> None:
            from onboarding.tasks_health import send_nps_for_onboarding

            send_nps_for_onboarding.delay(tenant_id=tenant.pk, onboarding_id=onboarding_id)

        transaction.on_commit(enqueue)
    onboarding.status = Onboarding.Status.CLOSED
    return onboarding


def _claim(onboarding: Onboarding, user_id: int) -> NpsRequest | None:
    """Insert the unique request row, committed before any email; None if it exists already."""
    try:
        with transaction.atomic():
            return NpsRequest.objects.create(onboarding=onboarding, user_id=user_id)
    except IntegrityError:
        return None


def send_nps_requests(tenant: Tenant, onboarding_id: int) -> int:
    """Email the NPS question to every active client user of a closed onboarding who was not
    asked yet; returns how many were sent. Runs in the tenant's scope (the task's)."""
    onboarding = (
        Onboarding.objects.select_related("customer")
        .filter(pk=onboarding_id, status=Onboarding.Status.CLOSED)
        .first()
    )
    if onboarding is None:
        return 0
    accesses = list(
        PortalAccess.objects.filter(
            onboarding=onboarding, revoked_at__isnull=True, user__is_active=True
        )
        .select_related("user", "contact")
        .order_by("id")
    )
    asked = set(NpsRequest.objects.filter(onboarding=onboarding).values_list("user_id", flat=True))
    answered = set(
        NpsResponse.objects.filter(onboarding=onboarding).values_list("user_id", flat=True)
    )
    nps_url = tenant.absolute_url(
        reverse("portal:onboarding", kwargs={"onboarding_id": onboarding.pk}) + "#nps"
    )
    sent, not_sent = 0, 0
    for access in accesses:
        if access.user_id in asked or access.user_id in answered:
            continue
        claim = _claim(onboarding, access.user_id)
        if claim is None:
            continue  # another run has this person
        outcome = _send(tenant, onboarding, access, nps_url)
        if outcome == "sent":
            NpsRequest.objects.filter(pk=claim.pk).update(sent_at=timezone.now())
            sent += 1
        elif outcome == "not_sent":
            claim.delete()  # certainly not delivered: free the claim for the retry
            not_sent += 1
    if not_sent:
        raise NpsNotSent(f"{not_sent} NPS email(s) for onboarding {onboarding.pk} not sent")
    return sent


def _send(tenant: Tenant, onboarding: Onboarding, access: PortalAccess, nps_url: str) -> str:
    user = access.user
    message = branded_message(
        tenant,
        to=user.email,
        subject=f"{tenant.display_name}: how did the onboarding of {onboarding.customer.name} go?",
        template="nps",
        context={
            "name": access.contact.name or user.get_short_name(),
            "onboarding": onboarding,
            "sign_in_url": issue_sign_in_link(tenant, user),
            "nps_url": nps_url,
        },
    )
    mailer = mailers.default
    try:
        mailer.open()
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("NPS email to %s not sent: %r", user.email, exc)
        return "not_sent"
    try:
        mailer.send_messages([message])
    except NOT_SENT_ERRORS as exc:
        log.warning("NPS email to %s refused: %r", user.email, exc)
        return "not_sent"
    except (OSError, smtplib.SMTPException) as exc:
        # The connection broke mid-conversation: it may have been delivered. Never resend.
        log.warning("NPS email to %s: delivery uncertain, not resent: %r", user.email, exc)
        return "uncertain"
    finally:
        try:
            mailer.close()
        except Exception:  # noqa: S110 - closing a broken connection may fail again
            pass
    return "sent"
