"""A task's uploaded file as an HTTP response, the same for the client's portal and the team's
workspace: always a download, typed from its bytes, unable to run or load anything."""

from __future__ import annotations

from django.http import FileResponse

from onboarding.models import TaskAttachment

# Types a browser may be told; anything else is served as opaque bytes.
SAFE_ATTACHMENT_TYPES = {"application/pdf", "image/png", "image/jpeg", "image/webp"}


def attachment_response(attachment: TaskAttachment) -> FileResponse:
    content_type = attachment.content_type
    if content_type not in SAFE_ATTACHMENT_TYPES:
        content_type = "application/octet-stream"
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.original_name,
        content_type=content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    # Even if a browser ever rendered it, the file could run nothing and load nothing.
    response["Content-Security-Policy"] = "default-src 'none'; sandbox; frame-ancestors 'none'"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-store"
    return response
