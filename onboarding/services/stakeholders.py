"""Client stakeholders in the portal: invite, re-send the sign-in email, revoke.

Inviting goes through the handoff gate (`invitations.share_portal`: the portal is shared only once
the handoff is complete) when it exists, else straight to `invitations.invite_contact`. Emails are
queued after commit (a rolled-back invitation sends nothing). Revoking stamps
`PortalAccess.revoked_at`; every portal lookup (selectors.client_onboardings) ignores revoked
accesses, so the person sees nothing of the onboarding from the next request on. A closed
onboarding is read-only.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from onboarding.models import Contact, Onboarding, PortalAccess, Side
from onboarding.services import invitations
from onboarding.services.activity import record
from onboarding.services.onboardings import ensure_open
from portal.tenancy.context import current_tenant


def _name(by: User) -> str:
    return by.get_full_name()


# --- Reads for the stakeholders page ---------------------------------------------------------


def accesses(onboarding: Onboarding) -> list[PortalAccess]:
    """Everyone invited, with when they accepted and last visited, in one query."""
    return list(
        onboarding.accesses.select_related("contact", "user").order_by(
            "revoked_at", "contact__name", "id"
        )
    )


def invitable_contacts(onboarding: Onboarding) -> QuerySet[Contact]:
    """Customer contacts with an email and no live access: whom the invite form offers."""
    live = PortalAccess.objects.filter(onboarding=onboarding, revoked_at__isnull=True).values(
        "contact_id"
    )
    return (
        Contact.objects.filter(onboarding=onboarding, side=Side.CUSTOMER)
        .exclude(email="")
        .exclude(pk__in=live)
        .order_by("name", "id")
    )


# --- Writes ------------------------------------------------------------------------------------


def _clean_new_person(onboarding: Onboarding, data: dict[str, Any]) -> dict[str, str]:
    errors: dict[str, str] = {}
    name = (data.get("name") or "").strip()
    email = (data.get("email") or "").strip().lower()
    role = (data.get("role") or "").strip()
    if not name:
        errors["name"] = "Enter the person's name."
    elif len(name) > 200:
        errors["name"] = "At most 200 characters."
    if not email:
        errors["email"] = "Enter the email address the invitation goes to."
    else:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = "Enter a valid email address."
        else:
            if Contact.objects.filter(onboarding=onboarding, email=email).exists():
                errors["email"] = (
                    "A contact of this onboarding already has this email; choose them above."
                )
    if len(role) > 200:
        errors["role"] = "At most 200 characters."
    if errors:
        raise ValidationError(errors)
    return {"name": name, "email": email, "role": role}


def _share(onboarding: Onboarding, contact: Contact, by: User) -> PortalAccess:
    """Through the handoff gate where there is one (it records the activity itself)."""
    gate = getattr(invitations, "share_portal", None)
    try:
        if gate is not None:
            return gate(onboarding, contact, by)
        access = invitations.invite_contact(current_tenant(), contact)
    except invitations.InvitationError as exc:
        raise ValidationError(str(exc)) from exc
    record(onboarding, by, f"{_name(by)} invited {contact.name} ({contact.email}) to the portal")
    return access


def invite(onboarding: Onboarding, data: dict[str, Any], by: User) -> PortalAccess:
    """Invite an existing customer contact (`data["contact"]`) or a new person (name, email,
    role). All or nothing: a refused invitation leaves no new contact behind."""
    ensure_open(onboarding)
    contact = data.get("contact")
    with transaction.atomic():
        if contact is not None:
            if not isinstance(contact, Contact) or contact.onboarding_id != onboarding.pk:
                raise ValidationError({"contact": "Choose one of this onboarding's contacts."})
            if contact.side != Side.CUSTOMER:
                raise ValidationError({"contact": "Only people of the customer are invited."})
            if not contact.email:
                raise ValidationError({"contact": f"{contact.name} has no email address."})
            if PortalAccess.objects.filter(
                onboarding=onboarding, contact=contact, revoked_at__isnull=True
            ).exists():
                raise ValidationError({"contact": f"{contact.name} is already invited."})
        else:
            values = _clean_new_person(onboarding, data)
            contact = Contact.objects.create(onboarding=onboarding, side=Side.CUSTOMER, **values)
            record(onboarding, by, f"{_name(by)} added {contact.name} to the customer's people")
        return _share(onboarding, contact, by)


@transaction.atomic
def resend(access: PortalAccess, by: User) -> PortalAccess:
    """A fresh sign-in email (the invitation task issues a new single-use link)."""
    onboarding = access.onboarding
    ensure_open(onboarding)
    if access.revoked_at is not None:
        raise ValidationError(
            f"{access.contact.name}'s access was revoked; invite them again to restore it."
        )
    from onboarding.tasks import send_invitation

    tenant_id, access_id = current_tenant().pk, access.pk
    transaction.on_commit(lambda: send_invitation.delay(tenant_id=tenant_id, access_id=access_id))
    record(onboarding, by, f"{_name(by)} re-sent the portal invitation to {access.contact.name}")
    return access


@transaction.atomic
def revoke(access: PortalAccess, by: User) -> PortalAccess:
    """Also on a closed onboarding: its portal stays readable by the client's people, so someone
    who has left the customer must still be taken out of it."""
    onboarding = access.onboarding
    now = timezone.now()
    # Conditional: a second revoke (another tab, a double click) changes nothing.
    if not PortalAccess.objects.filter(pk=access.pk, revoked_at__isnull=True).update(
        revoked_at=now
    ):
        raise ValidationError(f"{access.contact.name}'s access is already revoked.")
    access.revoked_at = now
    record(onboarding, by, f"{_name(by)} revoked {access.contact.name}'s portal access")
    return access
