"""Health settings pages: the formula (admins) and the usage / ticket CSV uploads (admins, CSMs)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext

from onboarding import views_health_settings
from onboarding.health import compute_health, ensure_formula, new_formula_version
from onboarding.models import HealthFormula, HealthScore, SupportTicket, UsageRecord
from portal.tenancy.context import tenant_context
from tests.conftest import client_for

FORMULA = "/app/settings/health/formula/"
INPUTS = "/app/settings/health/inputs/"
GOOD = {
    "w_usage": "40",
    "w_support": "10",
    "w_engagement": "10",
    "w_training": "10",
    "w_on_time": "20",
    "w_milestones": "10",
    "green_min": "75",
    "yellow_min": "50",
}


def versions(world) -> list[int]:
    with tenant_context(world.tenant):
        return list(HealthFormula.objects.values_list("version", flat=True).order_by("version"))


def upload(client, kind: str, text: str, name: str = "data.csv"):
    return client.post(
        INPUTS,
        {"kind": kind, f"{kind}-file": SimpleUploadedFile(name, text.encode(), "text/csv")},
    )


def counts(world) -> tuple[int, int]:
    with tenant_context(world.tenant):
        return UsageRecord.objects.count(), SupportTicket.objects.count()


class TestAccess:
    def test_formula_is_for_admins_only(self, tenant_a):
        assert client_for(tenant_a, tenant_a.admin).get(FORMULA).status_code == 200
        for user in (tenant_a.csm, tenant_a.viewer, tenant_a.client):
            client = client_for(tenant_a, user)
            assert client.get(FORMULA).status_code == 404
            assert client.post(FORMULA, GOOD).status_code == 404
        assert versions(tenant_a) == []

    def test_inputs_are_for_admins_and_csms(self, tenant_a):
        for user in (tenant_a.admin, tenant_a.csm):
            page = client_for(tenant_a, user).get(INPUTS)
            assert page.status_code == 200
            assert b"active_users" in page.content and b"ticket_id" in page.content
        for user in (tenant_a.viewer, tenant_a.client):
            client = client_for(tenant_a, user)
            assert client.get(INPUTS).status_code == 404
            csv = f"customer,date,active_users\n{tenant_a.marker},2025-11-14,5\n"
            assert upload(client, "usage", csv).status_code == 404
        assert counts(tenant_a) == (0, 0)

    def test_anonymous_is_sent_to_sign_in(self, tenant_a):
        assert client_for(tenant_a).get(INPUTS).status_code == 302

    def test_csm_sees_no_link_to_the_formula(self, tenant_a):
        page = client_for(tenant_a, tenant_a.csm).get(INPUTS).content.decode()
        assert FORMULA not in page
        assert FORMULA in client_for(tenant_a, tenant_a.admin).get(INPUTS).content.decode()


class TestFormula:
    def test_get_shows_defaults_and_writes_nothing(self, tenant_a):
        page = client_for(tenant_a, tenant_a.admin).get(FORMULA).content.decode()
        assert "In force: version 1" in page
        assert "keep the version they were computed with" in page
        assert versions(tenant_a) == []

    def test_new_version_is_stored_and_used_by_the_next_computation(self, tenant_a):
        ensure_formula(tenant_a.tenant)
        client = client_for(tenant_a, tenant_a.admin)
        response = client.post(FORMULA, GOOD)
        assert response.status_code == 302 and response.url == FORMULA
        assert versions(tenant_a) == [1, 2]
        with tenant_context(tenant_a.tenant):
            latest = HealthFormula.objects.get(version=2)
        assert latest.weights() == {
            "usage": 40,
            "support": 10,
            "engagement": 10,
            "training": 10,
            "on_time": 20,
            "milestones": 10,
        }
        assert (latest.green_min, latest.yellow_min) == (75, 50)
        today = tenant_a.tenant.local_today()
        compute_health(tenant_a.tenant, today)
        with tenant_context(tenant_a.tenant):
            score = HealthScore.objects.select_related("formula").get(
                onboarding=tenant_a.onboarding, kind="daily", for_date=today
            )
        assert score.formula.version == 2
        page = client.get(FORMULA).content.decode()
        assert "Version 2 of the health formula is in force" in page
        assert "In force: version 2" in page

    @pytest.mark.parametrize(
        ("changes", "field", "message"),
        [
            ({"w_usage": "101"}, "w_usage", "less than or equal to 100"),
            ({"w_support": "-1"}, "w_support", "greater than or equal to 0"),
            ({"w_training": "2.5"}, "w_training", "whole number"),
            ({"w_on_time": ""}, "w_on_time", "from 0 to 100"),
            ({"green_min": "101"}, "green_min", "less than or equal to 100"),
            ({"yellow_min": "80", "green_min": "70"}, "yellow_min", "at most the green"),
        ],
    )
    def test_bad_values_are_refused_next_to_the_field(self, tenant_a, changes, field, message):
        ensure_formula(tenant_a.tenant)
        response = client_for(tenant_a, tenant_a.admin).post(FORMULA, {**GOOD, **changes})
        assert response.status_code == 200
        assert message in " ".join(response.context["form"].errors[field])
        page = response.content.decode()
        assert f'id="id_{field}_error"' in page  # rendered in the field's own block
        assert "Nothing was saved" in page
        assert versions(tenant_a) == [1]

    def test_all_zero_weights_are_refused_in_the_weights_group(self, tenant_a):
        zero = {**GOOD, **{f"w_{c}": "0" for c in HealthFormula.COMPONENTS}}
        response = client_for(tenant_a, tenant_a.admin).post(FORMULA, zero)
        assert response.status_code == 200
        page = response.content.decode()
        assert 'id="weights_error"' in page
        assert "At least one weight must be above zero." in page
        assert versions(tenant_a) == []

    def test_history_lists_every_version_in_constant_queries(self, tenant_a):
        client = client_for(tenant_a, tenant_a.admin)
        ensure_formula(tenant_a.tenant)
        client.get(FORMULA)  # warm the session and membership caches
        with CaptureQueriesContext(connection) as few:
            client.get(FORMULA)
        for i in range(8):
            new_formula_version(tenant_a.tenant, w_usage=30 + i)
        with CaptureQueriesContext(connection) as many:
            page = client.get(FORMULA).content.decode()
        assert len(many) == len(few)
        assert page.count("<tr><td>") >= 9 + 6  # nine versions, six weights


class TestInputs:
    def test_usage_and_tickets_import_and_report_counts(self, tenant_a):
        client = client_for(tenant_a, tenant_a.csm)
        csv = (
            "Customer,Date,Active users\n"
            f"{tenant_a.marker},2025-11-13,4\n"
            f"{tenant_a.marker.lower()},2025-11-14,6\n"
        )
        response = upload(client, "usage", csv)
        assert response.status_code == 302 and response.url == INPUTS
        page = client.get(INPUTS).content.decode()
        assert "Product usage: 2 rows added, 0 updated, 0 unchanged." in page
        fixed = csv.replace(",6\n", ",7\n")
        upload(client, "usage", fixed)
        page = client.get(INPUTS).content.decode()
        assert "0 rows added, 1 updated, 1 unchanged." in page

        tickets = (
            "customer,ticket_id,opened_at,subject\n"
            f"{tenant_a.onboarding.crm_record_id},T-1,2025-11-14 09:30,Cannot sign in\n"
        )
        upload(client, "tickets", tickets)
        page = client.get(INPUTS).content.decode()
        assert "Support tickets: 1 row added, 0 updated, 0 unchanged." in page
        assert counts(tenant_a) == (2, 1)

    def test_a_bad_file_imports_nothing_and_lists_every_bad_line(self, tenant_a):
        csv = (
            "customer,date,active_users\n"
            f"{tenant_a.marker},2025-11-13,4\n"
            f"{tenant_a.marker},not-a-date,4\n"
            "Nobody Inc,2025-11-14,3\n"
            f"{tenant_a.marker},2025-11-15,many\n"
        )
        response = upload(client_for(tenant_a, tenant_a.admin), "usage", csv)
        assert response.status_code == 200
        page = response.content.decode()
        assert "Nothing was imported: 3 problems" in page
        assert "Line 3: date" in page
        assert "Line 4: No customer named" in page
        assert "Line 5: active_users" in page
        assert counts(tenant_a) == (0, 0)

    def test_unreadable_and_missing_files_are_refused_next_to_the_upload(self, tenant_a):
        client = client_for(tenant_a, tenant_a.admin)
        response = upload(client, "tickets", "customer,when\nA,B\n")
        assert "Missing column(s): ticket_id, opened_at" in response.content.decode()
        assert 'id="id_tickets-file_error"' in response.content.decode()
        response = client.post(INPUTS, {"kind": "usage"})
        assert "Choose a CSV file to upload." in response.content.decode()
        assert counts(tenant_a) == (0, 0)

    def test_upload_size_is_limited(self, tenant_a, monkeypatch):
        monkeypatch.setattr(views_health_settings, "MAX_UPLOAD_BYTES", 1024 * 1024)
        big = "customer,date,active_users\n" + "x" * (1024 * 1024)
        response = upload(client_for(tenant_a, tenant_a.admin), "usage", big)
        assert response.status_code == 200
        assert "the limit is 1 MB" in response.content.decode()
        assert counts(tenant_a) == (0, 0)

    def test_another_tenants_customer_is_an_unknown_customer(self, tenant_a, tenant_b):
        client = client_for(tenant_a, tenant_a.admin)
        usage = f"customer,date,active_users\n{tenant_b.marker},2025-11-14,4\n"
        page = upload(client, "usage", usage).content.decode()
        assert f"Line 2: No customer named, or with a CRM record id, &quot;{tenant_b.marker}" in (
            page
        )
        tickets = (
            "customer,ticket_id,opened_at\n"
            f"{tenant_b.onboarding.crm_record_id},T-9,2025-11-14 09:30\n"
        )
        page = upload(client, "tickets", tickets).content.decode()
        assert "Line 2: No customer named" in page
        assert counts(tenant_a) == (0, 0) and counts(tenant_b) == (0, 0)

    def test_import_runs_in_constant_queries(self, tenant_a):
        client = client_for(tenant_a, tenant_a.admin)
        client.get(INPUTS)

        def rows(n: int) -> str:
            start = dt.date(2025, 1, 1)
            return "customer,date,active_users\n" + "".join(
                f"{tenant_a.marker},{start + dt.timedelta(days=i)},{i}\n" for i in range(n)
            )

        with CaptureQueriesContext(connection) as few:
            upload(client, "usage", rows(2))
        with tenant_context(tenant_a.tenant):
            UsageRecord.objects.all().delete()
        with CaptureQueriesContext(connection) as many:
            upload(client, "usage", rows(300))
        assert len(many) == len(few)
        assert counts(tenant_a) == (300, 0)


def test_pages_show_times_in_the_tenants_time_zone(tenant_a):
    from accounts.models import Tenant

    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(time_zone="Asia/Kolkata")  # UTC+05:30
    with tenant_context(tenant_a.tenant):
        formula = ensure_formula(tenant_a.tenant)
        HealthFormula.objects.filter(pk=formula.pk).update(
            created_at=dt.datetime(2026, 3, 1, 20, 40, tzinfo=dt.UTC)
        )
    page = client_for(tenant_a, tenant_a.admin).get("/app/settings/health/formula/").text
    # Labelled with the zone, for a reader elsewhere.
    assert "Mar 2, 2026 02:10 IST" in page and "Mar 1, 2026 20:40" not in page


def test_the_repeated_hour_of_a_dst_change_is_labelled_with_its_zone(tenant_a):
    """New York's 01:30 happens twice on 2025-11-02; Django's "T" prints nothing for either."""
    from accounts.models import Tenant

    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(time_zone="America/New_York")
    with tenant_context(tenant_a.tenant):
        formula = ensure_formula(tenant_a.tenant)
        later = HealthFormula.objects.create(version=formula.version + 1)
        HealthFormula.objects.filter(pk=formula.pk).update(
            created_at=dt.datetime(2025, 11, 2, 5, 30, tzinfo=dt.UTC)
        )
        HealthFormula.objects.filter(pk=later.pk).update(
            created_at=dt.datetime(2025, 11, 2, 6, 30, tzinfo=dt.UTC)
        )
    page = client_for(tenant_a, tenant_a.admin).get("/app/settings/health/formula/").text
    assert "Nov 2, 2025 01:30 EDT" in page and "Nov 2, 2025 01:30 EST" in page
