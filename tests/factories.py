"""Two fully populated tenants, built the way the product builds them (services, playbooks)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from accounts.models import Role, Tenant, User
from accounts.services import add_member, create_tenant
from onboarding.models import (
    Contact,
    Customer,
    FaqEntry,
    Milestone,
    Onboarding,
    Playbook,
    PortalAccess,
    Task,
    TrainingResource,
)
from onboarding.services.invitations import invite_contact
from onboarding.services.playbooks import start_onboarding
from portal.tenancy.context import tenant_context

PASSWORD = "a-long-test-password-42"


@dataclass
class World:
    """One tenant with one of everything, and the ids a test needs to point at them."""

    tenant: Tenant
    admin: User
    csm: User
    viewer: User
    client: User
    onboarding: Onboarding
    task: Task
    milestone: Milestone
    contact: Contact
    customer: Customer
    marker: str  # a string only this tenant's pages may contain

    @property
    def host(self) -> str:
        return f"{self.tenant.slug}.localhost"


def build_world(slug: str, *, tasks: int | None = None) -> World:
    tenant = create_tenant(name=f"{slug.title()} Corp", slug=slug, time_zone="America/New_York")
    marker = f"Secret{slug.title()}Customer"
    users = {}
    for role in (Role.ADMIN, Role.CSM, Role.VIEWER):
        user = User.objects.create_user(
            f"{role}@{slug}.example", PASSWORD, full_name=f"{slug} {role}"
        )
        add_member(tenant, user, role)
        users[role] = user
    with tenant_context(tenant):
        customer = Customer.objects.create(name=marker)
        onboarding = start_onboarding(
            customer=customer,
            playbook=Playbook.objects.get(model="high", is_default=True),
            start_date=dt.date(2026, 11, 16),
            name=f"{marker} rollout",
            owner=users[Role.CSM],
            crm_source="hubspot",
            crm_record_id=f"{slug}-1",
        )
        contact = Contact.objects.create(
            onboarding=onboarding,
            side="customer",
            name=f"{slug} client",
            email=f"client@{slug}-customer.example",
            is_key_contact=True,
        )
        onboarding.tasks.filter(owner_side="customer").update(owner_contact=contact)
        if tasks is not None:
            onboarding.tasks.all().delete()
            Task.objects.bulk_create(
                Task(
                    onboarding=onboarding,
                    title=f"Task {i}",
                    owner_side="customer" if i % 2 else "vendor",
                    owner_contact=contact if i % 2 else None,
                    due_date=dt.date(2026, 12, 1) + dt.timedelta(days=i),
                    position=i,
                )
                for i in range(tasks)
            )
        TrainingResource.objects.create(
            onboarding=onboarding, title=f"{marker} guide", url="https://example.com/g"
        )
        FaqEntry.objects.create(question=f"{marker} question?", answer="An answer.")
        invite_contact(tenant, contact, send_email=False)
        access = PortalAccess.objects.get(contact=contact)
        return World(
            tenant=tenant,
            admin=users[Role.ADMIN],
            csm=users[Role.CSM],
            viewer=users[Role.VIEWER],
            client=access.user,
            onboarding=onboarding,
            task=onboarding.tasks.order_by("id").first(),
            milestone=onboarding.milestones.order_by("id").first(),
            contact=contact,
            customer=customer,
            marker=marker,
        )


def verified_domain(tenant, name: str):
    """A custom domain claimed and verified, as if its TXT record had been checked."""
    from django.utils import timezone

    from accounts.models import TenantDomain
    from accounts.services_branding import add_domain

    domain = add_domain(tenant, name)
    TenantDomain.objects.filter(pk=domain.pk).update(verified_at=timezone.now())
    domain.refresh_from_db()
    return domain


def another_customer(world: World, name: str = "Initech") -> tuple[Onboarding, Contact]:
    """A second customer's onboarding in the world's tenant, with one contact of its own."""
    with tenant_context(world.tenant):
        onboarding = start_onboarding(
            customer=Customer.objects.create(name=name),
            playbook=Playbook.objects.get(model="high", is_default=True),
            start_date=world.onboarding.start_date,
            name=f"{name} rollout",
            owner=world.csm,
        )
        contact = Contact.objects.create(
            onboarding=onboarding,
            side="customer",
            name="Peter",
            email=f"peter@{name.lower()}.example",
        )
    return onboarding, contact
