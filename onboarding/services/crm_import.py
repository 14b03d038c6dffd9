"""Turn a CRM export into customers, onboardings, handoffs, plans and portal invitations.

All or nothing: every row is checked first; one bad row imports nothing. The CRM record id is the
key, so importing the same file again creates nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from accounts.models import Tenant, User
from onboarding.crm_import.parsing import DealRow, ParseResult, RowError, parse_export
from onboarding.models import Contact, Customer, HandoffDocument, Onboarding
from onboarding.services.invitations import invite_contact
from onboarding.services.playbooks import playbook_for_amount, start_onboarding


@dataclass
class ImportReport:
    format_label: str = ""
    created: list[Onboarding] = field(default_factory=list)
    already_imported: list[str] = field(default_factory=list)  # record ids
    skipped_stages: dict[str, int] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def import_handoffs(
    tenant: Tenant,
    data: bytes,
    *,
    date_format: str | None = None,
    owner: User | None = None,
    send_invitations: bool = True,
) -> ImportReport:
    """Import the export into `tenant` (which must be the tenant in scope)."""
    parsed: ParseResult = parse_export(
        data, overrides=tenant.crm_column_overrides or None, date_format=date_format
    )
    report = ImportReport(format_label=parsed.format.label, errors=list(parsed.errors))
    if not report.ok:
        return report
    source = parsed.format.key
    existing = set(
        Onboarding.objects.filter(
            crm_source=source, crm_record_id__in=[r.record_id for r in parsed.rows]
        ).values_list("crm_record_id", flat=True)
    )
    with transaction.atomic():
        for row in parsed.rows:
            if not row.is_won:
                report.skipped_stages[row.stage] = report.skipped_stages.get(row.stage, 0) + 1
            elif row.record_id in existing:
                report.already_imported.append(row.record_id)
            else:
                report.created.append(
                    _create_onboarding(tenant, row, source, owner, send_invitations)
                )
    return report


def _create_onboarding(
    tenant: Tenant, row: DealRow, source: str, owner: User | None, send_invitations: bool
) -> Onboarding:
    customer = Customer.objects.filter(name__iexact=row.company).first()
    if customer is None:
        customer = Customer.objects.create(name=row.company)
    onboarding = start_onboarding(
        customer=customer,
        playbook=playbook_for_amount(tenant, row.amount),
        start_date=row.close_date,
        name=row.deal_name or row.company,
        owner=owner,
        crm_source=source,
        crm_record_id=row.record_id,
    )
    HandoffDocument.objects.filter(onboarding=onboarding).update(
        goals=row.goals,
        commitments=row.commitments,
        risks=row.risks,
        contract_value=row.amount,
        currency=row.currency or "",
        seats=row.seats,
        modules=row.modules,
        renewal_date=row.renewal_date,
        account_executive=row.owner_name,
    )
    contact = Contact.objects.create(
        onboarding=onboarding,
        side="customer",
        name=row.contact_name or row.contact_email,
        email=row.contact_email,
        role=row.contact_role,
        is_primary=True,
        is_key_contact=True,
    )
    # The primary contact owns the customer side's plan until the CSM assigns others.
    onboarding.tasks.filter(owner_side="customer").update(owner_contact=contact)
    if owner is not None:
        Contact.objects.create(
            onboarding=onboarding,
            side="vendor",
            name=owner.get_full_name(),
            email=owner.email,
            role="Customer success manager",
            user=owner,
            is_key_contact=True,
        )
    invite_contact(tenant, contact, send_email=send_invitations)
    return onboarding
