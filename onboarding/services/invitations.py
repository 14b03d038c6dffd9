"""Inviting customer stakeholders into an onboarding's portal."""

from __future__ import annotations

from django.db import transaction

from accounts.models import Tenant
from accounts.services import get_or_create_user
from onboarding.models import Contact, PortalAccess


class InvitationError(ValueError):
    pass


@transaction.atomic
def invite_contact(tenant: Tenant, contact: Contact, *, send_email: bool = True) -> PortalAccess:
    """Give a customer-side contact access to its onboarding's portal and email a sign-in link.

    The email is queued once the transaction commits: a rolled-back invitation sends nothing.
    """
    if contact.side != "customer":
        raise InvitationError("Only customer-side contacts are invited to the portal.")
    if not contact.email:
        raise InvitationError(f"{contact.name} has no email address.")
    user = get_or_create_user(contact.email, contact.name)
    if contact.user_id != user.pk:
        contact.user = user
        contact.save(update_fields=["user"])
    access, created = PortalAccess.objects.get_or_create(
        onboarding_id=contact.onboarding_id, user=user, defaults={"contact": contact}
    )
    if not created and access.revoked_at is not None:
        access.revoked_at = None
        access.save(update_fields=["revoked_at"])
    if send_email:
        from onboarding.tasks import send_invitation

        transaction.on_commit(
            lambda: send_invitation.delay(tenant_id=tenant.pk, access_id=access.pk)
        )
    return access
