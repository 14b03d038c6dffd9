"""Celery entry point for comment notifications (imported by onboarding.tasks so workers see it)."""

from __future__ import annotations

from accounts.models import Tenant
from onboarding.services import comments
from portal.tenancy.tasks import tenant_task


# Not acks_late (said here: the project's default is acks_late): a worker killed after the SMTP
# server took the message must not send it again (at most once; the comment is on the page
# either way). Certain failures are retried.
@tenant_task(
    acks_late=False, autoretry_for=(comments.CommentNotSent,), retry_backoff=True, max_retries=5
)
def send_comment_notification(tenant: Tenant, comment_id: int) -> str:
    return comments.send_comment_notification(tenant, comment_id)
