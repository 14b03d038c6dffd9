"""An admin sets the tenant's reminder schedule; the sweep reads it."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from accounts.models import Tenant
from onboarding.models import ReminderItem, Task
from onboarding.services import reminders
from portal.tenancy.context import tenant_context
from tests.conftest import client_for

URL = "/app/settings/reminders/"
VALID = {
    "time_zone": "Europe/Berlin",
    "digest_hour": "7",
    "skip_weekends": "",
    "reminder_days_ahead": "1",
    "overdue_repeat_days": "4",
    "blocked_escalation_days": "5",
    "milestone_days_ahead": "10",
}


def field_error(html: str, field: str) -> str:
    match = re.search(rf'id="id_{field}_error">(.*?)</div>', html, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def test_an_admin_sets_the_schedule_and_the_sweep_follows_it(tenant_a):
    admin = client_for(tenant_a, tenant_a.admin)
    page = admin.get(URL)
    assert page.status_code == 200 and 'value="America/New_York" selected' in page.text
    response = admin.post(URL, VALID)
    assert response.status_code == 302
    assert "Reminder settings saved" in admin.get(response["Location"]).text
    tenant = Tenant.objects.get(pk=tenant_a.tenant.pk)
    assert (tenant.time_zone, tenant.digest_hour, tenant.skip_weekends) == (
        "Europe/Berlin", 7, False
    )  # fmt: skip
    assert (tenant.reminder_days_ahead, tenant.overdue_repeat_days) == (1, 4)
    assert (tenant.blocked_escalation_days, tenant.milestone_days_ahead) == (5, 10)

    # 07:00 on a Saturday in Berlin: digest time, weekends included now.
    saturday_7am = dt.datetime(2026, 12, 5, 6, 0, tzinfo=dt.UTC)
    assert reminders.is_digest_time(tenant, saturday_7am)
    assert not reminders.is_digest_time(tenant, saturday_7am - dt.timedelta(minutes=1))
    # N = 1: a task due tomorrow is reminded of, one due in two days is not yet.
    today = dt.date(2026, 12, 5)
    with tenant_context(tenant):
        Task.objects.filter(onboarding=tenant_a.onboarding).delete()
        for days, title in ((1, "Tomorrow"), (2, "In two days")):
            Task.objects.create(
                onboarding=tenant_a.onboarding, title=title, owner_side="customer",
                owner_contact=tenant_a.contact, due_date=today + dt.timedelta(days=days),
            )  # fmt: skip
        reminders.build_digests(tenant, today, saturday_7am)
        titles = set(ReminderItem.objects.values_list("task__title", flat=True))
    assert titles == {"Tomorrow"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("reminder_days_ahead", "0", "greater than or equal to 1"),
        ("overdue_repeat_days", "-3", "greater than or equal to 1"),  # not ">= 0" first
        ("milestone_days_ahead", "-1", "greater than or equal to 1"),
        ("time_zone", "localtime", "Select a valid choice"),  # the server's zone, not a place
        ("time_zone", "Factory", "Select a valid choice"),
        ("overdue_repeat_days", "31", "less than or equal to 30"),
        ("blocked_escalation_days", "two", "Enter a whole number"),
        ("digest_hour", "24", "Select a valid choice"),
        ("time_zone", "Mars/Olympus", "Select a valid choice"),
    ],
)
def test_bad_values_are_refused_next_to_their_field_and_nothing_is_saved(
    tenant_a, field, value, message
):
    before = Tenant.objects.values().get(pk=tenant_a.tenant.pk)
    response = client_for(tenant_a, tenant_a.admin).post(URL, {**VALID, field: value})
    assert response.status_code == 400
    assert message in field_error(response.text, field)
    assert Tenant.objects.values().get(pk=tenant_a.tenant.pk) == before


def test_only_admins_change_the_schedule(tenant_a):
    for user in (tenant_a.csm, tenant_a.viewer, tenant_a.client):
        client = client_for(tenant_a, user)
        assert client.get(URL).status_code in (302, 404)
        assert client.post(URL, VALID).status_code in (302, 404)
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).time_zone == "America/New_York"


def test_tenants_on_a_zone_that_is_no_place_move_to_utc(tenant_a):
    """accounts 0010: the settings form no longer offers "localtime" or "Factory"; a tenant on
    one would have been moved to the list's first zone by its next save."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("accounts.migrations.0010_time_zones_are_places")
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(time_zone="localtime")
    migration.places_only(apps, None)
    assert Tenant.objects.get(pk=tenant_a.tenant.pk).time_zone == "UTC"
    page = client_for(tenant_a, tenant_a.admin).get(URL).text
    assert '<option value="UTC" selected>' in page
