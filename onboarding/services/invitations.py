"""Inviting customer stakeholders into an onboarding's portal.

Two entry points:

* `share_portal(onboarding, contact, by)` is what staff actions use (workspace, API): it applies
  the tenant's handoff gate (no sharing while `handoff_missing` is non-empty; the refusal lists
  what is missing), records an activity entry, then invites.
* `invite_contact(tenant, contact)` is the ungated primitive. Its callers are the CRM import,
  which invites the deal's primary contact the moment the closed-won deal arrives (documented
  product behaviour: the README's import section; the imported handoff is whatever the CRM had,
  and it may lack fields the tenant requires, e.g. a deal without commitments), the demo seed and
  test fixtures. New staff-facing code must call share_portal.
"""

from __future__ import annotations

from django.db import transaction

from accounts.models import Tenant, User
from accounts.services import get_or_create_user
from onboarding.models import Contact, Onboarding, PortalAccess
from onboarding.services.activity import record
from onboarding.services.handoff import handoff_missing, missing_sentence
from portal.tenancy.context import current_tenant


class InvitationError(ValueError):
    pass


@transaction.atomic
def invite_contact(tenant: Tenant, contact: Contact, *, send_email: bool = True) -> PortalAccess:
    """Give a customer-side contact access to its onboarding's portal and email a sign-in link.

    Not gated on the handoff (see the module docstring): staff actions go through share_portal.

    The email is queued once the transaction commits: a rolled-back invitation sends nothing.
    """
    if contact.side != "customer":
        raise InvitationError("Only customer-side contacts are invited to the portal.")
    if not contact.email:
        raise InvitationError(f"{contact.name} has no email address.")
    # The account is the person's, shared with every tenant that invites them: this tenant's name
    # for them stays on its Contact (onboarding.people), never in the account.
    user = get_or_create_user(contact.email)
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


def share_portal(
    onboarding: Onboarding, contact: Contact, by: User, *, send_email: bool = True
) -> PortalAccess:
    """Invite `contact` to `onboarding`'s portal, once the handoff is complete.

    Raises InvitationError naming every missing handoff item while it is not, and for a closed
    onboarding or a contact of another onboarding.
    """
    if contact.onboarding_id != onboarding.pk:
        raise InvitationError("That contact does not belong to this onboarding.")
    if onboarding.status == Onboarding.Status.CLOSED:
        raise InvitationError("This onboarding is closed; it is read-only.")
    missing = handoff_missing(onboarding)
    if missing:
        raise InvitationError(missing_sentence(missing) + " Complete it before sharing the portal.")
    with transaction.atomic():
        access = invite_contact(current_tenant(), contact, send_email=send_email)
        record(onboarding, by, f"{by.get_full_name()} shared the portal with {contact.name}")
    return access
