"""Steps 5 and 6: training groups, sessions, material and champions; the close review, the close,
the QBR and milestone calendars, and a closed onboarding being read-only.

Every rule is tried with bad input through the page: the answer is the page again (400) with the
message next to the field, and nothing is saved. Query counts are the same for small and large data.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from icalendar import Calendar

from accounts.models import Role, User
from accounts.services import add_member
from onboarding.models import (
    ActivityEntry,
    CloseReview,
    Contact,
    Milestone,
    NpsRequest,
    Onboarding,
    PortalAccess,
    TrainingGroup,
    TrainingResource,
    TrainingSession,
)
from onboarding.services import close_review as close_services
from onboarding.services import training as training_services
from portal.tenancy.context import tenant_context
from tests.conftest import client_for

REPO = Path(__file__).resolve().parent.parent


def url(world, name: str, **kwargs) -> str:
    from django.urls import reverse

    return reverse(f"workspace:{name}", kwargs={"onboarding_id": world.onboarding.pk, **kwargs})


def field_error(html: str, field_id: str) -> str:
    """The error shown next to the input with this id ('' when there is none)."""
    match = re.search(
        rf'<div class="error" id="{re.escape(field_id)}_error">(.*?)</div>', html, re.S
    )
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def count(world, model, **filters) -> int:
    with tenant_context(world.tenant):
        return model.objects.filter(**filters).count()


def activity(world) -> list[str]:
    with tenant_context(world.tenant):
        return list(
            ActivityEntry.objects.filter(onboarding=world.onboarding).values_list("text", flat=True)
        )


@pytest.fixture
def csm(tenant_a):
    return client_for(tenant_a, tenant_a.csm)


def add_group(world, name="Administrators", size=12, sophistication="high") -> TrainingGroup:
    with tenant_context(world.tenant):
        return training_services.save_group(
            world.onboarding,
            {"name": name, "size": size, "sophistication": sophistication},
            world.csm,
        )


def local(world, *args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=world.tenant.tz)


# --- Training groups ----------------------------------------------------------------------------


def test_a_group_is_added_with_its_size_and_experience(tenant_a, csm):
    response = csm.post(
        url(tenant_a, "training"),
        {
            "form": "group",
            "group-name": "End users",
            "group-size": "240",
            "group-sophistication": "low",
        },
    )
    assert response.status_code == 302
    page = csm.get(response["Location"]).text
    assert "End users" in page and "240 people" in page and "New to tools like this" in page
    assert any("added the training group “End users” (240 people" in a for a in activity(tenant_a))


def group_data(name="X", size="5", sophistication="low") -> dict:
    return {"group-name": name, "group-size": size, "group-sophistication": sophistication}


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (group_data(name=""), "name", "required"),
        (group_data(size="0"), "size", "greater than or equal to 1"),
        (group_data(size="many"), "size", "whole number"),
        (group_data(size="100001"), "size", "from 1 to 100,000"),
        (group_data(sophistication="guru"), "sophistication", "valid choice"),
        (group_data(name="administrators"), "name", "already has a group"),
    ],
)
def test_bad_group_input_is_refused_next_to_its_field(tenant_a, csm, data, field, message):
    add_group(tenant_a)
    before = count(tenant_a, TrainingGroup)
    response = csm.post(url(tenant_a, "training"), {"form": "group", **data})
    assert response.status_code == 400
    assert message in field_error(response.text, f"id_group-{field}")
    assert count(tenant_a, TrainingGroup) == before


def test_renaming_a_group_keeps_its_material_under_the_new_name(tenant_a, csm):
    group = add_group(tenant_a)
    response = csm.post(
        url(tenant_a, "training"),
        {"form": "resource", "resource-title": "Admin guide", "resource-kind": "guide",
         "resource-url": "https://docs.example.com/admin", "resource-group": str(group.pk)},
    )  # fmt: skip
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        resource = TrainingResource.objects.get(title="Admin guide")
        assert (resource.group_id, resource.audience) == (group.pk, "Administrators")
    response = csm.post(
        url(tenant_a, "training-group-edit", group_id=group.pk),
        {"name": "IT admins", "size": "12", "sophistication": "high"},
    )
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        assert TrainingResource.objects.get(pk=resource.pk).audience == "IT admins"
    # The client portal groups material by audience: the group's name is the heading.
    portal = client_for(tenant_a, tenant_a.client).get(f"/portal/o/{tenant_a.onboarding.pk}/")
    assert "IT admins" in portal.text and "Admin guide" in portal.text


def test_resource_links_must_be_web_addresses(tenant_a, csm):
    for bad in ("javascript:alert(1)", "ftp://files.example.com/x", "not a url"):
        response = csm.post(
            url(tenant_a, "training"),
            {"form": "resource", "resource-title": "Guide", "resource-kind": "guide",
             "resource-url": bad},
        )  # fmt: skip
        assert response.status_code == 400
        assert "starting with https://" in field_error(response.text, "id_resource-url")
    response = csm.post(
        url(tenant_a, "training"),
        {
            "form": "resource",
            "resource-title": "Video",
            "resource-kind": "video",
            "resource-url": "",
        },
    )
    assert "Add the link" in field_error(response.text, "id_resource-url")
    assert count(tenant_a, TrainingResource, title__in=["Guide", "Video"]) == 0


# --- Sessions -----------------------------------------------------------------------------------


def test_a_session_is_scheduled_in_the_tenants_time_zone(tenant_a, csm):
    group = add_group(tenant_a)
    response = csm.post(
        url(tenant_a, "training"),
        {"form": "session", "session-group": str(group.pk), "session-title": "Admin console",
         "session-scheduled_at": "2026-12-02T10:00", "session-live_url": "https://meet.example.com/a"},
    )  # fmt: skip
    assert response.status_code == 302, response.content
    with tenant_context(tenant_a.tenant):
        session = TrainingSession.objects.get()
    assert session.scheduled_at == local(tenant_a, 2026, 12, 2, 10, 0)  # New York, not UTC
    page = csm.get(url(tenant_a, "training")).text
    assert "Admin console" in page and "Dec 2, 2026 10:00" in page and "Live link" in page


def test_bad_session_input_is_refused_next_to_its_field(tenant_a, tenant_b, csm):
    group = add_group(tenant_a)
    other = add_group(tenant_b, name="Foreign")
    base = {"form": "session", "session-group": str(group.pk), "session-title": "S",
            "session-scheduled_at": "2026-12-02T10:00", "session-live_url": ""}  # fmt: skip
    cases = [
        ({"session-title": ""}, "title", "This field is required."),
        ({"session-scheduled_at": "tomorrow"}, "scheduled_at", "Enter a valid date/time."),
        ({"session-scheduled_at": "2026-01-05T10:00"}, "scheduled_at", "schedule it after"),
        ({"session-live_url": "javascript:alert(1)"}, "live_url", "starting with https://"),
        ({"session-group": str(other.pk)}, "group", "valid choice"),
    ]
    for changes, field, message in cases:
        response = csm.post(url(tenant_a, "training"), {**base, **changes})
        assert response.status_code == 400, changes
        assert message in field_error(response.text, f"id_session-{field}"), changes
    assert count(tenant_a, TrainingSession) == 0


def test_held_session_with_recording_reaches_the_clients_portal(tenant_a, csm):
    group = add_group(tenant_a)
    now = timezone.now()
    with tenant_context(tenant_a.tenant):
        future = training_services.save_session(
            tenant_a.onboarding,
            {"group": group, "title": "Later", "scheduled_at": now + dt.timedelta(days=3)},
            tenant_a.csm,
        )
        past = training_services.save_session(
            tenant_a.onboarding,
            {"group": group, "title": "Kick-start", "scheduled_at": now - dt.timedelta(hours=2)},
            tenant_a.csm,
        )
    edit = url(tenant_a, "training-session-edit", session_id=future.pk)
    local_future = timezone.localtime(future.scheduled_at, tenant_a.tenant.tz)
    data = {"group": str(group.pk), "title": "Later",
            "scheduled_at": local_future.strftime("%Y-%m-%dT%H:%M"), "live_url": ""}  # fmt: skip
    response = csm.post(edit, {**data, "held": "on"})
    assert response.status_code == 400
    assert "still ahead" in field_error(response.text, "id_held")
    response = csm.post(edit, {**data, "recording_url": "https://video.example.com/r"})
    assert "only once the session was held" in field_error(response.text, "id_recording_url")
    with tenant_context(tenant_a.tenant):
        assert TrainingSession.objects.get(pk=future.pk).held_at is None

    edit = url(tenant_a, "training-session-edit", session_id=past.pk)
    local_past = timezone.localtime(past.scheduled_at, tenant_a.tenant.tz)
    response = csm.post(
        edit,
        {"group": str(group.pk), "title": "Kick-start",
         "scheduled_at": local_past.strftime("%Y-%m-%dT%H:%M"), "live_url": "", "held": "on",
         "recording_url": "https://video.example.com/kick-start"},
    )  # fmt: skip
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        past.refresh_from_db()
        assert past.held_at is not None
        recording = TrainingResource.objects.get(url="https://video.example.com/kick-start")
        assert (recording.kind, recording.group_id, recording.audience) == (
            "video",
            group.pk,
            "Administrators",
        )
    page = csm.get(url(tenant_a, "training")).text
    assert "1 of 2</strong> sessions held" in page
    portal = client_for(tenant_a, tenant_a.client).get(f"/portal/o/{tenant_a.onboarding.pk}/")
    assert "Recording: Kick-start" in portal.text
    assert any("updated the training session “Kick-start”: marked it held" in a
               for a in activity(tenant_a))  # fmt: skip


# --- Champions ----------------------------------------------------------------------------------


def test_champions_are_marked_then_marked_trained(tenant_a, csm):
    with tenant_context(tenant_a.tenant):
        vendor = Contact.objects.create(
            onboarding=tenant_a.onboarding, side="vendor", name="Our SE", email="se@alpha.example"
        )
    contact = tenant_a.contact
    target = url(tenant_a, "champion-trained", contact_id=contact.pk)
    response = csm.post(target, {"action": "trained"}, follow=True)
    assert "is not a champion; mark them as one first" in response.text
    assert csm.post(target, {"action": "champion"}).status_code == 302
    assert csm.post(target, {"action": "trained"}).status_code == 302
    with tenant_context(tenant_a.tenant):
        contact.refresh_from_db()
    assert contact.is_champion and contact.champion_trained_at is not None
    page = csm.get(url(tenant_a, "training")).text
    assert "1 of 1</strong> champions trained" in page
    response = csm.post(
        url(tenant_a, "champion-trained", contact_id=vendor.pk), {"action": "champion"}, follow=True
    )
    assert "Champions are people on the customer" in response.text
    with tenant_context(tenant_a.tenant):
        assert not Contact.objects.get(pk=vendor.pk).is_champion
    assert csm.post(target, {"action": "not-champion"}).status_code == 302
    with tenant_context(tenant_a.tenant):
        contact.refresh_from_db()
    assert not contact.is_champion and contact.champion_trained_at is None
    assert any("marked champion alpha client as trained" in a for a in activity(tenant_a))


# --- Roles --------------------------------------------------------------------------------------


def test_viewers_and_account_executives_read_but_do_not_change(tenant_a):
    ae = User.objects.create_user("ae@alpha.example", "x-long-password-1", full_name="Alpha AE")
    add_member(tenant_a.tenant, ae, Role.AE)
    group = add_group(tenant_a)
    for user in (tenant_a.viewer, ae):
        client = client_for(tenant_a, user)
        for name in ("training", "close", "stakeholders"):
            page = client.get(url(tenant_a, name))
            assert page.status_code == 200
            assert 'name="form"' not in page.text  # no forms for them
        assert client.post(url(tenant_a, "training"), {"form": "group"}).status_code == 403
        assert (
            client.post(
                url(tenant_a, "training-group-edit", group_id=group.pk), {"action": "delete"}
            ).status_code
            == 403
        )
        assert (
            client.post(
                url(tenant_a, "champion-trained", contact_id=tenant_a.contact.pk),
                {"action": "champion"},
            ).status_code
            == 403
        )
        assert client.post(url(tenant_a, "close"), {"form": "review"}).status_code == 403
    assert count(tenant_a, TrainingGroup) == 1
    assert Onboarding.Status.CLOSED != count(tenant_a, CloseReview)


# --- Close --------------------------------------------------------------------------------------


def review_data(world, **changes) -> dict:
    today = world.tenant.local_today()
    data = {
        "form": "review",
        "day90_criteria_met": "partly",
        "usage_at_close": "180 of 200 seats active weekly",
        "health_at_close": "72",
        "open_items": "Second SSO domain\nReporting module",
        "next_quarter_goals": "Roll out to the EMEA team",
        "ongoing_csm": str(world.csm.pk),
        "qbr_date": (today + dt.timedelta(days=60)).isoformat(),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_close_form_starts_from_the_plan(tenant_a, csm):
    page = csm.get(url(tenant_a, "close")).text
    with tenant_context(tenant_a.tenant):
        first_open = tenant_a.onboarding.tasks.order_by("due_date", "position", "id").first()
    assert first_open.title in page  # open tasks are the open items to carry forward
    assert f'<option value="{tenant_a.csm.pk}" selected>' in page  # the owner stays by default


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"day90_criteria_met": None}, "day90_criteria_met", "This field is required."),
        ({"day90_criteria_met": "mostly"}, "day90_criteria_met", "valid choice"),
        ({"usage_at_close": ""}, "usage_at_close", "This field is required."),
        ({"health_at_close": "101"}, "health_at_close", "less than or equal to 100"),
        ({"next_quarter_goals": "  "}, "next_quarter_goals", "This field is required."),
        ({"ongoing_csm": ""}, "ongoing_csm", "This field is required."),
        ({"qbr_date": "soon"}, "qbr_date", "Enter a valid date."),
        ({"open_items": "\n".join(f"Item {i}" for i in range(51))}, "open_items", "At most 50"),
    ],
)
def test_bad_close_review_input_is_refused_next_to_its_field(
    tenant_a, csm, changes, field, message
):
    response = csm.post(url(tenant_a, "close"), review_data(tenant_a, **changes))
    assert response.status_code == 400
    assert message in field_error(response.text, f"id_{field}")
    assert "Nothing was saved" in response.text
    assert_still_open(tenant_a)


def assert_still_open(world):
    with tenant_context(world.tenant):
        assert Onboarding.objects.get(pk=world.onboarding.pk).status != "closed"
        assert not CloseReview.objects.exists()
        assert not NpsRequest.objects.exists()


def test_the_qbr_must_come_after_today_and_within_six_months(tenant_a, csm):
    today = tenant_a.tenant.local_today()
    for day, message in (
        (today, "must be after today"),
        (today - dt.timedelta(days=3), "must be after today"),
        (today + dt.timedelta(days=200), "within six months"),
    ):
        response = csm.post(url(tenant_a, "close"), review_data(tenant_a, qbr_date=day.isoformat()))
        assert response.status_code == 400
        assert message in field_error(response.text, "id_qbr_date")
    assert_still_open(tenant_a)


def test_the_ongoing_csm_is_a_csm_of_this_tenant_and_is_introduced(tenant_a, tenant_b, csm):
    for stranger in (tenant_b.csm, tenant_a.viewer, tenant_a.client):
        response = csm.post(url(tenant_a, "close"), review_data(tenant_a, ongoing_csm=stranger.pk))
        assert response.status_code == 400
        assert "valid choice" in field_error(response.text, "id_ongoing_csm")
    # The service refuses them too, whatever a caller passes.
    with tenant_context(tenant_a.tenant), pytest.raises(Exception) as refused:
        close_services.submit_close_review(
            tenant_a.onboarding,
            {**close_services.close_defaults(tenant_a.onboarding), "day90_criteria_met": "yes",
             "usage_at_close": "x", "next_quarter_goals": "y", "ongoing_csm": tenant_b.csm,
             "qbr_date": tenant_a.tenant.local_today() + dt.timedelta(days=30)},
            tenant_a.csm,
        )  # fmt: skip
    assert "ongoing_csm" in refused.value.message_dict
    # Handing over to someone else needs the introduction done.
    response = csm.post(
        url(tenant_a, "close"), review_data(tenant_a, ongoing_csm=tenant_a.admin.pk)
    )
    assert response.status_code == 400
    assert "Introduce alpha admin to the customer" in field_error(
        response.text, "id_ongoing_csm_introduced"
    )
    assert_still_open(tenant_a)


def close_it(world, client, **changes):
    response = client.post(url(world, "close"), review_data(world, **changes))
    assert response.status_code == 302, response.content.decode()[:3000]
    return response


def test_saving_the_review_closes_the_onboarding_and_asks_for_nps(
    tenant_a, csm, django_capture_on_commit_callbacks
):
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        close_it(tenant_a, csm, ongoing_csm=tenant_a.admin.pk, ongoing_csm_introduced="on")
    with tenant_context(tenant_a.tenant):
        review = CloseReview.objects.get(onboarding=tenant_a.onboarding)
        assert Onboarding.objects.get(pk=tenant_a.onboarding.pk).status == "closed"
    assert review.day90_criteria_met == "partly" and review.health_at_close == 72
    assert review.open_items == "Second SSO domain\nReporting module"
    assert (review.ongoing_csm, review.reviewed_by) == (tenant_a.admin, tenant_a.csm)
    assert review.qbr_ics_sequence == 0
    assert [m.to for m in mail.outbox if "how did the onboarding" in m.subject] == [
        [tenant_a.client.email]
    ]
    texts = activity(tenant_a)
    assert any("held the close review (day-90 criteria partly met)" in t for t in texts)
    assert any("closed the onboarding" in t for t in texts)
    page = csm.get(url(tenant_a, "close")).text
    assert "Roll out to the EMEA team" in page and "Reporting module" in page
    assert 'value="review"' not in page  # no second review


def test_a_closed_onboarding_is_read_only_on_every_page_of_steps_5_and_6(tenant_a, csm):
    group = add_group(tenant_a)
    close_it(tenant_a, csm)
    before = {
        "groups": count(tenant_a, TrainingGroup),
        "resources": count(tenant_a, TrainingResource),
        "reviews": count(tenant_a, CloseReview),
        "accesses": count(tenant_a, PortalAccess, revoked_at__isnull=True),
        "champions": count(tenant_a, Contact, is_champion=True),
    }
    attempts = [
        (url(tenant_a, "training"), {"form": "group", "group-name": "New", "group-size": "3",
                                     "group-sophistication": "low"}),
        (url(tenant_a, "training"), {"form": "resource", "resource-title": "T",
                                     "resource-kind": "guide"}),
        (url(tenant_a, "training-group-edit", group_id=group.pk), {"action": "delete"}),
        (url(tenant_a, "training-group-edit", group_id=group.pk),
         {"name": "Renamed", "size": "3", "sophistication": "low"}),
        (url(tenant_a, "champion-trained", contact_id=tenant_a.contact.pk), {"action": "champion"}),
        (url(tenant_a, "close"), review_data(tenant_a)),
        (url(tenant_a, "stakeholder-invite"), {"name": "New", "email": "new@x.example"}),
    ]  # fmt: skip
    with tenant_context(tenant_a.tenant):
        access = PortalAccess.objects.get(user=tenant_a.client)
    # Revoking stays possible (tests/test_stakeholders.py); re-sending an invitation does not.
    attempts += [(url(tenant_a, "stakeholder-resend", access_id=access.pk), {})]
    mail.outbox.clear()
    for path, data in attempts:
        response = csm.post(path, data, follow=True)
        assert response.status_code == 200, path
        assert "This onboarding is closed; it is read-only." in response.text, path
    after = {
        "groups": count(tenant_a, TrainingGroup),
        "resources": count(tenant_a, TrainingResource),
        "reviews": count(tenant_a, CloseReview),
        "accesses": count(tenant_a, PortalAccess, revoked_at__isnull=True),
        "champions": count(tenant_a, Contact, is_champion=True),
    }
    assert after == before and mail.outbox == []
    with tenant_context(tenant_a.tenant):
        assert TrainingGroup.objects.get(pk=group.pk).name == "Administrators"
    for name in ("training", "stakeholders", "close"):
        page = csm.get(url(tenant_a, name)).text
        assert '<form method="post" class="dform"' not in page.replace(
            'class="dform inline-form"', ""
        ), name
    assert "This onboarding is closed" in csm.get(url(tenant_a, "training")).text


def test_closing_twice_is_refused_and_changes_nothing(tenant_a, csm):
    close_it(tenant_a, csm)
    with tenant_context(tenant_a.tenant), pytest.raises(Exception) as refused:
        close_services.submit_close_review(
            tenant_a.onboarding, {"day90_criteria_met": "yes"}, tenant_a.csm
        )
    assert "already closed" in str(refused.value)
    assert count(tenant_a, CloseReview) == 1


# --- No other way to close ----------------------------------------------------------------------

_CLOSED = r"""(?:Onboarding\.)?(?:Status\.CLOSED|["']closed["'])"""
# An attribute assignment, or a write call (update/create...) naming status=closed, even over
# several lines; filters (filter/exclude) and comparisons do not count.
_SETS_CLOSED = re.compile(
    rf"\.status\s*=\s*{_CLOSED}"
    rf"|\.(?:update|create|update_or_create|get_or_create|bulk_create)\("
    rf"(?:[^()]|\([^()]*\))*?\bstatus\s*=\s*{_CLOSED}",
    re.S,
)


def _product_sources():
    for folder in ("accounts", "onboarding", "portal"):
        for path in (REPO / folder).rglob("*.py"):
            if "migrations" not in path.parts:
                yield path


def test_no_code_path_closes_an_onboarding_but_the_close_review():
    """Search the codebase: only closing.close_onboarding sets the status, and only the close
    review calls it."""
    setters, callers = [], []
    for path in _product_sources():
        text = path.read_text()
        rel = str(path.relative_to(REPO))
        code = "\n".join(line.split("#")[0] for line in text.splitlines())
        if _SETS_CLOSED.search(code):
            setters.append(rel)
        for line in code.splitlines():
            if "close_onboarding(" in line and not line.lstrip().startswith("def "):
                callers.append(rel)
    assert set(setters) == {"onboarding/services/closing.py"}, setters
    assert set(callers) == {"onboarding/services/close_review.py"}, callers


def test_the_api_cannot_close_an_onboarding(tenant_a):
    api = client_for(tenant_a, tenant_a.csm)
    response = api.patch(
        f"/api/v1/onboardings/{tenant_a.onboarding.pk}/",
        data={"status": "closed"},
        content_type="application/json",
    )
    assert response.status_code in (200, 400), response.content
    assert_still_open(tenant_a)


def test_the_platform_admin_cannot_close_an_onboarding_either():
    """Platform staff edit onboardings in Django's admin; its form must not set the status."""
    from django.contrib import admin
    from django.test import RequestFactory

    from accounts.models import User
    from portal.tenancy.context import cross_tenant

    model_admin = admin.site._registry[Onboarding]
    assert "status" in model_admin.get_readonly_fields(None)
    request = RequestFactory().get("/")
    request.user = User(is_staff=True, is_superuser=True)
    with cross_tenant("test: the platform admin's form, as on the platform host"):
        assert "status" not in model_admin.get_form(request).base_fields


# --- Calendars ----------------------------------------------------------------------------------


def parse(body: bytes) -> list[Calendar]:
    return Calendar.from_ical(body, multiple=True)


def event_of(calendar: Calendar):
    [event] = calendar.walk("VEVENT")
    return event


def test_the_qbr_invitation_keeps_its_uid_and_grows_its_sequence_when_moved(tenant_a, csm):
    assert csm.get(url(tenant_a, "qbr-ics")).status_code == 302  # none before the close
    close_it(tenant_a, csm)
    response = csm.get(url(tenant_a, "qbr-ics"))
    assert response["Content-Type"].startswith("text/calendar")
    [calendar] = parse(response.content)
    event = event_of(calendar)
    with tenant_context(tenant_a.tenant):
        review = CloseReview.objects.get()
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == f"qbr-{review.pk}@alpha.localhost"
    assert int(event["SEQUENCE"]) == 0
    assert event.decoded("DTSTART") == review.qbr_date
    assert str(event["ORGANIZER"]) == f"mailto:{tenant_a.csm.email}"
    assert f"mailto:{tenant_a.contact.email}" in [str(a) for a in event.get("ATTENDEE")]

    new_day = review.qbr_date + dt.timedelta(days=7)
    response = csm.post(url(tenant_a, "close"), {"form": "qbr", "qbr_date": new_day.isoformat()})
    assert response.status_code == 302
    again = event_of(parse(csm.get(url(tenant_a, "qbr-ics")).content)[0])
    assert str(again["UID"]) == str(event["UID"])
    assert int(again["SEQUENCE"]) == 1 and again.decoded("DTSTART") == new_day
    # Moving it to the same day or into the past is refused and bumps nothing.
    for bad in (new_day, tenant_a.tenant.local_today()):
        response = csm.post(url(tenant_a, "close"), {"form": "qbr", "qbr_date": bad.isoformat()})
        assert response.status_code == 400 and field_error(response.text, "id_qbr_date")
    with tenant_context(tenant_a.tenant):
        assert CloseReview.objects.get().qbr_ics_sequence == 1
    assert any("moved the first QBR" in a for a in activity(tenant_a))


def test_the_milestone_calendar_updates_moved_and_cancels_removed_milestones(tenant_a, csm):
    from onboarding.services import plan

    with tenant_context(tenant_a.tenant):
        milestones = list(tenant_a.onboarding.milestones.order_by("position", "due_date", "id"))
    assert url(tenant_a, "milestones-calendar") in csm.get(url(tenant_a, "stakeholders")).text
    calendars = parse(csm.get(url(tenant_a, "milestones-calendar")).content)
    assert [str(c["METHOD"]) for c in calendars] == ["REQUEST"] * len(milestones)
    uids = [str(event_of(c)["UID"]) for c in calendars]
    assert uids == [f"milestone-{m.pk}@alpha.localhost" for m in milestones]
    assert all(int(event_of(c)["SEQUENCE"]) == 0 for c in calendars)

    moved, removed = milestones[1], milestones[2]
    new_day = moved.due_date + dt.timedelta(days=5)
    with tenant_context(tenant_a.tenant):
        plan.edit_milestone(
            moved,
            {"due_date": new_day},
            expected_sequence=0,
            by=tenant_a.csm,
        )
        plan.delete_milestone(Milestone.objects.get(pk=removed.pk), by=tenant_a.csm)
    calendars = parse(csm.get(url(tenant_a, "milestones-calendar")).content)
    by_uid = {str(event_of(c)["UID"]): c for c in calendars}
    moved_event = event_of(by_uid[f"milestone-{moved.pk}@alpha.localhost"])
    assert int(moved_event["SEQUENCE"]) == 1
    assert moved_event.decoded("DTSTART") == new_day
    cancel = by_uid[f"milestone-{removed.pk}@alpha.localhost"]
    assert str(cancel["METHOD"]) == "CANCEL"
    assert str(event_of(cancel)["STATUS"]) == "CANCELLED"
    assert int(event_of(cancel)["SEQUENCE"]) == 1  # above the last one published
    assert str(calendars[-1]["METHOD"]) == "CANCEL"  # cancellations after the live events


# --- Query counts -------------------------------------------------------------------------------


def queries(client, path) -> int:
    client.get(path)  # warm the session
    with CaptureQueriesContext(connection) as captured:
        response = client.get(path)
    assert response.status_code == 200
    return len(captured)


def grow_training(world, groups: int):
    now = timezone.now()
    with tenant_context(world.tenant):
        for i in range(groups):
            group = TrainingGroup.objects.create(
                onboarding=world.onboarding, name=f"G{i}", size=10 + i, sophistication="medium"
            )
            for j in range(3):
                TrainingSession.objects.create(
                    group=group, title=f"S{i}-{j}", scheduled_at=now + dt.timedelta(days=j),
                    recording_url="https://v.example.com/r" if j == 0 else "",
                    held_at=now if j == 0 else None,
                )  # fmt: skip
                TrainingResource.objects.create(
                    onboarding=world.onboarding, group=group, title=f"R{i}-{j}", audience=f"G{i}"
                )
            Contact.objects.create(
                onboarding=world.onboarding, side="customer", name=f"C{i}",
                email=f"c{i}@{world.tenant.slug}-customer.example", is_champion=bool(i % 2),
            )  # fmt: skip


@pytest.mark.django_db
def test_training_close_and_calendar_pages_take_the_same_queries_for_more_data():
    from tests.factories import build_world

    small, large = build_world("small"), build_world("large")
    grow_training(small, 1)
    grow_training(large, 25)
    for world in (small, large):
        with tenant_context(world.tenant):
            for i in range(20 if world is large else 0):
                Milestone.objects.create(
                    onboarding=world.onboarding, name=f"M{i}", due_date=dt.date(2027, 1, 1)
                )
    counts = {}
    for world in (small, large):
        client = client_for(world, world.csm)
        counts[world.tenant.slug] = [
            queries(client, url(world, name))
            for name in ("training", "close", "stakeholders", "milestones-calendar")
        ]
    assert counts["small"] == counts["large"], counts
    for world in (small, large):
        close_it(world, client_for(world, world.csm))
        client = client_for(world, world.csm)
        counts[world.tenant.slug] = [
            queries(client, url(world, name)) for name in ("close", "qbr-ics", "training")
        ]
    assert counts["small"] == counts["large"], counts
