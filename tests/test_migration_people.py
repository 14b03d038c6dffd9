"""The data migrations of addresses and account names (accounts 0005, 0006; onboarding 0009)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("accounts", "0004_workspace_steps"), ("onboarding", "0008_delivery_outcomes")]
AFTER = [
    ("accounts", "0006_emails_in_one_spelling"),
    ("onboarding", "0009_contact_emails_lowercase"),
]


@pytest.fixture
def old_schema(transactional_db):
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    yield executor.loader.project_state(BEFORE).apps
    executor = MigrationExecutor(connection)  # leave the schema as the other tests expect
    executor.migrate(executor.loader.graph.leaf_nodes())


def _migrate():
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(AFTER)
    return executor.loader.project_state(AFTER).apps


def test_addresses_get_one_spelling_and_accounts_lose_tenant_labels(old_schema):
    apps = old_schema
    Tenant = apps.get_model("accounts", "Tenant")
    User = apps.get_model("accounts", "User")
    Membership = apps.get_model("accounts", "Membership")
    Customer = apps.get_model("onboarding", "Customer")
    Onboarding = apps.get_model("onboarding", "Onboarding")
    Contact = apps.get_model("onboarding", "Contact")
    tenant = Tenant.objects.create(name="Old", slug="old")
    typed = User.objects.create(email="Sam.Staff@Vendor.example", full_name="Sam Staff")
    Membership.objects.create(tenant=tenant, user=typed, role="csm")
    client = User.objects.create(email="jane@acme.example", full_name="Jane (CFO, churn risk)")
    platform = User.objects.create(email="ops@platform.example", full_name="Ops", is_staff=True)
    onboarding = Onboarding.objects.create(
        tenant=tenant,
        customer=Customer.objects.create(tenant=tenant, name="Acme"),
        name="Acme",
        model="mid",
        start_date=dt.date(2025, 1, 1),
    )
    contact = Contact.objects.create(
        tenant=tenant,
        onboarding=onboarding,
        side="customer",
        name="Jane",
        email=" Jane@Acme.EXAMPLE",
    )

    apps = _migrate()
    User = apps.get_model("accounts", "User")
    Contact = apps.get_model("onboarding", "Contact")
    assert User.objects.get(pk=typed.pk).email == "sam.staff@vendor.example"
    assert User.objects.get(pk=typed.pk).full_name == "Sam Staff"  # a member names themself
    assert User.objects.get(pk=client.pk).full_name == ""  # a tenant's label, gone
    assert User.objects.get(pk=platform.pk).full_name == "Ops"
    assert Contact._base_manager.get(pk=contact.pk).email == "jane@acme.example"


def test_accounts_differing_only_in_spelling_stop_the_migration(old_schema):
    User = old_schema.get_model("accounts", "User")
    User.objects.create(email="jane@acme.example")
    User.objects.create(email="Jane@Acme.example")
    with pytest.raises(RuntimeError, match="jane@acme.example, Jane@Acme.example"):
        _migrate()
    User.objects.filter(email="Jane@Acme.example").delete()  # so the fixture can finish


@pytest.mark.django_db(transaction=True)
def test_domains_serving_before_verification_existed_stay_verified():
    before = [("accounts", "0006_emails_in_one_spelling")]
    after = [("accounts", "0007_domain_verification")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        apps = executor.loader.project_state(before).apps
        tenant = apps.get_model("accounts", "Tenant").objects.create(name="Old", slug="old")
        TenantDomain = apps.get_model("accounts", "TenantDomain")
        TenantDomain.objects.create(tenant=tenant, domain="portal.old.example", is_primary=True)
        TenantDomain.objects.create(tenant=tenant, domain="other.old.example")
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        TenantDomain = executor.loader.project_state(after).apps.get_model(
            "accounts", "TenantDomain"
        )
        rows = list(TenantDomain.objects.values("verified_at", "verification_token"))
        assert all(r["verified_at"] is not None for r in rows)
        assert len({r["verification_token"] for r in rows}) == 2
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
