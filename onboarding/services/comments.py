"""Comments on tasks, from both sides, and who is emailed about each one.

* Staff (admins and CSMs) comment from the workspace; they may mark a comment as an internal note,
  which only the vendor's team ever sees.
* Client users comment from the portal through services.portal.add_comment (always public);
  `add_client_comment` wraps it so the owning CSM hears about it.

Each comment sends at most one email, queued when the transaction commits (a rolled-back comment
sends nothing) and addressed to everyone who should read it:

=====================  ====================================================================
comment                recipients
=====================  ====================================================================
staff, public          the onboarding's active client users (invited, not revoked)
client                 the onboarding's owning CSM
staff, internal        the owning CSM when someone else wrote it; never a client
=====================  ====================================================================
"""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.urls import reverse

from accounts.models import Membership, Role, Tenant, User
from onboarding.emails import branded_message
from onboarding.mail_delivery import Outcome, deliver
from onboarding.models import PortalAccess, Task, TaskComment
from onboarding.people import known_name, name_of
from onboarding.services import portal as portal_services
from onboarding.services.activity import record
from onboarding.services.tasks import ensure_plan_open
from portal.tenancy.context import current_tenant

log = logging.getLogger(__name__)

MAX_COMMENT_CHARS = portal_services.MAX_COMMENT_CHARS
COMMENTING_ROLES = (Role.ADMIN, Role.CSM)


class CommentNotSent(OSError):
    """The notification was certainly not delivered; the task retries it."""


def _clean_body(body: str) -> str:
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write a comment first."})
    if len(body) > MAX_COMMENT_CHARS:
        raise ValidationError({"body": f"Keep comments under {MAX_COMMENT_CHARS} characters."})
    return body


def _notify_on_commit(comment: TaskComment) -> None:
    tenant_id, comment_id = current_tenant().pk, comment.pk

    def enqueue() -> None:
        from onboarding.tasks_comments import send_comment_notification

        send_comment_notification.delay(tenant_id=tenant_id, comment_id=comment_id)

    transaction.on_commit(enqueue)


@transaction.atomic
def add_staff_comment(
    task: Task, author: User, body: str, *, internal: bool = False
) -> TaskComment:
    """A comment by an admin or CSM of the tenant in scope; internal notes stay with the team."""
    if not Membership.objects.filter(user=author, role__in=COMMENTING_ROLES).exists():
        raise PermissionDenied("Only admins and CSMs comment on tasks.")
    onboarding = task.onboarding
    ensure_plan_open(onboarding)
    comment = TaskComment.objects.create(
        task=task, author=author, body=_clean_body(body), internal=internal
    )
    what = "added an internal note on" if internal else "commented on"
    record(onboarding, author, f"{author.get_full_name()} {what} “{task.title}”.")
    _notify_on_commit(comment)
    return comment


@transaction.atomic
def add_client_comment(user: User, task: Task, body: str) -> TaskComment:
    """The portal's comment (services.portal.add_comment's rules), and the CSM is told."""
    comment = portal_services.add_comment(user, task, body)
    record(
        task.onboarding,
        user,
        f"{name_of(user, task.onboarding)} commented on “{task.title}” in the portal.",
    )
    _notify_on_commit(comment)
    return comment


# --- The notification ---------------------------------------------------------------------------


def recipients_for(comment: TaskComment) -> list[str]:
    """Who is emailed about this comment (see the table at the top). Never the author."""
    onboarding = comment.task.onboarding
    author_is_staff = Membership.objects.filter(user_id=comment.author_id).exists()
    if author_is_staff and not comment.internal:
        emails = PortalAccess.objects.filter(
            onboarding=onboarding, revoked_at__isnull=True, user__is_active=True
        ).values_list("user__email", flat=True)
    else:
        # The owning CSM while still an active member: one who left the tenant keeps the
        # onboarding until it is reassigned, but no longer gets its customers' words by email.
        owner = onboarding.owner
        still_here = (
            owner is not None
            and owner.is_active
            and Membership.objects.filter(user_id=owner.pk).exists()
        )
        emails = [owner.email] if still_here else []
    return sorted({e.lower() for e in emails if e} - {comment.author.email.lower()})


def _link_for(tenant: Tenant, comment: TaskComment, *, to_clients: bool) -> str:
    task = comment.task
    if to_clients:
        path = reverse(
            "portal:task", kwargs={"onboarding_id": task.onboarding_id, "task_id": task.pk}
        )
        return tenant.absolute_url(path + "#comments")
    path = reverse(
        "workspace:task-comments",
        kwargs={"onboarding_id": task.onboarding_id, "task_id": task.pk},
    )
    return tenant.absolute_url(path)


def send_comment_notification(tenant: Tenant, comment_id: int) -> str:
    """Send the one email about a comment. Returns "sent", "nobody", "gone" or "uncertain".

    At most once: the message goes out in one SMTP conversation to all its recipients. If the
    server certainly did not take it, CommentNotSent makes the task retry; if the connection
    broke mid-way (it may have been delivered) it is not resent. The comment is on the page
    either way.
    """
    comment = (
        TaskComment.objects.select_related(
            "author", "task__onboarding__customer", "task__onboarding__owner"
        )
        .annotate(author_name=known_name("author", "task__onboarding"))
        .filter(pk=comment_id)
        .first()
    )
    if comment is None:
        return "gone"
    recipients = recipients_for(comment)
    if not recipients:
        return "nobody"
    task, onboarding = comment.task, comment.task.onboarding
    to_clients = not comment.internal and Membership.objects.filter(user=comment.author).exists()
    message = branded_message(
        tenant,
        to=recipients[0],
        subject=f"{comment.author_name} on “{task.title}”",
        template="comment",
        context={
            "comment": comment,
            "task": task,
            "onboarding": onboarding,
            "author_name": comment.author_name,
            "url": _link_for(tenant, comment, to_clients=to_clients),
            "to_clients": to_clients,
        },
    )
    message.to = recipients
    outcome, error = deliver(message)
    if outcome == Outcome.NOT_SENT:
        raise CommentNotSent(f"comment {comment_id}: not sent: {error!r}") from error
    if outcome != Outcome.SENT:
        # Uncertain: it may have been delivered, so it is not resent. Rejected: it never will be.
        log.warning("comment %s notification: %s, not resent: %r", comment_id, outcome, error)
        return str(outcome)
    return "sent"
