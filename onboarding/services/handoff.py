"""Step 1, the sales-to-success handoff: the document, its stakeholders and its completeness.

The tenant decides which fields a complete handoff needs (`Tenant.handoff_required_fields`: names
of HandoffDocument fields, plus "stakeholders" = at least one customer-side contact with a role).
Until every one is filled, `phases.move_to_phase` will not leave pre-kickoff and
`invitations.share_portal` will not share the portal; both quote `handoff_missing` verbatim, so
the page, the refusal and the test all name the same things.

Writes are versioned: `update_handoff` applies a change only if the row still has the version the
editor loaded (a conditional UPDATE), so of two people saving at once the second is told, not
silently overwritten.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.content_safety import clean_one_line, clean_phone
from accounts.models import User
from onboarding.models import Contact, HandoffDocument, Onboarding, Side
from onboarding.services.activity import record
from onboarding.services.onboardings import ensure_open
from portal.tenancy.context import current_tenant

# Field name -> the label a person reads (also the order of the missing list).
LABELS = {
    "goals": "Goals",
    "stakeholders": "Stakeholders (a customer-side contact with a role)",
    "commitments": "Commitments made in the sale",
    "risks": "Risks and objections",
    "contract_value": "Contract value",
    "currency": "Currency",
    "seats": "Seats",
    "modules": "Modules",
    "renewal_date": "Renewal date",
    "account_executive": "Account executive",
}
LIST_FIELDS = ("goals", "commitments", "risks", "modules")
DOCUMENT_FIELDS = tuple(k for k in LABELS if k != "stakeholders")
MAX_ITEMS = 50
MAX_ITEM_LENGTH = 500
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class StaleHandoff(Exception):
    """The handoff was saved by someone else since the editor loaded it."""

    def __init__(self, current: HandoffDocument):
        super().__init__("The handoff changed since you loaded it.")
        self.current = current


def required_fields() -> list[str]:
    """The tenant's required fields, in display order. Unknown names are ignored: a field that
    does not exist can never be filled, and must not lock every onboarding in pre-kickoff."""
    wanted = set(current_tenant().handoff_required_fields or [])
    return [name for name in LABELS if name in wanted]


def document_of(onboarding: Onboarding) -> HandoffDocument:
    """The onboarding's handoff; an empty unsaved one if it has none yet (onboardings created
    outside start_onboarding, e.g. through the API, may lack the row until first saved)."""
    return getattr(onboarding, "handoff", None) or HandoffDocument(onboarding=onboarding)


def _filled(handoff: HandoffDocument, name: str) -> bool:
    value = getattr(handoff, name)
    if name in LIST_FIELDS:
        return any(str(item).strip() for item in value or [])
    if isinstance(value, str):
        return bool(value.strip())
    return value is not None


def has_stakeholder(contacts: list[Contact]) -> bool:
    return any(c.side == Side.CUSTOMER and c.role.strip() for c in contacts)


def missing_fields(onboarding: Onboarding, *, contacts: list[Contact] | None = None) -> list[str]:
    """Names of the required fields still empty. Pass the contacts the page already loaded to
    spare a query; otherwise one EXISTS query answers "stakeholders"."""
    handoff = document_of(onboarding)
    missing = []
    for name in required_fields():
        if name == "stakeholders":
            if contacts is not None:
                ok = has_stakeholder(contacts)
            else:
                ok = (
                    Contact.objects.filter(onboarding=onboarding, side=Side.CUSTOMER)
                    .exclude(role="")
                    .exists()
                )
        else:
            ok = _filled(handoff, name)
        if not ok:
            missing.append(name)
    return missing


def handoff_missing(onboarding: Onboarding, *, contacts: list[Contact] | None = None) -> list[str]:
    """What a complete handoff still lacks, as labels a person reads; empty when complete."""
    return [LABELS[name] for name in missing_fields(onboarding, contacts=contacts)]


def completeness(
    onboarding: Onboarding, *, contacts: list[Contact] | None = None
) -> tuple[int, int]:
    """(required fields filled, required fields) for the completeness indicator."""
    total = len(required_fields())
    return total - len(missing_fields(onboarding, contacts=contacts)), total


def missing_sentence(missing: list[str]) -> str:
    return "The handoff is incomplete. Still missing: " + "; ".join(missing) + "."


# --- The document ---------------------------------------------------------------------------


def _clean_list(name: str, value: Any, errors: dict) -> list[str]:
    if isinstance(value, str):
        value = value.splitlines()
    items = [str(v).strip() for v in value or [] if str(v).strip()]
    if len(items) > MAX_ITEMS:
        errors[name] = f"At most {MAX_ITEMS} lines, please."
    for i, item in enumerate(items, 1):
        if len(item) > MAX_ITEM_LENGTH:
            errors[name] = f"Line {i} is longer than {MAX_ITEM_LENGTH} characters."
            break
    return items


def clean_handoff(onboarding: Onboarding, data: dict[str, Any]) -> dict[str, Any]:
    """The document's values, normalised; ValidationError keyed by field for anything wrong.

    The rules live here, not only in the form, so any caller (a form, the API, a script) gets them.
    """
    unknown = set(data) - set(DOCUMENT_FIELDS)
    if unknown:
        raise ValidationError(f"Unknown handoff fields: {', '.join(sorted(unknown))}.")
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    for name in LIST_FIELDS:
        if name in data:
            out[name] = _clean_list(name, data[name], errors)
    if "contract_value" in data:
        value = data["contract_value"]
        if value in (None, ""):
            out["contract_value"] = None
        else:
            try:
                value = Decimal(str(value))
            except InvalidOperation:
                errors["contract_value"] = "Enter an amount, e.g. 148000.00."
            else:
                if not value.is_finite() or value < 0:
                    errors["contract_value"] = "The contract value cannot be negative."
                elif value >= Decimal("1e12"):
                    errors["contract_value"] = "That amount is too large."
                elif value != value.quantize(Decimal("0.01")):
                    errors["contract_value"] = "Use at most two decimal places."
                out["contract_value"] = value
    if "currency" in data:
        currency = (data["currency"] or "").strip().upper()
        if currency and not _CURRENCY.match(currency):
            errors["currency"] = "Use a three-letter ISO code, e.g. USD or EUR."
        out["currency"] = currency
    if "seats" in data:
        seats = data["seats"]
        if seats in (None, ""):
            out["seats"] = None
        elif not isinstance(seats, int) or isinstance(seats, bool) or seats < 1:
            errors["seats"] = "Enter a whole number of seats, at least 1."
        elif seats >= 2**31:
            errors["seats"] = "That is more seats than can be stored."
        else:
            out["seats"] = seats
    if "renewal_date" in data:
        renewal = data["renewal_date"] or None
        if renewal is not None and not isinstance(renewal, dt.date):
            errors["renewal_date"] = "Enter a date."
        elif renewal is not None and renewal <= onboarding.start_date:
            errors["renewal_date"] = (
                f"The renewal date must be after the contract start "
                f"({onboarding.start_date:%b %-d, %Y})."
            )
        out["renewal_date"] = renewal
    if "account_executive" in data:
        ae = (data["account_executive"] or "").strip()
        if len(ae) > 200:
            errors["account_executive"] = "At most 200 characters."
        out["account_executive"] = ae
    if errors:
        raise ValidationError(errors)
    return out


def update_handoff(
    onboarding: Onboarding, data: dict[str, Any], expected_version: int, by: User
) -> HandoffDocument:
    """Save the handoff if nobody saved it since `expected_version`; else raise StaleHandoff
    (carrying the newer row). ValidationError for bad input; nothing is written then."""
    ensure_open(onboarding)
    changes = clean_handoff(onboarding, data)
    with transaction.atomic():
        current, _ = HandoffDocument.objects.get_or_create(onboarding=onboarding)
        if current.version != expected_version:
            raise StaleHandoff(current)
        changed = [k for k, v in changes.items() if getattr(current, k) != v]
        if not changed:
            return current
        updated = HandoffDocument.objects.filter(pk=current.pk, version=expected_version).update(
            version=F("version") + 1, updated_at=timezone.now(), **changes
        )
        if updated != 1:  # saved by someone else between our read and our write
            raise StaleHandoff(HandoffDocument.objects.get(pk=current.pk))
        labels = ", ".join(LABELS[k].lower() for k in changed)
        record(onboarding, by, f"{by.get_full_name()} updated the handoff: {labels}")
        current.refresh_from_db()
        return current


# --- Stakeholders (contacts on either side, edited on the handoff page) ----------------------

CONTACT_FIELDS = ("side", "name", "email", "role", "phone")


def clean_contact(
    onboarding: Onboarding, data: dict[str, Any], contact: Contact | None = None
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    out = {k: (data.get(k) or "").strip() for k in CONTACT_FIELDS}
    if out["side"] not in Side.values:
        errors["side"] = "Choose the vendor or the customer side."
    if not out["name"]:
        errors["name"] = "Enter the person's name."
    elif len(out["name"]) > 200:
        errors["name"] = "At most 200 characters."
    email = out["email"].lower()
    out["email"] = email
    if email:
        try:
            validate_email(email)
        except ValidationError:
            errors["email"] = "Enter a valid email address."
        else:
            others = Contact.objects.filter(onboarding=onboarding, email=email)
            if contact is not None:
                others = others.exclude(pk=contact.pk)
            if others.exists():
                errors["email"] = "Another contact of this onboarding has this email."
    if contact is not None and contact.user_id and email != contact.email.lower():
        # The portal user signs in with this address; changing it here would orphan the access.
        errors["email"] = (
            f"{contact.name} is invited to the portal with {contact.email}; add a new contact "
            "for a new address."
        )
    if len(out["role"]) > 200:
        errors["role"] = "At most 200 characters."
    # Names and roles end up in calendar invitations (CN=) and emails: one line each.
    for name in ("name", "role"):
        try:
            clean_one_line(out[name])
        except ValidationError as exc:
            errors.setdefault(name, exc.messages[0])
    try:
        out["phone"] = clean_phone(out["phone"])
    except ValidationError as exc:
        errors["phone"] = exc.messages[0]
    if len(out["phone"]) > 40:
        errors.setdefault("phone", "At most 40 characters.")
    if errors:
        raise ValidationError(errors)
    return out


@transaction.atomic
def add_stakeholder(onboarding: Onboarding, data: dict[str, Any], by: User) -> Contact:
    ensure_open(onboarding)
    contact = Contact.objects.create(onboarding=onboarding, **clean_contact(onboarding, data))
    record(
        onboarding,
        by,
        f"{by.get_full_name()} added {contact.name} ({contact.get_side_display().lower()}"
        f"{', ' + contact.role if contact.role else ''}) to the stakeholders",
    )
    return contact


@transaction.atomic
def update_stakeholder(contact: Contact, data: dict[str, Any], by: User) -> Contact:
    onboarding = contact.onboarding
    ensure_open(onboarding)
    values = clean_contact(onboarding, data, contact)
    changed = [k for k, v in values.items() if getattr(contact, k) != v]
    if changed:
        for k in changed:
            setattr(contact, k, values[k])
        contact.save(update_fields=changed)
        record(onboarding, by, f"{by.get_full_name()} updated {contact.name}: {', '.join(changed)}")
    return contact


@transaction.atomic
def delete_stakeholder(contact: Contact, by: User) -> None:
    onboarding = contact.onboarding
    ensure_open(onboarding)
    if contact.accesses.filter(revoked_at__isnull=True).exists():
        # Deleting would silently take the person's portal access with it.
        raise ValidationError(
            f"{contact.name} has access to the portal; revoke it before removing them."
        )
    name = contact.name
    contact.delete()
    record(onboarding, by, f"{by.get_full_name()} removed {name} from the stakeholders")
