"""Steps 1-3 of the CSM workspace: the handoff and its gate, the kickoff and its calendar file, the
requirements intake. Pages are driven through the test client as a person would (POST, redirect,
GET); services are called directly where a race or a rollback has to be staged."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from icalendar import Calendar

from accounts.models import Role, User
from accounts.services import add_member
from onboarding.models import (
    ActivityEntry,
    Contact,
    HandoffDocument,
    Kickoff,
    Onboarding,
    PortalAccess,
    RequirementItem,
    Task,
)
from onboarding.services import kickoff as kickoff_services
from onboarding.services.handoff import (
    StaleHandoff,
    completeness,
    handoff_missing,
    update_handoff,
)
from onboarding.services.invitations import InvitationError, share_portal
from onboarding.services.phases import PhaseRefused, move_to_phase
from onboarding.services.requirements import make_task
from portal.tenancy.context import tenant_context
from tests.conftest import client_for
from tests.factories import PASSWORD, World, build_world

DEFAULT_MISSING = [
    "Goals",
    "Stakeholders (a customer-side contact with a role)",
    "Commitments made in the sale",
    "Contract value",
    "Seats",
    "Renewal date",
]


# --- Helpers ----------------------------------------------------------------------------------


def url(world: World, name: str, **kwargs) -> str:
    from django.urls import reverse

    return reverse(f"workspace:{name}", kwargs={"onboarding_id": world.onboarding.pk, **kwargs})


def member(world: World, role: str) -> User:
    user = User.objects.create_user(
        f"{role}2@{world.tenant.slug}.example", PASSWORD, full_name=f"Second {role}"
    )
    add_member(world.tenant, user, role)
    return user


def handoff_form(version: int = 1, **changes) -> dict:
    data = {
        "version": str(version),
        "goals": "Cut invoice time to 3 days\nOne dashboard",
        "commitments": "Go-live before Feb 15",
        "risks": "",
        "contract_value": "148000.00",
        "currency": "usd",
        "seats": "220",
        "modules": "Core\nAnalytics",
        "renewal_date": "2027-11-15",
        "account_executive": "Priya Raman",
    }
    data.update(changes)
    return data


def handoff_of(world: World) -> HandoffDocument:
    with tenant_context(world.tenant):
        return HandoffDocument.objects.get(onboarding=world.onboarding)


def give_role(world: World, role: str = "VP Operations") -> None:
    with tenant_context(world.tenant):
        Contact.objects.filter(pk=world.contact.pk).update(role=role)


def complete(world: World) -> None:
    """Fill every default required field the way an AE would, through the service."""
    give_role(world)
    with tenant_context(world.tenant):
        onboarding = Onboarding.objects.get(pk=world.onboarding.pk)
        update_handoff(
            onboarding,
            {
                "goals": ["Cut invoice time"],
                "commitments": ["SSO with Okta"],
                "contract_value": 148000,
                "seats": 220,
                "renewal_date": dt.date(2027, 11, 15),
            },
            handoff_of(world).version,
            world.csm,
        )


def vendor_contact(world: World, email: str | None = None) -> Contact:
    with tenant_context(world.tenant):
        return Contact.objects.create(
            onboarding=world.onboarding,
            side="vendor",
            name="Casey CSM",
            email=email or world.csm.email,
            role="Customer success manager",
        )


def future(world: World, days: int = 10) -> dt.date:
    return world.tenant.local_today() + dt.timedelta(days=days)


def field_error(html: str, field_id: str) -> str:
    """The error text rendered next to the input with this id (settings/_field.html markup)."""
    match = re.search(rf'id="{field_id}_error">(.*?)</div>', html, re.S)
    assert match, f"no error next to #{field_id}"
    return re.sub(r"<[^>]+>", " ", match.group(1)).strip()


def activity(world: World) -> list[str]:
    with tenant_context(world.tenant):
        return list(
            ActivityEntry.objects.filter(onboarding=world.onboarding)
            .order_by("id")
            .values_list("text", flat=True)
        )


def status_of(world: World) -> str:
    with tenant_context(world.tenant):
        return Onboarding.objects.get(pk=world.onboarding.pk).status


# --- Completeness and the gate ----------------------------------------------------------------


def test_completeness_follows_the_tenants_required_fields(tenant_a):
    world = tenant_a
    with tenant_context(world.tenant):
        onboarding = Onboarding.objects.get(pk=world.onboarding.pk)
        assert handoff_missing(onboarding) == DEFAULT_MISSING
        assert completeness(onboarding) == (0, 6)
    give_role(world)  # a customer-side contact with a role is a stakeholder
    with tenant_context(world.tenant):
        onboarding = Onboarding.objects.get(pk=world.onboarding.pk)
        assert completeness(onboarding) == (1, 6)
        assert "Stakeholders (a customer-side contact with a role)" not in handoff_missing(
            onboarding
        )
    # A vendor-side contact with a role does not count as the customer's buying committee.
    give_role(world, "")
    vendor_contact(world)
    with tenant_context(world.tenant):
        onboarding = Onboarding.objects.get(pk=world.onboarding.pk)
        assert handoff_missing(onboarding)[1].startswith("Stakeholders")
    # The tenant's own choice: only risks and seats (an unknown name is ignored, not a lock).
    world.tenant.handoff_required_fields = ["risks", "seats", "no_such_field"]
    world.tenant.save()
    with tenant_context(world.tenant):
        onboarding = Onboarding.objects.get(pk=world.onboarding.pk)
        assert handoff_missing(onboarding) == ["Risks and objections", "Seats"]
        assert completeness(onboarding) == (0, 2)
        update_handoff(onboarding, {"risks": ["IT short-staffed"]}, 1, world.csm)
        assert completeness(Onboarding.objects.get(pk=onboarding.pk)) == (1, 2)


def test_phase_move_is_refused_with_the_missing_list_until_the_handoff_is_complete(tenant_a):
    world = tenant_a
    csm = client_for(world, world.csm)
    page = csm.get(url(world, "handoff"))
    assert page.status_code == 200
    for label in DEFAULT_MISSING:
        assert label in page.text
    assert "0 of 6" in page.text

    refused = csm.post(url(world, "phase"), {"phase": "kickoff"})
    assert refused.status_code == 200
    error = field_error(refused.text, "id_phase")
    assert error.startswith("The handoff is incomplete.")
    for label in DEFAULT_MISSING:
        assert label in error
    assert status_of(world) == "pre_kickoff"
    assert not activity(world)

    complete(world)
    assert "Complete: the onboarding can move to kickoff" in csm.get(url(world, "handoff")).text
    moved = csm.post(url(world, "phase"), {"phase": "kickoff"})
    assert moved.status_code == 302
    assert status_of(world) == "kickoff"
    assert (
        activity(world)[-1] == f"{world.csm.get_full_name()} moved the onboarding from "
        "Pre-kickoff to Kickoff"
    )
    page = csm.get(url(world, "handoff")).text
    assert 'id="handoff-complete">Complete.</p>' in page
    assert "can move to kickoff" not in page  # it is there already


def test_phase_rules_closed_is_not_a_phase_and_closed_onboardings_stay_closed(tenant_a):
    world = tenant_a
    complete(world)
    with tenant_context(world.tenant):
        onboarding = Onboarding.objects.get(pk=world.onboarding.pk)
        with pytest.raises(PhaseRefused, match="Close step"):
            move_to_phase(onboarding, "closed", world.csm)
        with pytest.raises(PhaseRefused, match="already in Pre-kickoff"):
            move_to_phase(onboarding, "pre_kickoff", world.csm)
        Onboarding.objects.filter(pk=onboarding.pk).update(status="closed")
        with pytest.raises(PhaseRefused, match="closed"):
            move_to_phase(onboarding, "setup", world.csm)
    csm = client_for(world, world.csm)
    bogus = csm.post(url(world, "phase"), {"phase": "closed"})
    assert "closed" in status_of(world)
    assert bogus.status_code == 302  # closed: read-only, a message and back to the page


def test_share_portal_is_gated_and_invite_contact_is_not(tenant_a, mailoutbox):
    world = tenant_a
    with tenant_context(world.tenant):
        sam = Contact.objects.create(
            onboarding=world.onboarding, side="customer", name="Sam", email="sam@x.example"
        )
        onboarding = Onboarding.objects.get(pk=world.onboarding.pk)
        with pytest.raises(InvitationError) as refused:
            share_portal(onboarding, sam, world.csm, send_email=False)
        for label in DEFAULT_MISSING:
            assert label in str(refused.value)
        assert not PortalAccess.objects.filter(contact=sam).exists()
    complete(world)
    with tenant_context(world.tenant):
        onboarding = Onboarding.objects.get(pk=world.onboarding.pk)
        access = share_portal(onboarding, sam, world.csm, send_email=False)
        assert access.user.email == "sam@x.example"
        other = build_world("other")
    assert activity(world)[-1] == f"{world.csm.get_full_name()} shared the portal with Sam"
    # A contact of another onboarding is refused, whatever the handoff says.
    with tenant_context(world.tenant):
        stranger = Contact.objects.create(
            onboarding=Onboarding.objects.create(
                customer=world.customer, name="Second", model="low", start_date=dt.date.today()
            ),
            side="customer",
            name="Stranger",
            email="stranger@x.example",
        )
        with pytest.raises(InvitationError, match="does not belong"):
            share_portal(onboarding, stranger, world.csm, send_email=False)
    assert other.tenant != world.tenant


CASES = Path(__file__).resolve().parents[1].parent / "shared" / "cases"


@pytest.mark.skipif(not CASES.is_dir(), reason="shared cases not present")
def test_crm_import_invites_the_primary_contact_and_the_gate_still_applies_to_staff(db):
    """The import invites with the ungated primitive (documented in invitations.py); a deal whose
    CRM record lacks a required field shows up as incomplete, and staff sharing stays gated."""
    from django.core.management import call_command

    from accounts.services import create_tenant

    tenant = create_tenant(name="Acme Cloud", slug="acme", time_zone="America/New_York")
    call_command("import_handoffs", str(CASES / "hubspot-deals.csv"), tenant="acme")
    csm = User.objects.create_user("c@acme.example", PASSWORD)
    add_member(tenant, csm, Role.CSM)
    with tenant_context(tenant):
        northwind = Onboarding.objects.get(customer__name="Northwind Traders")
        fabrikam = Onboarding.objects.get(customer__name="Fabrikam Studio")
        assert handoff_missing(northwind) == []  # the CRM filled every default field
        assert handoff_missing(fabrikam) == ["Commitments made in the sale"]
        assert PortalAccess.objects.filter(onboarding=fabrikam).count() == 1  # Léa, at import
        extra = Contact.objects.create(
            onboarding=fabrikam, side="customer", name="Max", email="max@fabrikam.example"
        )
        with pytest.raises(InvitationError, match="Commitments made in the sale"):
            share_portal(fabrikam, extra, csm, send_email=False)


# --- Roles ------------------------------------------------------------------------------------


def test_an_account_executive_edits_the_handoff_but_cannot_move_the_phase(tenant_a):
    world = tenant_a
    ae = client_for(world, member(world, Role.AE))
    page = ae.get(url(world, "handoff"))
    assert 'name="goals"' in page.text and 'name="phase"' not in page.text
    saved = ae.post(url(world, "handoff"), handoff_form())
    assert saved.status_code == 302
    document = handoff_of(world)
    assert document.goals == ["Cut invoice time to 3 days", "One dashboard"]
    assert (document.currency, document.seats, document.version) == ("USD", 220, 2)
    added = ae.post(
        url(world, "stakeholder-add"),
        {
            "new-side": "customer",
            "new-name": "Dana",
            "new-email": "dana@x.example",
            "new-role": "Sponsor",
        },
    )
    assert added.status_code == 302
    assert handoff_missing_for(world) == []
    assert ae.post(url(world, "phase"), {"phase": "kickoff"}).status_code == 404
    assert status_of(world) == "pre_kickoff"
    # Kickoff and requirements are the CSM's: readable, not writable.
    assert 'name="date"' not in ae.get(url(world, "kickoff")).text
    assert ae.post(url(world, "kickoff"), {"form": "schedule"}).status_code == 404
    assert ae.post(url(world, "requirements"), {}).status_code == 404


def handoff_missing_for(world: World) -> list[str]:
    with tenant_context(world.tenant):
        return handoff_missing(Onboarding.objects.get(pk=world.onboarding.pk))


def test_a_viewer_reads_every_step_and_writes_nothing(tenant_a):
    world = tenant_a
    viewer = client_for(world, world.viewer)
    with tenant_context(world.tenant):
        item = RequirementItem.objects.create(
            onboarding=world.onboarding, category="integration", title="ERP export"
        )
    for name in ("handoff", "kickoff", "requirements"):
        page = viewer.get(url(world, name))
        assert page.status_code == 200
        assert 'method="post"' not in page.text.split("<main>")[1], name
    assert "ERP export" in viewer.get(url(world, "requirements")).text
    posts = [
        url(world, "handoff"),
        url(world, "stakeholder-add"),
        url(world, "stakeholder-edit", contact_id=world.contact.pk),
        url(world, "stakeholder-delete", contact_id=world.contact.pk),
        url(world, "phase"),
        url(world, "kickoff"),
        url(world, "kickoff-cancel"),
        url(world, "requirements"),
        url(world, "requirement-edit", requirement_id=item.pk),
        url(world, "requirement-delete", requirement_id=item.pk),
        url(world, "requirement-task", requirement_id=item.pk),
    ]
    for path in posts:
        assert viewer.post(path, handoff_form()).status_code == 404, path
    assert handoff_of(world).version == 1 and not activity(world)


def test_a_closed_onboarding_is_read_only_on_every_step(tenant_a):
    world = tenant_a
    with tenant_context(world.tenant):
        Onboarding.objects.filter(pk=world.onboarding.pk).update(status="closed")
    csm = client_for(world, world.csm)
    for name in ("handoff", "kickoff", "requirements"):
        assert 'method="post"' not in csm.get(url(world, name)).text.split("<main>")[1]
    refused = csm.post(url(world, "handoff"), handoff_form(), follow=True)
    assert "This onboarding is closed; it is read-only." in refused.text
    assert csm.post(url(world, "requirements"), {"new-title": "x"}).status_code == 302
    assert handoff_of(world).version == 1 and not activity(world)


# --- Concurrent edits -------------------------------------------------------------------------


def test_the_second_of_two_concurrent_handoff_saves_is_told_and_sees_the_newer_version(tenant_a):
    world = tenant_a
    first = client_for(world, world.csm)
    second = client_for(world, member(world, Role.AE))
    assert 'name="version" value="1"' in first.get(url(world, "handoff")).text
    assert 'name="version" value="1"' in second.get(url(world, "handoff")).text
    assert first.post(url(world, "handoff"), handoff_form(goals="First goal")).status_code == 302

    late = second.post(url(world, "handoff"), handoff_form(goals="Second goal", seats="5"))
    assert late.status_code == 409
    assert "Someone else saved this handoff while you were editing" in late.text
    form = late.context["form"]
    assert form.initial["goals"] == "First goal" and form.initial["seats"] == 220
    assert 'name="version" value="2"' in late.text  # a retry from this page is not stale
    assert "Second goal" in late.text.split('id="your-changes"')[1]  # shown, not saved
    document = handoff_of(world)
    assert (document.goals, document.seats, document.version) == (["First goal"], 220, 2)
    with tenant_context(world.tenant):
        with pytest.raises(StaleHandoff):
            update_handoff(
                Onboarding.objects.get(pk=world.onboarding.pk), {"goals": ["x"]}, 1, world.csm
            )
    retry = second.post(url(world, "handoff"), handoff_form(version=2, goals="Second goal"))
    assert retry.status_code == 302 and handoff_of(world).goals == ["Second goal"]


# --- Bad input --------------------------------------------------------------------------------


def test_bad_handoff_input_is_refused_next_to_each_field_and_nothing_is_saved(tenant_a):
    world = tenant_a
    csm = client_for(world, world.csm)
    bad = csm.post(
        url(world, "handoff"),
        handoff_form(
            contract_value="-5",
            currency="US",
            seats="0",
            renewal_date="2026-01-01",  # before the contract start (Nov 16, 2026)
            risks="x" * 501,
            goals="\n".join(f"goal {i}" for i in range(51)),
        ),
    )
    assert bad.status_code == 200
    html = bad.text
    assert "cannot be negative" in field_error(html, "id_contract_value")
    assert "three-letter" in field_error(html, "id_currency")
    assert "at least 1" in field_error(html, "id_seats")
    assert "after the contract start" in field_error(html, "id_renewal_date")
    assert "Line 1 is longer than 500" in field_error(html, "id_risks")
    assert "At most 50 lines" in field_error(html, "id_goals")
    assert handoff_of(world).version == 1 and not activity(world)
    # Form-level parsing errors too (not a number, not a date).
    worse = csm.post(url(world, "handoff"), handoff_form(seats="many", renewal_date="soon"))
    assert field_error(worse.text, "id_seats") and field_error(worse.text, "id_renewal_date")
    assert handoff_of(world).version == 1


def test_bad_stakeholders_are_refused_next_to_the_field(tenant_a):
    world = tenant_a
    csm = client_for(world, world.csm)
    base = {"new-side": "customer", "new-name": "Dana", "new-email": "", "new-role": "Sponsor"}
    cases = {
        "new-email": ("not-an-email", "valid email"),
        "new-phone": ("call me maybe", "phone number"),
        "new-name": ("", "required"),
        "new-side": ("martian", "valid choice"),
        "new-role": ("Sponsor\r\nBcc: x", "one line"),
    }
    for name, (value, message) in cases.items():
        page = csm.post(url(world, "stakeholder-add"), {**base, name: value})
        assert page.status_code == 200
        assert message in field_error(page.text, f"id_{name}"), name
    dup = csm.post(
        url(world, "stakeholder-add"), {**base, "new-email": world.contact.email.upper()}
    )
    assert "Another contact" in field_error(dup.text, "id_new-email")
    # An invited contact keeps the address they sign in with.
    edit = csm.post(
        url(world, "stakeholder-edit", contact_id=world.contact.pk),
        {"edit-side": "customer", "edit-name": "X", "edit-email": "new@x.example"},
    )
    assert "invited to the portal" in field_error(edit.text, "id_edit-email")
    # Removing them would take their portal access with them: refused, with the reason.
    gone = csm.post(url(world, "stakeholder-delete", contact_id=world.contact.pk), follow=True)
    assert "revoke it before removing them" in gone.text
    with tenant_context(world.tenant):
        assert list(Contact.objects.values_list("name", flat=True)) == [world.contact.name]
    assert not activity(world)


def test_stakeholders_are_edited_and_removed_on_the_handoff_page(tenant_a):
    world = tenant_a
    csm = client_for(world, world.csm)
    csm.post(
        url(world, "stakeholder-add"),
        {"new-side": "vendor", "new-name": "Ann", "new-email": "ann@v.example", "new-role": "AE"},
    )
    with tenant_context(world.tenant):
        ann = Contact.objects.get(email="ann@v.example")
    form = csm.get(url(world, "stakeholder-edit", contact_id=ann.pk))
    assert 'value="Ann"' in form.text
    csm.post(
        url(world, "stakeholder-edit", contact_id=ann.pk),
        {
            "edit-side": "vendor",
            "edit-name": "Ann Lee",
            "edit-email": "ann@v.example",
            "edit-role": "Account executive",
            "edit-phone": "+1 (415) 555-0100",
        },
    )
    with tenant_context(world.tenant):
        ann.refresh_from_db()
        assert (ann.name, ann.role, ann.phone) == (
            "Ann Lee",
            "Account executive",
            "+1 (415) 555-0100",
        )
    assert csm.post(url(world, "stakeholder-delete", contact_id=ann.pk)).status_code == 302
    with tenant_context(world.tenant):
        assert not Contact.objects.filter(pk=ann.pk).exists()
    assert [t.split(" ", 2)[2] for t in activity(world)] == [
        "added Ann (vendor, AE) to the stakeholders",
        "updated Ann Lee: name, role, phone",
        "removed Ann Lee from the stakeholders",
    ]
    # A contact of another onboarding (same tenant) is not found under this one.
    other = build_world("elsewhere")
    assert csm.get(url(world, "stakeholder-edit", contact_id=other.contact.pk)).status_code == 404


# --- Kickoff and its calendar file ------------------------------------------------------------


def schedule_form(world: World, day: dt.date, at: str = "10:00", **changes) -> dict:
    with tenant_context(world.tenant):
        ids = [
            str(pk)
            for pk in Contact.objects.filter(onboarding=world.onboarding).values_list(
                "pk", flat=True
            )
        ]
    data = {
        "form": "schedule",
        "version": "",
        "date": day.isoformat(),
        "time": at,
        "duration_minutes": "45",
        "location": "https://meet.example/kickoff",
        "attendees": ids,
    }
    data.update(changes)
    return data


def kickoff_of(world: World) -> Kickoff:
    with tenant_context(world.tenant):
        return Kickoff.objects.get(onboarding=world.onboarding)


def ics_event(client, world: World):
    response = client.get(url(world, "kickoff-ics"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/calendar; charset=utf-8")
    calendar = Calendar.from_ical(response.content)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


def test_kickoff_ics_request_reschedule_and_cancel_keep_the_uid_and_grow_the_sequence(tenant_a):
    world = tenant_a
    vendor_contact(world)
    csm = client_for(world, world.csm)
    assert csm.get(url(world, "kickoff-ics")).status_code == 404  # nothing scheduled yet
    day = future(world)
    assert csm.post(url(world, "kickoff"), schedule_form(world, day)).status_code == 302
    kickoff = kickoff_of(world)

    calendar, event = ics_event(csm, world)
    uid = f"kickoff-{kickoff.pk}@alpha.localhost"  # canonical host without its port
    assert str(calendar["method"]) == "REQUEST"
    assert (str(event["uid"]), event["sequence"]) == (uid, 0)
    start = event.decoded("dtstart")
    local = dt.datetime.combine(day, dt.time(10), tzinfo=world.tenant.tz)
    assert start == local and start.utcoffset() == dt.timedelta(0)  # sent in UTC
    assert event.decoded("dtend") - start == dt.timedelta(minutes=45)
    assert event.to_ical().count(b"DTSTART:") == 1 and b"Z\r\n" in event.to_ical()
    assert str(event["organizer"]) == f"mailto:{world.csm.email}"
    attendees = sorted(str(a) for a in event["attendee"])
    assert attendees == sorted([f"mailto:{world.contact.email}", f"mailto:{world.csm.email}"])
    assert event.decoded("dtstamp").tzinfo is not None
    assert str(event["location"]) == "https://meet.example/kickoff"

    # Saving the same schedule changes nothing; a new time is a new revision of the same event.
    csm.post(url(world, "kickoff"), schedule_form(world, day, version="1"))
    assert kickoff_of(world).ics_sequence == 0
    csm.post(url(world, "kickoff"), schedule_form(world, day, "14:30", version="1"))
    _, event = ics_event(csm, world)
    assert (str(event["uid"]), event["sequence"]) == (uid, 1)
    assert event.decoded("dtstart") == local.replace(hour=14, minute=30)

    blind = csm.post(url(world, "kickoff-cancel"), {}, follow=True)  # no version: no blind cancel
    assert "reload the page" in blind.text and kickoff_of(world).cancelled_at is None
    assert csm.post(url(world, "kickoff-cancel"), {"version": "2"}).status_code == 302
    calendar, event = ics_event(csm, world)
    assert str(calendar["method"]) == "CANCEL" and str(event["status"]) == "CANCELLED"
    assert (str(event["uid"]), event["sequence"]) == (uid, 2)

    # Scheduling it again reinstates the same event with a higher sequence still.
    csm.post(url(world, "kickoff"), schedule_form(world, day, "15:00", version="3"))
    calendar, event = ics_event(csm, world)
    assert (str(calendar["method"]), str(event["uid"]), event["sequence"]) == ("REQUEST", uid, 3)
    texts = activity(world)
    assert texts[0].startswith(f"{world.csm.get_full_name()} scheduled the kickoff for ")
    assert "(America/New_York)" in texts[0]
    assert "rescheduled the kickoff to" in texts[1]
    assert "cancelled the kickoff" in texts[2]
    assert "scheduled the cancelled kickoff again" in texts[3]


def test_bad_kickoff_schedules_are_refused_next_to_the_field(tenant_a):
    world = tenant_a
    vendor_contact(world)
    csm = client_for(world, world.csm)
    with tenant_context(world.tenant):
        no_email = Contact.objects.create(onboarding=world.onboarding, side="customer", name="Bo")
        other = Onboarding.objects.create(
            customer=world.customer, name="Other", model="low", start_date=dt.date(2026, 1, 1)
        )
        stranger = Contact.objects.create(onboarding=other, side="customer", name="Zed")
    day = future(world)
    only_customer = [str(world.contact.pk)]
    # 02:30 on the second Sunday of March does not exist in New York.
    gap = dt.date(day.year + 1, 3, 8)
    gap += dt.timedelta(days=(6 - gap.weekday()) % 7)
    cases = [
        ({"date": (day - dt.timedelta(days=30)).isoformat()}, "id_date", "in the future"),
        ({"date": "tomorrow"}, "id_date", "valid date"),
        ({"time": "25:00"}, "id_time", "valid time"),
        ({"date": gap.isoformat(), "time": "02:30"}, "id_time", "does not exist"),
        ({"duration_minutes": "5"}, "id_duration_minutes", "Between 15 and 480"),
        ({"attendees": only_customer}, "id_attendees", "each side"),
        ({"attendees": []}, "id_attendees", "required"),
        ({"attendees": [str(stranger.pk)]}, "id_attendees", "valid choice"),
        ({"location": "x" * 301}, "id_location", "at most 300"),
    ]
    for changes, field_id, message in cases:
        page = csm.post(url(world, "kickoff"), schedule_form(world, day, **changes))
        assert page.status_code == 200, changes
        assert message.lower() in field_error(page.text, field_id).lower(), changes
    page = csm.post(url(world, "kickoff"), schedule_form(world, day))  # Bo has no email
    assert "Bo has no email" in field_error(page.text, "id_attendees")
    with tenant_context(world.tenant):
        assert not Kickoff.objects.exists()
        no_email.delete()
    assert not activity(world)


def test_the_second_of_two_concurrent_kickoff_schedules_sees_the_newer_one(tenant_a):
    world = tenant_a
    vendor_contact(world)
    csm = client_for(world, world.csm)
    day = future(world)
    csm.post(url(world, "kickoff"), schedule_form(world, day))
    late = csm.post(url(world, "kickoff"), schedule_form(world, day, "16:00"))  # version ""
    assert late.status_code == 409
    assert "Someone else changed this kickoff" in late.text
    assert late.context["schedule_form"].initial["time"] == dt.time(10)
    csm.post(url(world, "kickoff"), schedule_form(world, day, "11:00", version="1"))
    stale = csm.post(url(world, "kickoff"), schedule_form(world, day, "12:00", version="1"))
    assert stale.status_code == 409
    assert late.context["schedule_form"] is not None
    kickoff = kickoff_of(world)
    local = kickoff.scheduled_at.astimezone(world.tenant.tz)
    assert (local.hour, kickoff.version, kickoff.ics_sequence) == (11, 2, 1)


def outcome_form(world: World, version: int, steps: list[tuple[str, int | str, str]], **changes):
    vendor = vendor_contact_pk(world)
    data = {
        "form": "outcome",
        "version": str(version),
        "goals_confirmed": "on",
        "criteria_day30": "Invoices flow through the new system",
        "criteria_day60": "All 14 warehouses on the dashboard",
        "criteria_day90": "Order-to-invoice under 3 days",
        "definition_of_done": "Three days, every warehouse, for a month",
        "cadence": "Weekly, Tuesdays 10:00",
        "channel": "Shared Slack channel",
        "vendor_escalation": str(vendor),
        "customer_escalation": str(world.contact.pk),
        "step-TOTAL_FORMS": "5",
        "step-INITIAL_FORMS": "0",
        "step-MIN_NUM_FORMS": "0",
        "step-MAX_NUM_FORMS": "5",
    }
    for i, (title, owner, due) in enumerate(steps):
        data.update(
            {f"step-{i}-title": title, f"step-{i}-owner": str(owner), f"step-{i}-due_date": due}
        )
    data.update(changes)
    return data


def vendor_contact_pk(world: World) -> int:
    with tenant_context(world.tenant):
        return Contact.objects.get(onboarding=world.onboarding, side="vendor").pk


def scheduled(world: World):
    vendor_contact(world)
    csm = client_for(world, world.csm)
    assert csm.post(url(world, "kickoff"), schedule_form(world, future(world))).status_code == 302
    return csm


def test_the_kickoff_outcome_turns_next_steps_into_plan_tasks(tenant_a):
    world = tenant_a
    csm = scheduled(world)
    vendor = vendor_contact_pk(world)
    before = task_count(world)
    d1, d2 = future(world, 3).isoformat(), future(world, 7).isoformat()
    saved = csm.post(
        url(world, "kickoff"),
        outcome_form(
            world,
            1,
            [("Send the ERP export", world.contact.pk, d1), ("Set up the sandbox", vendor, d2)],
        ),
    )
    assert saved.status_code == 302
    kickoff = kickoff_of(world)
    assert kickoff.held_at is not None and kickoff.goals_confirmed
    assert (kickoff.vendor_escalation_id, kickoff.customer_escalation_id) == (
        vendor,
        world.contact.pk,
    )
    with tenant_context(world.tenant):
        new = list(
            Task.objects.filter(onboarding=world.onboarding)
            .order_by("-id")[:2]
            .values_list("title", "owner_side", "owner_contact_id", "due_date")
        )
    assert task_count(world) == before + 2
    assert sorted(new) == [
        ("Send the ERP export", "customer", world.contact.pk, future(world, 3)),
        ("Set up the sandbox", "vendor", vendor, future(world, 7)),
    ]
    # A second person saving the outcome they loaded before: told, and no task is added twice.
    stale = csm.post(
        url(world, "kickoff"),
        outcome_form(world, 1, [("Send the ERP export", world.contact.pk, d1)], cadence="Daily"),
    )
    assert stale.status_code == 409 and "Someone else changed this kickoff" in stale.text
    assert task_count(world) == before + 2 and kickoff_of(world).cadence == "Weekly, Tuesdays 10:00"
    page = csm.get(url(world, "kickoff"))
    assert "Order-to-invoice under 3 days" in page.text and "More next steps" in page.text
    assert 'name="date"' not in page.text  # a held kickoff is not rescheduled
    assert "recorded the kickoff outcome" in activity(world)[-3]
    assert 'added the next step "Set up the sandbox"' in " ".join(activity(world))


def task_count(world: World) -> int:
    with tenant_context(world.tenant):
        return Task.objects.filter(onboarding=world.onboarding).count()


def test_a_bad_next_step_row_saves_nothing(tenant_a, monkeypatch):
    world = tenant_a
    csm = scheduled(world)
    before, entries = task_count(world), len(activity(world))
    good = ("Send the ERP export", world.contact.pk, future(world, 3).isoformat())
    cases = [
        ((("Half a row", "", ""),), "id_step-1-owner", "required"),
        ((("Too late", world.contact.pk, "2020-01-01"),), "id_step-1-due_date", "in the past"),
        ((("", world.contact.pk, future(world).isoformat()),), "id_step-1-title", "required"),
    ]
    for rows, field_id, message in cases:
        page = csm.post(url(world, "kickoff"), outcome_form(world, 1, [good, *rows]))
        assert page.status_code == 200
        assert message in field_error(page.text, field_id)
    no_steps = csm.post(url(world, "kickoff"), outcome_form(world, 1, []))
    assert "Record the next steps" in no_steps.text.split('id="next-steps"')[1]
    missing = csm.post(url(world, "kickoff"), outcome_form(world, 1, [good], cadence=""))
    assert "required" in field_error(missing.text, "id_cadence")
    wrong_side = csm.post(
        url(world, "kickoff"), outcome_form(world, 1, [good], vendor_escalation=world.contact.pk)
    )
    assert "valid choice" in field_error(wrong_side.text, "id_vendor_escalation")

    # The transaction: the second task fails after the first was written; nothing remains.
    calls = []

    def failing_create_task(onboarding, **fields):
        calls.append(fields["title"])
        if len(calls) == 2:
            raise RuntimeError("database went away")
        return real_create_task(onboarding, **fields)

    real_create_task = kickoff_services.create_task
    monkeypatch.setattr(kickoff_services, "create_task", failing_create_task)
    with tenant_context(world.tenant), pytest.raises(RuntimeError):
        kickoff_services.record_outcome(
            Kickoff.objects.get(onboarding=world.onboarding),
            {k: v for k, v in outcome_form(world, 1, []).items() if not k.startswith("step")},
            [
                kickoff_services.NextStep("One", world.contact.pk, future(world)),
                kickoff_services.NextStep("Two", world.contact.pk, future(world)),
            ],
            1,
            world.csm,
        )
    assert calls == ["One", "Two"]
    kickoff = kickoff_of(world)
    assert (kickoff.held_at, kickoff.criteria_day30, kickoff.version) == (None, "", 1)
    assert task_count(world) == before and len(activity(world)) == entries


# --- Requirements -----------------------------------------------------------------------------


def test_requirements_intake_items_become_plan_tasks(tenant_a):
    world = tenant_a
    csm = client_for(world, world.csm)
    added = csm.post(
        url(world, "requirements"),
        {
            "new-category": "security",
            "new-title": "Okta SSO",
            "new-details": "SAML 2.0",
            "new-sso": "on",
            "new-data_residency": "EU",
        },
    )
    assert added.status_code == 302
    with tenant_context(world.tenant):
        item = RequirementItem.objects.get(title="Okta SSO")
    assert (item.sso, item.ip_allowlisting, item.data_residency) == (True, False, "EU")
    page = csm.get(url(world, "requirements"))
    assert "Okta SSO" in page.text and "Data residency: EU" in page.text

    due = future(world, 14)
    made = csm.post(
        url(world, "requirement-task", requirement_id=item.pk),
        {
            f"task-{item.pk}-owner": f"contact:{world.contact.pk}",
            f"task-{item.pk}-due_date": due.isoformat(),
        },
    )
    assert made.status_code == 302
    with tenant_context(world.tenant):
        item.refresh_from_db()
        task = Task.objects.get(pk=item.task_id)
    assert (task.title, task.owner_side, task.owner_contact_id, task.due_date) == (
        "Okta SSO",
        "customer",
        world.contact.pk,
        due,
    )
    assert "SAML 2.0" in task.description and "SSO" in task.description
    assert "In the plan" in csm.get(url(world, "requirements")).text
    with tenant_context(world.tenant):
        with pytest.raises(Exception, match="already a task"):
            make_task(item, world.csm, owner_side="vendor", due_date=due)
        assert Task.objects.filter(title="Okta SSO").count() == 1

    # Edit, then delete: the task stays in the plan.
    csm.post(
        url(world, "requirement-edit", requirement_id=item.pk),
        {"edit-category": "security", "edit-title": "Okta SSO and SCIM", "edit-sso": "on"},
    )
    with tenant_context(world.tenant):
        item.refresh_from_db()
        assert item.title == "Okta SSO and SCIM"
    csm.post(url(world, "requirement-delete", requirement_id=item.pk))
    with tenant_context(world.tenant):
        assert not RequirementItem.objects.exists()
        assert Task.objects.filter(pk=task.pk).exists()
    assert len(activity(world)) == 4


def test_bad_requirements_are_refused_next_to_the_field(tenant_a):
    world = tenant_a
    csm = client_for(world, world.csm)
    base = {"new-category": "integration", "new-title": "Salesforce sync"}
    for changes, field_id, message in [
        ({"new-title": ""}, "id_new-title", "required"),
        ({"new-category": "misc"}, "id_new-category", "valid choice"),
        ({"new-sso": "on"}, "id_new-sso", "Security and compliance"),
        ({"new-data_residency": "EU"}, "id_new-data_residency", "Security and compliance"),
    ]:
        page = csm.post(url(world, "requirements"), {**base, **changes})
        assert page.status_code == 200
        assert message in field_error(page.text, field_id), changes
    with tenant_context(world.tenant):
        assert not RequirementItem.objects.exists()
        item = RequirementItem.objects.create(
            onboarding=world.onboarding, category="migration", title="Legacy ERP"
        )
    path = url(world, "requirement-task", requirement_id=item.pk)
    prefix = f"task-{item.pk}"
    for changes, field, message in [
        (
            {f"{prefix}-owner": "side:vendor", f"{prefix}-due_date": "2020-01-01"},
            "due_date",
            "in the past",
        ),
        (
            {f"{prefix}-owner": "", f"{prefix}-due_date": future(world).isoformat()},
            "owner",
            "required",
        ),
        (
            {f"{prefix}-owner": "contact:999999", f"{prefix}-due_date": future(world).isoformat()},
            "owner",
            "valid choice",
        ),
    ]:
        page = csm.post(path, changes)
        assert message in field_error(page.text, f"id_{prefix}-{field}")
    with tenant_context(world.tenant):
        item.refresh_from_db()
        assert item.task_id is None
    assert not activity(world)


# --- Query counts -----------------------------------------------------------------------------


def count_queries(client, path: str) -> int:
    client.get(path)  # warm the session
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200
    return len(queries)


def populate(world: World, n: int) -> None:
    """n stakeholders (each a kickoff attendee) and n requirements, each with a task."""
    vendor_contact(world)
    with tenant_context(world.tenant):
        contacts = [
            Contact.objects.create(
                onboarding=world.onboarding,
                side="customer",
                name=f"P{i}",
                email=f"p{i}@c.example",
                role="User",
            )
            for i in range(n)
        ]
        for i in range(n):
            task = Task.objects.create(
                onboarding=world.onboarding,
                title=f"R{i}",
                owner_side="customer",
                owner_contact=contacts[i],
                due_date=future(world),
            )
            RequirementItem.objects.create(
                onboarding=world.onboarding, category="integration", title=f"R{i}", task=task
            )
            RequirementItem.objects.create(
                onboarding=world.onboarding, category="security", title=f"S{i}", sso=True
            )
    csm = client_for(world, world.csm)
    assert csm.post(url(world, "kickoff"), schedule_form(world, future(world))).status_code == 302


@pytest.mark.django_db
def test_step_pages_run_the_same_number_of_queries_for_small_and_large_onboardings():
    small, large = build_world("small"), build_world("large")
    populate(small, 1)
    populate(large, 12)
    for name in ("handoff", "kickoff", "requirements", "kickoff-ics"):
        counts = [count_queries(client_for(w, w.csm), url(w, name)) for w in (small, large)]
        assert counts[0] == counts[1], (name, counts)
    html = client_for(large, large.csm).get(url(large, "requirements")).text
    assert html.count("In the plan:") == 12 and html.count("Make it a task") == 12


def test_the_demo_seed_has_complete_handoffs(db, settings, tmp_path):
    from io import StringIO

    from django.core.management import call_command

    from accounts.models import Tenant

    settings.MEDIA_ROOT = tmp_path
    call_command("seed_demo", stdout=StringIO())
    tenant = Tenant.objects.get(slug="demo")
    with tenant_context(tenant):
        onboardings = list(Onboarding.objects.select_related("handoff"))
        assert len(onboardings) == 5
        assert all(handoff_missing(o) == [] for o in onboardings)


# --- Accessibility ----------------------------------------------------------------------------


@pytest.mark.browser
def test_the_step_pages_have_no_serious_accessibility_violations(live_server, settings):
    """axe-core on each step page with its forms, its refusals and its listed data."""
    from urllib.parse import urlsplit

    from tests.browser import CHROMIUM, CHROMIUM_ARGS
    from tests.test_accessibility import blocking_violations

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing")
    sync_api = pytest.importorskip("playwright.sync_api")
    from axe_playwright_python.sync_playwright import Axe

    port = urlsplit(live_server.url).port
    settings.PORTAL_PORT = str(port)
    world = build_world("alpha")
    scheduled(world)
    with tenant_context(world.tenant):
        RequirementItem.objects.create(
            onboarding=world.onboarding, category="security", title="Okta SSO", sso=True
        )
    origin = f"http://alpha.localhost:{port}"
    axe, problems = Axe(), []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(f"{origin}/accounts/login/")
            page.locator('input[name="login"]').fill(world.csm.email)
            page.locator('input[name="password"]').fill(PASSWORD)
            page.locator('form button[type="submit"]').click()
            page.wait_for_url(f"{origin}/app/")
            for name in ("handoff", "kickoff", "requirements"):
                page.goto(origin + url(world, name))
                problems += blocking_violations(axe, page, name)
            # The refusals, without JavaScript in the way: real form posts.
            page.goto(origin + url(world, "handoff"))
            page.locator("#id_seats").fill("0")
            page.get_by_role("button", name="Save the handoff").click()
            page.locator("#id_seats_error").wait_for()
            problems += blocking_violations(axe, page, "handoff, refused")
            page.get_by_role("button", name="Move the onboarding").click()
            page.locator("#id_phase_error").wait_for()
            problems += blocking_violations(axe, page, "phase move, refused")
            page.goto(origin + url(world, "kickoff"))
            page.get_by_label("Next step 1", exact=True).fill("Half a row")
            page.get_by_role("button", name="Record the outcome").click()
            page.locator("#id_step-0-owner_error").wait_for()
            problems += blocking_violations(axe, page, "kickoff outcome, refused")
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
