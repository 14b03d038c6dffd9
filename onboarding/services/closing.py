"""Closing an onboarding, and the NPS question that goes out when it closes.

`close_onboarding` flips the status once (a second close is refused) and, only when the transaction
commits, enqueues `send_nps_for_onboarding`: a rolled-back close sends nothing.

`send_nps_requests` emails the question to each active client user of the onboarding at most once:
an NpsRequest row (unique per onboarding and user) is inserted and committed *before* the SMTP
conversation, so a duplicated task, a retry or a second worker finds the claim and skips the
person. The request records what came of it (onboarding.mail_delivery): when the mail server
certainly did not take the message (unreachable, or it refused) it is "not sent" and the task
retries it with backoff, up to MAX_ATTEMPTS, then "failed"; an address SMTP cannot carry fails at
once; when the connection broke mid-conversation (the server may have accepted it) it is
"uncertain" and never resent. Failed and uncertain requests, and claims whose sender died, are
listed for admins (`problem_nps_requests`). The question also waits in the portal, so nobody is
left without a way to answer.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Role, Tenant, User
from accounts.services import issue_sign_in_link
from onboarding.emails import branded_message
from onboarding.mail_delivery import Outcome, deliver
from onboarding.models import NpsRequest, NpsResponse, Onboarding, PortalAccess
from portal.tenancy.context import current_tenant

log = logging.getLogger(__name__)

CLOSING_ROLES = (Role.ADMIN, Role.CSM)
ALREADY_CLOSED = "This onboarding is already closed."
MAX_ATTEMPTS = 5
# A request still "sending" after this long belongs to a worker that died mid-send.
SENDING_LEASE = dt.timedelta(minutes=10)


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


def _claim(onboarding: Onboarding, user_id: int, retry: NpsRequest | None) -> NpsRequest | None:
    """Claim the person before any email, committed: insert the unique request row, or take back
    one whose last attempt was certainly not sent. None: another run has them."""
    if retry is not None:
        now = timezone.now()
        taken = NpsRequest.objects.filter(pk=retry.pk, state=NpsRequest.State.NOT_SENT).update(
            state=NpsRequest.State.SENDING, claimed_at=now
        )
        retry.claimed_at = now
        return retry if taken else None
    try:
        with transaction.atomic():
            return NpsRequest.objects.create(onboarding=onboarding, user_id=user_id)
    except IntegrityError:
        return None


def send_nps_requests(tenant: Tenant, onboarding_id: int) -> int:
    """Email the NPS question to every active client user of a closed onboarding who was not
    asked yet (or whose last attempt was certainly not sent); returns how many were sent. Runs in
    the tenant's scope (the task's). Raises NpsNotSent while some remain to be retried."""
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
    requests = {r.user_id: r for r in NpsRequest.objects.filter(onboarding=onboarding)}
    answered = set(
        NpsResponse.objects.filter(onboarding=onboarding).values_list("user_id", flat=True)
    )
    nps_url = tenant.absolute_url(
        reverse("portal:onboarding", kwargs={"onboarding_id": onboarding.pk}) + "#nps"
    )
    sent, to_retry = 0, 0
    for access in accesses:
        earlier = requests.get(access.user_id)
        if access.user_id in answered or (
            earlier is not None and earlier.state != NpsRequest.State.NOT_SENT
        ):
            continue
        claim = _claim(onboarding, access.user_id, earlier)
        if claim is None:
            continue  # another run has this person
        outcome, error = _send(tenant, onboarding, access, nps_url)
        state = _record_outcome(claim, outcome, error)
        sent += state == NpsRequest.State.SENT
        to_retry += state == NpsRequest.State.NOT_SENT
        if outcome != Outcome.SENT:
            log.warning("NPS email to %s: %s: %r", access.user.email, outcome, error)
    if to_retry:
        raise NpsNotSent(f"{to_retry} NPS email(s) for onboarding {onboarding.pk} not sent yet")
    return sent


def _record_outcome(
    claim: NpsRequest, outcome: Outcome, error: Exception | None
) -> NpsRequest.State | None:
    """Record what came of the claim's send; None when a newer decision has the row."""
    attempts = claim.attempts + 1
    if outcome == Outcome.SENT:
        state = NpsRequest.State.SENT
    elif outcome == Outcome.NOT_SENT and attempts < MAX_ATTEMPTS:
        state = NpsRequest.State.NOT_SENT
    elif outcome == Outcome.UNCERTAIN:
        state = NpsRequest.State.UNCERTAIN
    else:  # rejected, or not sent MAX_ATTEMPTS times
        state = NpsRequest.State.FAILED
    # Fenced by the claim: a sender that outlived its lease, whose request an admin has since
    # sent again, must not overwrite what the newer send recorded. Its certain "sent" still
    # counts while the re-send is only queued: that run then finds it sent, not a second copy.
    fence = [NpsRequest.State.SENDING]
    if outcome == Outcome.SENT:
        fence.append(NpsRequest.State.NOT_SENT)
    recorded = NpsRequest.objects.filter(
        pk=claim.pk, state__in=fence, claimed_at=claim.claimed_at
    ).update(
        state=state,
        attempts=attempts,
        last_error="" if error is None else repr(error)[:2000],
        sent_at=timezone.now() if outcome == Outcome.SENT else None,
    )
    return state if recorded else None


def _in_doubt(now: dt.datetime | None = None) -> Q:
    """Given up, uncertain, or claimed by a sender that died."""
    stale = (now or timezone.now()) - SENDING_LEASE
    return Q(state__in=[NpsRequest.State.FAILED, NpsRequest.State.UNCERTAIN]) | Q(
        state=NpsRequest.State.SENDING, claimed_at__lt=stale
    )


def _still_wanted() -> Q:
    """The person could still be asked: the onboarding is closed, they keep portal access and
    an active account, and they have not answered in the portal."""
    return (
        Q(onboarding__status=Onboarding.Status.CLOSED)
        & Exists(
            PortalAccess.objects.filter(
                onboarding=OuterRef("onboarding"),
                user=OuterRef("user"),
                revoked_at__isnull=True,
                user__is_active=True,
            )
        )
        & ~Exists(
            NpsResponse.objects.filter(onboarding=OuterRef("onboarding"), user=OuterRef("user"))
        )
    )


def problem_nps_requests() -> QuerySet[NpsRequest]:
    """NPS questions that did not certainly arrive and still matter, for admins: one whose
    person has since answered in the portal or lost access leaves the list (nothing to do)."""
    return (
        NpsRequest.objects.filter(_in_doubt())
        .filter(_still_wanted())
        .select_related("user", "onboarding__customer")
        .order_by("-created_at")
    )


class Resend(enum.StrEnum):
    """What came of an admin's "Send again"."""

    QUEUED = "queued"
    NOT_PENDING = "not_pending"  # a second click or a stale page: already on its way or sent
    UNREACHABLE = "unreachable"  # the person lost portal access or answered: nothing to send


def send_nps_again(
    tenant: Tenant, request_id: int, by: User, now: dt.datetime | None = None
) -> Resend:
    """An admin's or CSM's decision to email a failed, uncertain or abandoned NPS question once
    more, with a fresh set of attempts. Put back at most once per decision, and only while
    `send_nps_requests` would still send it: a question put back for someone whose access was
    revoked since would vanish from the problems page and never go out. Never automatic, since
    an uncertain question may have arrived. Raises NpsRequest.DoesNotExist for an id not of this
    tenant."""
    mine = NpsRequest.objects.filter(pk=request_id)
    problem = mine.filter(_in_doubt(now))
    changed = problem.filter(_still_wanted()).update(
        state=NpsRequest.State.NOT_SENT, attempts=0, last_error=f"Sent again by {by.email}."
    )
    if not changed:
        if problem.exists():
            return Resend.UNREACHABLE
        if not mine.exists():
            raise NpsRequest.DoesNotExist
        return Resend.NOT_PENDING
    onboarding_id = mine.values_list("onboarding_id", flat=True).get()
    log.info("NPS request %s on tenant %s sent again by %s", request_id, tenant.pk, by.pk)
    from onboarding.tasks_health import send_nps_for_onboarding

    transaction.on_commit(
        lambda: send_nps_for_onboarding.delay(tenant_id=tenant.pk, onboarding_id=onboarding_id)
    )
    return Resend.QUEUED


def _send(
    tenant: Tenant, onboarding: Onboarding, access: PortalAccess, nps_url: str
) -> tuple[Outcome, Exception | None]:
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
    return deliver(message)
