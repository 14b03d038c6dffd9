"""Writes behind the tenant settings pages: branding, key contacts, FAQ entries, custom domains.

Each function takes the tenant explicitly, runs inside that tenant's scope and in one transaction,
and either saves everything it was given or nothing. Values arrive validated by accounts.forms;
the rules that protect HTML, CSS and email headers are checked here again (content_safety), so a
caller that skips the form still cannot store a colour that breaks out of CSS, a video from
another host, or a logo that is not a re-encoded PNG.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Max, Q
from django.utils import timezone

from onboarding.models import FaqEntry, KeyContact
from portal.tenancy.context import tenant_context

from . import domain_verification
from .content_safety import (
    clean_domain_name,
    clean_hex_colour,
    clean_one_line,
    clean_phone,
    clean_sender_name,
    video_embed_url,
)
from .forms import DOMAIN_TAKEN
from .models import Tenant, TenantDomain

log = logging.getLogger(__name__)

Direction = Literal["up", "down"]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _checked_png(image: ContentFile) -> ContentFile:
    """Only re-encoded PNGs (content_safety.reencode_image) are stored."""
    head = image.read(8)
    image.seek(0)
    if head != PNG_SIGNATURE:
        raise ValidationError("Images are stored only after reencode_image().")
    return image


def _delete_file_on_commit(storage, name: str) -> None:
    if name:
        transaction.on_commit(lambda: storage.delete(name))


BRANDING_FIELDS = {
    "portal_name",
    "primary_color",
    "accent_color",
    "welcome_message",
    "welcome_video_url",
    "email_sender_name",
}


# --- Branding -------------------------------------------------------------------------------------


def update_branding(
    tenant: Tenant,
    *,
    portal_name: str,
    primary_color: str,
    accent_color: str,
    welcome_message: str,
    welcome_video_url: str,
    email_sender_name: str,
    logo: ContentFile | None = None,
    remove_logo: bool = False,
) -> Tenant:
    """Save the tenant's branding. A new logo replaces the old one, whose file goes on commit."""
    with tenant_context(tenant), transaction.atomic():
        row = Tenant.objects.select_for_update().get(pk=tenant.pk)
        row.portal_name = clean_one_line(portal_name)
        row.primary_color = clean_hex_colour(primary_color)
        row.accent_color = clean_hex_colour(accent_color)
        row.welcome_message = welcome_message
        row.welcome_video_url = welcome_video_url.strip()
        if row.welcome_video_url:
            video_embed_url(row.welcome_video_url)
        row.email_sender_name = clean_sender_name(email_sender_name)
        old_logo = row.logo.name
        if logo is not None:
            row.logo.save(f"{tenant.slug}-{secrets.token_hex(8)}.png", _checked_png(logo), False)
        elif remove_logo:
            row.logo = ""
        row.clean_fields(
            exclude=[f.name for f in Tenant._meta.fields if f.name not in BRANDING_FIELDS]
        )
        row.save()
        if logo is not None or remove_logo:
            _delete_file_on_commit(row.logo.storage, old_logo)
        return row


# --- Ordering helpers -----------------------------------------------------------------------------


def _next_position(model) -> int:
    top = model.objects.aggregate(top=Max("position"))["top"]
    return 0 if top is None else top + 1


def _move(model, obj_id: int, direction: Direction) -> None:
    """Swap a row with its neighbour and renumber the list 0..n-1 (positions may have gaps)."""
    rows = list(model.objects.select_for_update().order_by("position", "id"))
    index = next((i for i, row in enumerate(rows) if row.pk == obj_id), None)
    if index is None:
        raise model.DoesNotExist
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(rows):
        rows[index], rows[other] = rows[other], rows[index]
    changed = []
    for position, row in enumerate(rows):
        if row.position != position:
            row.position = position
            changed.append(row)
    if changed:
        model.objects.bulk_update(changed, ["position"])


# --- Key contacts ---------------------------------------------------------------------------------


def _apply_contact(contact: KeyContact, name, role, email, phone) -> None:
    contact.name = name.strip()
    contact.role = role.strip()
    contact.email = email.strip().lower()
    contact.phone = clean_phone(phone)


def add_key_contact(
    tenant: Tenant,
    *,
    name: str,
    role: str = "",
    email: str = "",
    phone: str = "",
    photo: ContentFile | None = None,
) -> KeyContact:
    with tenant_context(tenant), transaction.atomic():
        Tenant.objects.select_for_update().get(pk=tenant.pk)  # serialises position numbering
        contact = KeyContact(tenant=tenant, position=_next_position(KeyContact))
        _apply_contact(contact, name, role, email, phone)
        if photo is not None:
            contact.photo.save(f"{secrets.token_hex(8)}.png", _checked_png(photo), False)
        contact.full_clean(exclude=["photo"])
        contact.save()
        return contact


def update_key_contact(
    tenant: Tenant,
    contact_id: int,
    *,
    name: str,
    role: str = "",
    email: str = "",
    phone: str = "",
    photo: ContentFile | None = None,
    remove_photo: bool = False,
) -> KeyContact:
    """Raises KeyContact.DoesNotExist for an id that is not this tenant's."""
    with tenant_context(tenant), transaction.atomic():
        contact = KeyContact.objects.select_for_update().get(pk=contact_id)
        _apply_contact(contact, name, role, email, phone)
        old_photo = contact.photo.name
        if photo is not None:
            contact.photo.save(f"{secrets.token_hex(8)}.png", _checked_png(photo), False)
        elif remove_photo:
            contact.photo = ""
        contact.full_clean(exclude=["photo"])
        contact.save()
        if photo is not None or remove_photo:
            _delete_file_on_commit(contact.photo.storage, old_photo)
        return contact


def delete_key_contact(tenant: Tenant, contact_id: int) -> None:
    with tenant_context(tenant), transaction.atomic():
        contact = KeyContact.objects.select_for_update().get(pk=contact_id)
        _delete_file_on_commit(contact.photo.storage, contact.photo.name)
        contact.delete()


def move_key_contact(tenant: Tenant, contact_id: int, direction: Direction) -> None:
    with tenant_context(tenant), transaction.atomic():
        _move(KeyContact, contact_id, direction)


# --- FAQ ------------------------------------------------------------------------------------------


def add_faq(tenant: Tenant, *, question: str, answer: str) -> FaqEntry:
    with tenant_context(tenant), transaction.atomic():
        Tenant.objects.select_for_update().get(pk=tenant.pk)
        entry = FaqEntry(
            tenant=tenant,
            question=question.strip(),
            answer=answer.strip(),
            position=_next_position(FaqEntry),
        )
        entry.full_clean()
        entry.save()
        return entry


def update_faq(tenant: Tenant, faq_id: int, *, question: str, answer: str) -> FaqEntry:
    with tenant_context(tenant), transaction.atomic():
        entry = FaqEntry.objects.select_for_update().get(pk=faq_id)
        entry.question = question.strip()
        entry.answer = answer.strip()
        entry.full_clean()
        entry.save()
        return entry


def delete_faq(tenant: Tenant, faq_id: int) -> None:
    with tenant_context(tenant), transaction.atomic():
        FaqEntry.objects.select_for_update().get(pk=faq_id).delete()


def move_faq(tenant: Tenant, faq_id: int, direction: Direction) -> None:
    with tenant_context(tenant), transaction.atomic():
        _move(FaqEntry, faq_id, direction)


# --- Custom domains -------------------------------------------------------------------------------


def dns_target(tenant: Tenant) -> str:
    """What a custom domain's CNAME record points at."""
    return f"{tenant.slug}.{settings.BASE_DOMAIN}"


def add_domain(tenant: Tenant, domain: str) -> TenantDomain:
    """Claim a custom domain; it opens the portal once verified (verify_domain).

    Refused with one message when the name is verified by anyone, or already claimed by this
    tenant. Another tenant's unverified claim does not block: whoever proves control wins.
    """
    name = clean_domain_name(domain, base_domain=settings.BASE_DOMAIN)
    if TenantDomain.objects.filter(domain=name, verified_at__isnull=False).exists():
        raise ValidationError({"domain": DOMAIN_TAKEN})
    try:
        with transaction.atomic():
            return TenantDomain.objects.create(tenant=tenant, domain=name, is_primary=False)
    except IntegrityError as exc:
        raise ValidationError({"domain": DOMAIN_TAKEN}) from exc


def verify_domain(tenant: Tenant, domain_id: int) -> TenantDomain:
    """Look up the claim's TXT record; verified when it holds the claim's token.

    Raises TenantDomain.DoesNotExist for an id that is not this tenant's, and ValidationError
    (nothing changed) when the record is missing or wrong, DNS cannot be asked, or another
    tenant verified the name first (the unique index decides a race).
    """
    claim = tenant.domains.get(pk=domain_id)
    if claim.verified_at is not None:
        return claim
    record = domain_verification.record_name(claim.domain)
    try:
        tokens = domain_verification.published_tokens(claim.domain)
    except domain_verification.LookupFailed as exc:
        raise ValidationError(f"DNS could not be asked about {record} ({exc}). Try again.") from exc
    if claim.verification_token not in tokens:
        found = f"it holds {', '.join(sorted(tokens))}" if tokens else "there is none yet"
        raise ValidationError(
            f"No TXT record {record} with the value {claim.verification_token}: {found}. DNS "
            "changes can take a while to show."
        )
    try:
        with transaction.atomic():
            updated = tenant.domains.filter(pk=claim.pk, verified_at__isnull=True).update(
                verified_at=timezone.now(), verified_by_dns=True, failed_rechecks=0
            )
            if updated:
                # The name is held now: other tenants' claims on it can never be verified.
                TenantDomain.objects.filter(domain=claim.domain, verified_at__isnull=True).delete()
    except IntegrityError as exc:
        raise ValidationError({"domain": DOMAIN_TAKEN}) from exc
    current = tenant.domains.filter(pk=claim.pk).first()
    if current is None:  # removed, or ended by another tenant's verification, meanwhile
        raise ValidationError({"domain": DOMAIN_TAKEN})
    return current


RECHECKS_BEFORE_LOSS = 3
# Checked at most once in this long, however often the task runs (beat restarts, a manual run):
# the failures before a loss are days, not runs.
RECHECK_EVERY = dt.timedelta(hours=20)


def recheck_verified_domains(now: dt.datetime | None = None) -> dict[str, int]:
    """The daily check that each domain verified through DNS still publishes its token.

    After RECHECKS_BEFORE_LOSS failed daily checks in a row, the domain stops being primary
    and verified: it no longer opens its tenant's portal, and emailed links fall back to the
    subdomain. DNS that cannot be asked counts neither way. One DNS question per domain due.
    """
    now = now or timezone.now()
    counts = {"kept": 0, "failing": 0, "lost": 0, "unknown": 0}
    due = TenantDomain.objects.filter(verified_by_dns=True, verified_at__isnull=False).filter(
        Q(rechecked_at__isnull=True) | Q(rechecked_at__lte=now - RECHECK_EVERY)
    )
    for domain in due.order_by("pk").iterator():
        try:
            tokens = domain_verification.published_tokens(domain.domain)
        except domain_verification.LookupFailed:
            counts["unknown"] += 1
            continue
        # Unchanged since it was read: a tenant's own remove or a staff edit meanwhile wins.
        same = TenantDomain.objects.filter(
            pk=domain.pk, verified_at=domain.verified_at, failed_rechecks=domain.failed_rechecks
        )
        if domain.verification_token in tokens:
            counts["kept"] += same.update(failed_rechecks=0, rechecked_at=now)
        elif domain.failed_rechecks + 1 < RECHECKS_BEFORE_LOSS:
            counts["failing"] += same.update(
                failed_rechecks=domain.failed_rechecks + 1, rechecked_at=now
            )
        elif same.update(
            is_primary=False,
            verified_at=None,
            verified_by_dns=False,
            failed_rechecks=0,
            rechecked_at=now,
        ):
            log.warning("domain %s of tenant %s lost its verification", domain, domain.tenant_id)
            counts["lost"] += 1
    return counts


def remove_domain(tenant: Tenant, domain_id: int) -> None:
    """Raises TenantDomain.DoesNotExist for an id that is not this tenant's.

    Removing the primary domain makes emailed links fall back to the tenant's subdomain.
    """
    with transaction.atomic():
        tenant.domains.select_for_update().get(pk=domain_id).delete()


def set_primary_domain(tenant: Tenant, domain_id: int | None) -> None:
    """Make one of the tenant's domains the canonical host (None: back to the subdomain)."""
    with transaction.atomic():
        Tenant.objects.select_for_update().get(pk=tenant.pk)
        target = None
        if domain_id is not None:
            # Locked: the daily re-check must not unverify it between this check and the update.
            target = tenant.domains.select_for_update().get(pk=domain_id)
            if target.verified_at is None:
                raise ValidationError("Verify the domain first: emailed links must reach you.")
        # Clear first: the partial unique index allows one primary per tenant at any moment.
        tenant.domains.filter(is_primary=True).exclude(pk=domain_id).update(is_primary=False)
        if target is not None and not target.is_primary:
            tenant.domains.filter(pk=target.pk).update(is_primary=True)
