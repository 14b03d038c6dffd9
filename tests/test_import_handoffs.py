"""`manage.py import_handoffs` on the real CRM exports in ../shared/cases."""

from __future__ import annotations

import datetime as dt
from io import StringIO
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from accounts.models import User
from accounts.services import create_tenant
from onboarding.models import Contact, Customer, HandoffDocument, Onboarding, PortalAccess, Task
from portal.tenancy.context import tenant_context

CASES = Path(__file__).resolve().parents[1].parent / "shared" / "cases"
needs_cases = pytest.mark.skipif(not CASES.is_dir(), reason=f"{CASES} not present")


@pytest.fixture
def tenant(db):
    return create_tenant(name="Acme Cloud", slug="acme", time_zone="America/New_York")


def run_import(path, **kwargs) -> str:
    out = StringIO()
    call_command("import_handoffs", str(path), stdout=out, stderr=out, **kwargs)
    return out.getvalue()


@needs_cases
def test_hubspot_export_becomes_onboardings(tenant, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        output = run_import(CASES / "hubspot-deals.csv", tenant="acme")
    assert "3 created, 0 already imported, 2 skipped" in output
    with tenant_context(tenant):
        models = dict(Onboarding.objects.values_list("customer__name", "model"))
        assert models == {
            "Northwind Traders": "high",
            "Contoso Health": "mid",
            "Fabrikam Studio": "low",
        }
        northwind = Onboarding.objects.get(customer__name="Northwind Traders")
        assert northwind.start_date == dt.date(2026, 11, 16)
        assert northwind.crm_record_id == "18823410551"
        handoff = HandoffDocument.objects.get(onboarding=northwind)
        assert handoff.contract_value == 148000
        assert handoff.seats == 220
        assert handoff.goals == [
            "Cut order-to-invoice time from 9 days to 3",
            "one dashboard for all 14 warehouses",
        ]
        assert handoff.modules == ["Core", "Analytics", "API access"]
        assert handoff.renewal_date == dt.date(2027, 11, 15)
        assert handoff.account_executive == "Priya Raman"
        dana = Contact.objects.get(email="dana.whitfield@northwind.example")
        assert (dana.side, dana.role, dana.onboarding_id) == (
            "customer",
            "VP Operations",
            northwind.pk,
        )
        assert PortalAccess.objects.filter(contact=dana, user__email=dana.email).exists()
        # The plan: the high-touch playbook with concrete dates from the close date.
        tasks = list(northwind.tasks.all())
        assert len(tasks) == 20
        assert max(t.due_date for t in tasks) == dt.date(2026, 11, 16) + dt.timedelta(days=90)
        assert all(t.owner_contact_id == dana.pk for t in tasks if t.owner_side == "customer")
        assert not Customer.objects.filter(name__in=["Tailspin Toys", "Woodgrove Bank"]).exists()
    invitations = [m for m in mail.outbox if "onboarding portal" in m.subject]
    assert sorted(m.to[0] for m in invitations) == [
        "a.karim@contoso-health.example",
        "dana.whitfield@northwind.example",
        "lea@fabrikam.example",
    ]
    dana_mail = next(m for m in invitations if m.to == ["dana.whitfield@northwind.example"])
    assert "http://acme.localhost:8000/portal/sign-in/" in dana_mail.body
    assert dana_mail.alternatives and "text/html" in dana_mail.alternatives[0][1]
    assert "Acme Cloud" in dana_mail.from_email


@needs_cases
def test_importing_the_same_file_twice_changes_nothing(tenant):
    run_import(CASES / "hubspot-deals.csv", tenant="acme")
    with tenant_context(tenant):
        before = (Onboarding.objects.count(), Task.objects.count(), Contact.objects.count())
    output = run_import(CASES / "hubspot-deals.csv", tenant="acme")
    assert "0 created, 3 already imported, 2 skipped" in output
    with tenant_context(tenant):
        assert (Onboarding.objects.count(), Task.objects.count(), Contact.objects.count()) == before


@needs_cases
def test_salesforce_export_with_us_dates_and_currency_codes(tenant):
    output = run_import(CASES / "salesforce-opportunities.csv", tenant="acme")
    assert "2 created" in output and "Negotiation/Review" in output
    with tenant_context(tenant):
        litware = Onboarding.objects.get(customer__name="Litware Logistics")
        assert (litware.model, litware.start_date) == ("mid", dt.date(2026, 11, 27))
        assert litware.handoff.currency == "USD"
        assert Onboarding.objects.get(customer__name="Adatum Legal").model == "low"


@needs_cases
def test_thresholds_are_per_tenant(tenant):
    tenant.high_touch_min_amount = 50_000
    tenant.save()
    run_import(CASES / "hubspot-deals.csv", tenant="acme")
    with tenant_context(tenant):
        assert Onboarding.objects.get(customer__name="Contoso Health").model == "high"


def test_a_file_with_bad_rows_imports_nothing_and_lists_every_problem(tenant, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        b"\xef\xbb\xbfRecord ID,Deal Name,Deal Stage,Amount,Close Date,Associated Company,"
        b"Primary contact name,Primary contact email\r\n"
        b'1,Good,Closed won,"10,000.00",2026-11-01,Good Co,Ann,ann@good.example\r\n'
        b"2,Bad date,Closed won,5000,2026-13-45,Bad Date Co,Bo,bo@x.example\r\n"
        b"3,No company,Closed won,5000,2026-11-01,,Cy,cy@x.example\r\n"
        b"4,Bad email,Closed won,5000,2026-11-01,Mail Co,Di,not-an-email\r\n"
    )
    with pytest.raises(CommandError, match="3 problem"):
        out = StringIO()
        call_command("import_handoffs", str(bad), tenant="acme", stdout=out, stderr=out)
    with tenant_context(tenant):
        assert Onboarding.objects.count() == 0
        assert Customer.objects.count() == 0
    assert not User.objects.filter(email="ann@good.example").exists()


def test_bad_rows_are_reported_with_line_numbers(tenant, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "Record ID,Deal Name,Deal Stage,Amount,Close Date,Associated Company,"
        "Primary contact name,Primary contact email\n"
        "2,Bad date,Closed won,5000,2026-13-45,Bad Date Co,Bo,bo@x.example\n"
        "3,No company,Closed won,5000,2026-11-01,,Cy,cy@x.example\n"
    )
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_handoffs", str(bad), tenant="acme", stdout=StringIO(), stderr=err)
    text = err.getvalue()
    assert "Line 2" in text and "2026-13-45" in text
    assert "Line 3" in text and "ompany" in text


def test_date_format_option_and_column_overrides(tenant, tmp_path):
    tenant.crm_column_overrides = {"hubspot": {"company": "Company name"}}
    tenant.save()
    export = tmp_path / "custom.csv"
    export.write_text(
        "Record ID,Deal Name,Deal Stage,Amount,Close Date,Company name,"
        "Primary contact name,Primary contact email\n"
        "77,Deal,Closed won,EUR 30000,03.11.2026,Overridden GmbH,Eva,eva@o.example\n"
    )
    run_import(export, tenant="acme", date_format="%d.%m.%Y")
    with tenant_context(tenant):
        onboarding = Onboarding.objects.get(customer__name="Overridden GmbH")
        assert (onboarding.start_date, onboarding.model) == (dt.date(2026, 11, 3), "mid")


def test_unknown_tenant_and_unrecognised_file_fail_clearly(tenant, tmp_path):
    weird = tmp_path / "weird.csv"
    weird.write_text("foo,bar\n1,2\n")
    with pytest.raises(CommandError, match="No tenant"):
        run_import(weird, tenant="nope")
    with pytest.raises(CommandError, match="foo"):
        run_import(weird, tenant="acme")


@needs_cases
def test_invite_link_prints_a_working_single_use_link(tenant):
    from django.test import Client

    run_import(CASES / "hubspot-deals.csv", tenant="acme")
    out = StringIO()
    call_command("invite_link", tenant="acme", email="dana.whitfield@northwind.example", stdout=out)
    url = out.getvalue().strip()
    assert url.startswith("http://acme.localhost:8000/portal/sign-in/")
    path = url.removeprefix("http://acme.localhost:8000")
    client = Client(HTTP_HOST="acme.localhost:8000")
    assert client.get(path).status_code == 200  # a scanner's GET does not use it up
    response = client.post(path, follow=True)
    assert response.status_code == 200
    assert "Northwind Traders" in response.text and "High-touch" in response.text
    assert "Contoso" not in response.text
    assert Client(HTTP_HOST="acme.localhost:8000").post(path).status_code == 404  # used once
    with pytest.raises(CommandError):
        call_command("invite_link", tenant="acme", email="nobody@x.example", stdout=StringIO())
