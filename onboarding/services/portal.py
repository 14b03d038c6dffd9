"""What client users do in the portal: task status, comments, files, training, NPS, engagement.

Plain functions: each takes the acting user explicitly and refuses anything outside the
onboardings that user was invited to. They run inside the caller's tenant scope (the request's,
or `tenant_context` in a task), so every query is filtered to that tenant.

Task status rules (blocked needs a reason, closed plans are read-only, versions) live in
services.tasks.update_task; content rules (attachment size and type) in accounts.content_safety.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import unicodedata

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.content_safety import MAX_ATTACHMENT_BYTES, sniff_attachment
from accounts.models import User
from onboarding.models import (
    EngagementEvent,
    NpsResponse,
    Onboarding,
    PortalAccess,
    Side,
    Task,
    TaskAttachment,
    TaskComment,
    TrainingCompletion,
    TrainingResource,
)
from onboarding.people import name_of
from onboarding.services.activity import record
from onboarding.services.tasks import ensure_plan_open, update_task

VISIT_THROTTLE = dt.timedelta(minutes=30)
CLIENT_STATUSES = (
    Task.Status.NOT_STARTED,
    Task.Status.IN_PROGRESS,
    Task.Status.COMPLETE,
    Task.Status.BLOCKED,
)
MAX_COMMENT_CHARS = 5000
MAX_BLOCKED_REASON_CHARS = 2000


class NotAllowed(Exception):
    """The user may not do this to this object. Views answer it exactly like a missing object."""


def _require_access(user: User, onboarding: Onboarding) -> None:
    if not (
        user.is_authenticated
        and PortalAccess.objects.filter(
            onboarding=onboarding, user=user, revoked_at__isnull=True
        ).exists()
    ):
        raise NotAllowed("No portal access to this onboarding.")


def _require_customer_task(user: User, task: Task) -> None:
    _require_access(user, task.onboarding)
    if task.owner_side != Side.CUSTOMER:
        raise NotAllowed("Tasks owned by the vendor are read-only in the portal.")


# --- The mutual action plan -----------------------------------------------------------------


def client_update_task_status(
    user: User,
    task: Task,
    *,
    status: str,
    blocked_reason: str = "",
    expected_version: int | None = None,
) -> Task:
    """Set the status of a customer-side task. Raises NotAllowed, ValidationError, StaleVersion."""
    _require_customer_task(user, task)
    if status not in CLIENT_STATUSES:
        raise ValidationError({"status": "Choose one of the listed statuses."})
    blocked_reason = (blocked_reason or "").strip()
    if len(blocked_reason) > MAX_BLOCKED_REASON_CHARS:
        raise ValidationError(
            {"blocked_reason": f"Keep the reason under {MAX_BLOCKED_REASON_CHARS} characters."}
        )
    changes = {"status": status}
    if status == Task.Status.BLOCKED:
        changes["blocked_reason"] = blocked_reason
    before = task.status
    with transaction.atomic():
        task = update_task(task, changes, expected_version=expected_version)
        if task.status != before:  # the team sees what the customer did, as its own edits
            how = task.get_status_display().lower()
            if task.status == Task.Status.BLOCKED:
                how = f"blocked ({task.blocked_reason})"
            who = name_of(user, task.onboarding)
            record(task.onboarding, user, f"{who} marked “{task.title}” {how} in the portal.")
    return task


def add_comment(user: User, task: Task, body: str) -> TaskComment:
    """A comment from a client user; always visible to both sides, never internal."""
    _require_customer_task(user, task)
    ensure_plan_open(task.onboarding)
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": "Write a comment first."})
    if len(body) > MAX_COMMENT_CHARS:
        raise ValidationError({"body": f"Keep comments under {MAX_COMMENT_CHARS} characters."})
    return TaskComment.objects.create(task=task, author=user, body=body, internal=False)


def clean_original_name(name: str) -> str:
    """The uploaded file's name as harmless metadata: no path, no control characters."""
    name = unicodedata.normalize("NFC", os.path.basename((name or "").replace("\\", "/")))
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip(" .")
    if len(name) > 200:
        stem, ext = os.path.splitext(name)
        name = stem[: 200 - len(ext[:20])] + ext[:20]
    return name or "file"


def add_attachment(user: User, task: Task, upload) -> TaskAttachment:
    """Store an uploaded file under a random name; its type comes from its bytes."""
    _require_customer_task(user, task)
    ensure_plan_open(task.onboarding)
    if upload is None:
        raise ValidationError({"file": "Choose a file to attach."})
    limit_mb = MAX_ATTACHMENT_BYTES // (1024 * 1024)
    if upload.size is not None and upload.size > MAX_ATTACHMENT_BYTES:
        raise ValidationError({"file": f"The file is larger than {limit_mb} MB."})
    data = upload.read(MAX_ATTACHMENT_BYTES + 1)
    if len(data) > MAX_ATTACHMENT_BYTES:
        raise ValidationError({"file": f"The file is larger than {limit_mb} MB."})
    if not data:
        raise ValidationError({"file": "The file is empty."})
    attachment = TaskAttachment(
        task=task,
        uploaded_by=user,
        original_name=clean_original_name(getattr(upload, "name", "")),
        content_type=sniff_attachment(data),
        size=len(data),
    )
    # No extension and no part of the client's name reaches the file system.
    attachment.file.save(secrets.token_hex(16), ContentFile(data), save=False)
    try:
        with transaction.atomic():
            attachment.save()
            who = name_of(user, task.onboarding)
            record(
                task.onboarding,
                user,
                f"{who} attached “{attachment.original_name}” to “{task.title}” in the portal.",
            )
    except Exception:
        attachment.file.delete(save=False)
        raise
    return attachment


# --- Training ------------------------------------------------------------------------------


def mark_training_done(user: User, resource: TrainingResource) -> TrainingCompletion:
    """Record that the user finished a resource. Doing it again changes nothing."""
    _require_access(user, resource.onboarding)
    existing = TrainingCompletion.objects.filter(resource=resource, user=user).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return TrainingCompletion.objects.create(resource=resource, user=user)
    except IntegrityError:  # a simultaneous click won the race
        return TrainingCompletion.objects.get(resource=resource, user=user)


# --- NPS at close ----------------------------------------------------------------------------

NPS_NOT_OPEN = "The survey opens when the onboarding is closed."
NPS_ALREADY = "You already answered this survey. Thank you!"


def answer_nps(user: User, onboarding: Onboarding, score, comment: str = "") -> NpsResponse:
    """The one NPS answer of this user for this onboarding, accepted only once it is closed."""
    _require_access(user, onboarding)
    if onboarding.status != Onboarding.Status.CLOSED:
        raise ValidationError(NPS_NOT_OPEN)
    try:
        score = int(score)
    except (TypeError, ValueError):
        score = -1
    if not 0 <= score <= 10:
        raise ValidationError({"score": "Choose a score from 0 to 10."})
    comment = (comment or "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise ValidationError({"comment": f"Keep it under {MAX_COMMENT_CHARS} characters."})
    if NpsResponse.objects.filter(onboarding=onboarding, user=user).exists():
        raise ValidationError(NPS_ALREADY)
    try:
        with transaction.atomic():
            return NpsResponse.objects.create(
                onboarding=onboarding, user=user, score=score, comment=comment
            )
    except IntegrityError as exc:  # a second submit raced the first
        raise ValidationError(NPS_ALREADY) from exc


# --- Engagement ------------------------------------------------------------------------------

EVENT_KINDS = {
    "sign_in": EngagementEvent.Kind.SIGN_IN,
    "visit": EngagementEvent.Kind.VISIT,
    "resource_open": EngagementEvent.Kind.RESOURCE_OPEN,
}


def record_event(
    user: User,
    kind: str,
    onboarding: Onboarding,
    *,
    resource: TrainingResource | None = None,
    now: dt.datetime | None = None,
) -> EngagementEvent | None:
    """Record who did what, when. Visits count once per user and onboarding per 30 minutes.

    Returns the new event, or None for a visit inside the throttle window.
    """
    kind = EVENT_KINDS.get(kind, kind)
    if kind not in EngagementEvent.Kind.values:
        raise ValueError(f"Unknown engagement event {kind!r}")
    if resource is not None and resource.onboarding_id != onboarding.pk:
        raise NotAllowed("The resource belongs to another onboarding.")
    now = now or timezone.now()
    with transaction.atomic():
        # Lock the invitation row: two simultaneous page loads cannot both count as a visit.
        access = (
            PortalAccess.objects.select_for_update()
            .filter(onboarding=onboarding, user=user, revoked_at__isnull=True)
            .first()
        )
        if access is None:
            raise NotAllowed("No portal access to this onboarding.")
        if kind == EngagementEvent.Kind.VISIT:
            PortalAccess.objects.filter(pk=access.pk).update(last_seen_at=now)
        if (
            kind == EngagementEvent.Kind.VISIT
            and EngagementEvent.objects.filter(
                onboarding=onboarding,
                user=user,
                kind=kind,
                created_at__gt=now - VISIT_THROTTLE,
            ).exists()
        ):
            return None
        return EngagementEvent.objects.create(
            onboarding=onboarding, user=user, kind=kind, resource=resource, created_at=now
        )


def record_sign_in(user: User, *, now: dt.datetime | None = None) -> list[EngagementEvent]:
    """A sign-in counts for every onboarding of this tenant the user is invited to."""
    now = now or timezone.now()
    accesses = list(
        PortalAccess.objects.filter(user=user, revoked_at__isnull=True).select_related("onboarding")
    )
    PortalAccess.objects.filter(pk__in=[a.pk for a in accesses], accepted_at__isnull=True).update(
        accepted_at=now
    )
    return EngagementEvent.objects.bulk_create(
        EngagementEvent(
            onboarding=a.onboarding, user=user, kind=EngagementEvent.Kind.SIGN_IN, created_at=now
        )
        for a in accesses
    )
