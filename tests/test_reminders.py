"""Reminder digests: what goes in them, when they go out, and that nothing goes out twice."""

from __future__ import annotations

import datetime as dt
import smtplib
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts.models import Membership, Tenant, User
from onboarding.models import (
    Contact,
    DigestRun,
    Milestone,
    NotificationOptOut,
    Onboarding,
    PortalAccess,
    ReminderDigest,
    ReminderItem,
    Task,
)
from onboarding.services import reminders
from onboarding.services.tasks import update_task
from portal.tenancy.context import tenant_context
from tests.conftest import client_for
from tests.factories import another_customer, build_world
from tests.live import smtp_sink

UTC = dt.UTC
TODAY = dt.date(2026, 12, 3)  # a Thursday
NOON = dt.datetime(2026, 12, 3, 17, 0, tzinfo=UTC)  # 12:00 in New York


@pytest.fixture
def world(db):
    w = build_world("alpha", tasks=0)
    Tenant.objects.filter(pk=w.tenant.pk).update(
        reminder_days_ahead=3,
        overdue_repeat_days=2,
        blocked_escalation_days=2,
        milestone_days_ahead=5,
        digest_hour=9,
        skip_weekends=True,
    )
    w.tenant.refresh_from_db()
    with tenant_context(w.tenant):
        w.onboarding.milestones.all().delete()
    return w


def task(w, title, due, *, side="customer", contact="default", **extra):
    contact = w.contact if contact == "default" else contact
    with tenant_context(w.tenant):
        return Task.objects.create(
            onboarding=w.onboarding,
            title=title,
            owner_side=side,
            owner_contact=contact,
            due_date=due,
            **extra,
        )


def blocked_task(w, title, *, days):
    """A task due later, blocked for `days` days by today."""
    return task(
        w,
        title,
        TODAY + dt.timedelta(days=10),
        status="blocked",
        blocked_reason="No VPN",
        blocked_on=TODAY - dt.timedelta(days=days),
    )


def sweep(w, now=NOON):
    with tenant_context(w.tenant):
        return reminders.sweep(w.tenant, now)


def items_by_recipient(w) -> dict[str, set[tuple[str, str]]]:
    out: dict[str, set[tuple[str, str]]] = {}
    with tenant_context(w.tenant):
        for item in ReminderItem.objects.select_related("task", "milestone"):
            title = item.task.title if item.task else item.milestone.name
            out.setdefault(item.recipient, set()).add((item.kind, title))
    return out


def test_one_digest_per_recipient_groups_every_kind(world):
    client, csm = world.contact.email, world.csm.email
    task(world, "Due in three days", TODAY + dt.timedelta(days=3))
    task(world, "Due in four days", TODAY + dt.timedelta(days=4))  # outside N=3
    task(world, "Due today", TODAY)
    task(world, "Overdue", TODAY - dt.timedelta(days=5))
    task(world, "Done", TODAY, status="complete")
    task(world, "Vendor task", TODAY + dt.timedelta(days=1), side="vendor", contact=None)
    with tenant_context(world.tenant):
        escalation = Contact.objects.create(
            onboarding=world.onboarding,
            side="customer",
            name="Esc",
            email="Escalate@Customer.example",
            is_escalation_contact=True,
        )
        Milestone.objects.create(
            onboarding=world.onboarding, name="Go-live", due_date=TODAY + dt.timedelta(days=5)
        )
        Contact.objects.filter(pk=world.contact.pk).update(is_primary=True)
    blocked_task(world, "Blocked long", days=3)  # more than K = 2 days
    blocked_task(world, "Blocked briefly", days=2)  # exactly K days: not yet
    result = sweep(world)
    assert result.built and result.sent == 3
    assert items_by_recipient(world) == {
        client: {
            ("due_soon", "Due in three days"),
            ("due_today", "Due today"),
            ("overdue", "Overdue"),
            ("milestone", "Go-live"),
        },
        csm: {("due_soon", "Vendor task"), ("blocked", "Blocked long"), ("milestone", "Go-live")},
        "escalate@customer.example": {("blocked", "Blocked long")},
    }
    assert sorted(m.to[0] for m in mail.outbox) == sorted([client, csm, escalation.email.lower()])
    digest = next(m for m in mail.outbox if m.to == [client])
    assert "4 onboarding reminders" in digest.subject
    for text in (
        "Due in three days",
        "Due today",
        "Overdue",
        "Go-live",
        "/notifications/unsubscribe/",
    ):
        assert text in digest.body
    assert "Due in four days" not in digest.body and "Done" not in digest.body
    assert digest.alternatives and "Due today" in digest.alternatives[0][0]
    assert "List-Unsubscribe" in digest.extra_headers


def test_a_csm_who_left_the_tenant_gets_none_of_its_reminders(world):
    """Removed from the tenant (or deactivated) while still the onboarding's owner: the vendor
    tasks, escalations and milestones stop going to them; the customer's own still go out."""
    task(world, "Vendor task", TODAY, side="vendor", contact=None)
    task(world, "Client task", TODAY)
    blocked_task(world, "Blocked long", days=3)
    with tenant_context(world.tenant):
        Milestone.objects.create(
            onboarding=world.onboarding, name="Go-live", due_date=TODAY + dt.timedelta(days=5)
        )
    # While a member, the CSM gets all three (the control for what follows).
    with tenant_context(world.tenant):
        assert reminders.build_digests(world.tenant, TODAY, NOON) is not None
        kinds = set(
            ReminderItem.objects.filter(recipient=world.csm.email).values_list("kind", flat=True)
        )
        assert kinds == {"due_today", "blocked", "milestone"}
        ReminderItem.objects.all().delete()
        ReminderDigest.objects.all().delete()
        DigestRun.objects.all().delete()
        Membership.objects.filter(user=world.csm).delete()
    sweep(world)
    assert sorted(m.to[0] for m in mail.outbox) == [world.contact.email]
    assert world.csm.email not in items_by_recipient(world)


def test_a_colleague_who_left_is_not_reached_through_their_vendor_contact(world):
    """The CRM import records the owning CSM as a vendor contact linked to their account, often
    the escalation contact and the named owner of vendor tasks. Once they leave, those reminders
    go to whoever owns the onboarding now, and their escalations stop."""
    with tenant_context(world.tenant):
        mine = Contact.objects.create(
            onboarding=world.onboarding,
            side="vendor",
            name="Casey",
            email=world.csm.email,
            user=world.csm,
            is_escalation_contact=True,
        )
    task(world, "Configure SSO", TODAY, side="vendor", contact=mine)
    blocked_task(world, "Blocked long", days=3)
    with tenant_context(world.tenant):  # the control: while a member, reached both ways
        reminders.build_digests(world.tenant, TODAY, NOON)
        assert set(
            ReminderItem.objects.filter(recipient=world.csm.email).values_list("kind", flat=True)
        ) == {"due_today", "blocked"}
        ReminderItem.objects.all().delete()
        ReminderDigest.objects.all().delete()
        DigestRun.objects.all().delete()
        Membership.objects.filter(user=world.csm).delete()
        Onboarding.objects.filter(pk=world.onboarding.pk).update(owner=world.admin)
    sweep(world)
    reached = items_by_recipient(world)
    assert world.csm.email not in reached and world.csm.email not in str(
        [m.to for m in mail.outbox]
    )
    assert reached[world.admin.email] == {
        ("due_today", "Configure SSO"),
        ("blocked", "Blocked long"),
    }


def test_a_colleague_who_left_is_not_reached_through_a_contact_naming_only_their_address(world):
    """The stakeholder editor stores a vendor person by address, unlinked; once their membership
    ends (account still active), the address alone no longer reaches the onboarding's news. A
    vendor person with no account at all is still reached."""
    with tenant_context(world.tenant):
        kept = dict(onboarding=world.onboarding, side="vendor", is_escalation_contact=True)
        Contact.objects.create(name="Vic", email=world.viewer.email, **kept)
        Contact.objects.create(name="Partner", email="se@partner.example", **kept)
    blocked_task(world, "Blocked long", days=3)
    with tenant_context(world.tenant):  # the control: both reached while Vic is a member
        reminders.build_digests(world.tenant, TODAY, NOON)
        assert world.viewer.email in items_by_recipient(world)
        ReminderItem.objects.all().delete()
        ReminderDigest.objects.all().delete()
        DigestRun.objects.all().delete()
        Membership.objects.filter(user=world.viewer).delete()
    sweep(world)
    reached = items_by_recipient(world)
    assert world.viewer.email not in reached
    assert reached["se@partner.example"] == {("blocked", "Blocked long")}


def test_people_cut_off_from_the_onboarding_get_none_of_its_reminders(world):
    """A client whose portal access was revoked is told nothing more of the onboarding (their
    tasks, its milestones, its escalations); nor is anyone whose account is deactivated, even
    when a contact names them only by address."""
    with tenant_context(world.tenant):
        Contact.objects.filter(pk=world.contact.pk).update(
            is_primary=True, is_escalation_contact=True
        )
        Milestone.objects.create(
            onboarding=world.onboarding, name="Go-live", due_date=TODAY + dt.timedelta(days=5)
        )
        gone = Contact.objects.create(
            onboarding=world.onboarding, side="vendor", name="Vic", email=world.viewer.email
        )
    task(world, "Client task", TODAY)
    task(world, "Vendor task", TODAY, side="vendor", contact=gone)
    blocked_task(world, "Blocked long", days=3)
    with tenant_context(world.tenant):  # the control: both reached while they may be
        reminders.build_digests(world.tenant, TODAY, NOON)
        reached = items_by_recipient(world)
        assert reached[world.contact.email] == {
            ("due_today", "Client task"),
            ("milestone", "Go-live"),
            ("blocked", "Blocked long"),
        }
        assert reached[world.viewer.email] == {("due_today", "Vendor task")}
        ReminderItem.objects.all().delete()
        ReminderDigest.objects.all().delete()
        DigestRun.objects.all().delete()
        PortalAccess.objects.filter(user=world.client).update(revoked_at=timezone.now())
    User.objects.filter(pk=world.viewer.pk).update(is_active=False)
    sweep(world)
    reached = items_by_recipient(world)
    assert world.contact.email not in reached and world.viewer.email not in reached
    assert reached[world.csm.email] >= {("due_today", "Vendor task"), ("blocked", "Blocked long")}
    assert {m.to[0] for m in mail.outbox} == {world.csm.email}


def test_a_task_owned_by_another_onboardings_contact_reminds_nobody_there(world):
    """A link no page or API makes (each limits owners to the task's onboarding); should one
    exist, the other customer's contact is not sent this customer's task."""
    other, stranger = another_customer(world)
    with tenant_context(world.tenant):
        other.tasks.all().delete()
        other.milestones.all().delete()
    task(world, "Alpha's secret task", TODAY, contact=stranger)
    task(world, "Alpha's own task", TODAY)
    sweep(world)
    assert sorted(m.to[0] for m in mail.outbox) == [world.contact.email]
    assert stranger.email not in items_by_recipient(world)


def test_rerunning_the_day_records_and_sends_nothing_new(world):
    task(world, "Due today", TODAY)
    assert sweep(world).sent == 1
    again = sweep(world, NOON + dt.timedelta(hours=3))
    assert (again.built, again.items, again.sent) == (False, 0, 0)
    with tenant_context(world.tenant):
        assert reminders.build_digests(world.tenant, TODAY) is None  # a second builder
        assert ReminderDigest.objects.count() == 1
    assert len(mail.outbox) == 1


def test_overdue_repeats_every_m_days(world):
    task(world, "Late", TODAY - dt.timedelta(days=1))
    sent_on = []
    for offset in range(6):
        now = NOON + dt.timedelta(days=offset)
        if now.astimezone(world.tenant.tz).weekday() >= 5:
            continue
        before = len(mail.outbox)
        sweep(world, now)
        if len(mail.outbox) > before:
            sent_on.append((TODAY + dt.timedelta(days=offset)).isoformat())
    # Thu 3rd, then not before two days have passed: Sat/Sun are skipped, so Mon 7th, then Wed 9th
    # would be next (outside the loop).
    assert sent_on == ["2026-12-03", "2026-12-07"]


def test_digest_goes_out_at_the_local_hour_across_dst(db):
    w = build_world("zoned", tasks=0)
    Tenant.objects.filter(pk=w.tenant.pk).update(digest_hour=9, skip_weekends=False)
    w.tenant.refresh_from_db()
    tz = w.tenant.tz
    assert str(tz) == "America/New_York"
    cases = [
        # (UTC instant, should build)  EDT is UTC-4 until 2025-11-02, EST UTC-5 after.
        (dt.datetime(2025, 11, 1, 12, 59, tzinfo=UTC), False),  # 08:59 EDT
        (dt.datetime(2025, 11, 1, 13, 0, tzinfo=UTC), True),  # 09:00 EDT
        (dt.datetime(2025, 11, 3, 13, 30, tzinfo=UTC), False),  # 08:30 EST
        (dt.datetime(2025, 11, 3, 14, 0, tzinfo=UTC), True),  # 09:00 EST
        (dt.datetime(2026, 3, 7, 13, 59, tzinfo=UTC), False),  # 08:59 EST
        (dt.datetime(2026, 3, 7, 14, 0, tzinfo=UTC), True),  # 09:00 EST
        (dt.datetime(2026, 3, 9, 12, 59, tzinfo=UTC), False),  # 08:59 EDT
        (dt.datetime(2026, 3, 9, 13, 0, tzinfo=UTC), True),  # 09:00 EDT
        (dt.datetime(2026, 3, 10, 3, 30, tzinfo=UTC), True),  # 23:30 EDT on the 9th
    ]
    for now, expected in cases:
        assert reminders.is_digest_time(w.tenant, now) is expected, now
    # The digest's date is the local date, not the UTC one.
    task(w, "Due on the 9th", dt.date(2026, 3, 9))
    with tenant_context(w.tenant):
        reminders.sweep(w.tenant, dt.datetime(2026, 3, 10, 3, 30, tzinfo=UTC))
        assert list(ReminderDigest.objects.values_list("for_date", flat=True)) == [
            dt.date(2026, 3, 9)
        ]


def test_weekends_are_skipped_when_the_tenant_says_so(world):
    task(world, "Due Monday", dt.date(2026, 12, 7))
    saturday = dt.datetime(2026, 12, 5, 17, 0, tzinfo=UTC)
    assert not sweep(world, saturday).built
    Tenant.objects.filter(pk=world.tenant.pk).update(skip_weekends=False)
    world.tenant.refresh_from_db()
    assert sweep(world, saturday).sent == 1


def test_opt_outs_per_kind_and_unsubscribe_without_signing_in(world):
    task(world, "Due today", TODAY)
    task(world, "Overdue", TODAY - dt.timedelta(days=3))
    with tenant_context(world.tenant):
        reminders.set_preferences(world.contact.email, {"due_soon", "overdue", "blocked"})
    sweep(world)
    assert items_by_recipient(world) == {world.contact.email: {("overdue", "Overdue")}}
    url = mail.outbox[0].body.split("Unsubscribe from all reminders: ")[1].split()[0]
    path = url.split(":8000", 1)[1]
    anonymous = Client(HTTP_HOST=world.host)
    assert anonymous.get(path).status_code == 200  # a scanner's GET changes nothing
    with tenant_context(world.tenant):
        assert not NotificationOptOut.objects.filter(kind="all").exists()
    assert anonymous.post(path).status_code == 200
    with tenant_context(world.tenant):
        assert NotificationOptOut.objects.filter(email=world.contact.email, kind="all").exists()
    # The same token on another tenant's host is a 404, like a made-up one.
    other = build_world("bravo", tasks=0)
    assert Client(HTTP_HOST=other.host).get(path).status_code == 404
    assert anonymous.get("/notifications/unsubscribe/forged/").status_code == 404


def test_preferences_page_for_a_signed_in_user(world):
    client = client_for(world, world.client)
    page = client.get("/notifications/")
    assert page.status_code == 200 and "Overdue" in page.text
    saved = client.post("/notifications/", {"kinds": ["due_today"]}, follow=True)
    assert "Saved. Your daily reminder email will contain only what is ticked." in saved.text
    none = client.post("/notifications/", {}, follow=True)
    assert "Saved. You will get no reminder emails." in none.text
    client.post("/notifications/", {"kinds": ["due_today"]})
    with tenant_context(world.tenant):
        assert reminders.opted_out_kinds(world.client.email) == {
            "due_soon",
            "overdue",
            "blocked",
            "milestone",
        }


class RefusingBackend:
    def __init__(self, error):
        self.error = error
        self.sent = 0

    def open(self):
        return True

    def close(self):
        pass

    def send_messages(self, messages):
        if self.error:
            raise self.error
        self.sent += len(messages)
        return len(messages)


def test_refused_mail_is_retried_with_backoff_then_marked_failed(world):
    task(world, "Due today", TODAY)
    backend = RefusingBackend(smtplib.SMTPDataError(451, b"try later"))
    with mock.patch("onboarding.mail_delivery.mailers") as mailers:
        mailers.default = backend
        now = NOON
        result = sweep(world, now)
        assert (result.sent, result.retried) == (0, 1)
        with tenant_context(world.tenant):
            digest = ReminderDigest.objects.get()
        assert digest.state == "pending" and digest.attempts == 1
        assert digest.next_attempt_at == now + reminders.RETRY_BASE
        assert sweep(world, now + dt.timedelta(minutes=1)).retried == 0  # not due yet
        for _ in range(2, reminders.MAX_ATTEMPTS + 1):
            with tenant_context(world.tenant):
                digest = ReminderDigest.objects.get()
            sweep(world, digest.next_attempt_at)
        with tenant_context(world.tenant):
            digest = ReminderDigest.objects.get()
        assert digest.state == "failed" and digest.attempts == reminders.MAX_ATTEMPTS
        assert "try later" in digest.last_error
        sweep(world, digest.next_attempt_at + dt.timedelta(days=1, hours=-5))
        with tenant_context(world.tenant):
            assert ReminderDigest.objects.get(pk=digest.pk).attempts == reminders.MAX_ATTEMPTS
    admin = client_for(world, world.csm).get("/notifications/problems/")
    assert world.contact.email in admin.text and "Failed" in admin.text


def test_a_connection_lost_mid_send_is_never_resent(world):
    task(world, "Due today", TODAY)
    backend = RefusingBackend(smtplib.SMTPServerDisconnected("gone after DATA"))
    with mock.patch("onboarding.mail_delivery.mailers") as mailers:
        mailers.default = backend
        assert sweep(world).uncertain == 1
        backend.error = None
        sweep(world, NOON + dt.timedelta(hours=1))
    assert backend.sent == 0
    with tenant_context(world.tenant):
        assert ReminderDigest.objects.get().state == "uncertain"


@pytest.fixture
def recording_sent_fails(db):
    """A real database error on the UPDATE that records a digest as sent."""
    table = ReminderDigest._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION refuse_sent() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'lock timeout (test)'; END $$"
            )
            cursor.execute(
                f"CREATE TRIGGER refuse_sent BEFORE UPDATE ON {table} FOR EACH ROW "
                "WHEN (NEW.state = 'sent') EXECUTE FUNCTION refuse_sent()"
            )
        else:
            cursor.execute(
                f"CREATE TRIGGER refuse_sent BEFORE UPDATE ON {table} "
                "WHEN NEW.state = 'sent' BEGIN SELECT RAISE(ABORT, 'lock timeout (test)'); END"
            )
    yield
    with connection.cursor() as cursor:
        cursor.execute(
            f"DROP TRIGGER refuse_sent{' ON ' + table if connection.vendor == 'postgresql' else ''}"
        )


def test_a_database_error_after_the_server_took_the_digest_never_resends_it(
    world, recording_sent_fails
):
    task(world, "Due today", TODAY)
    assert sweep(world).uncertain == 1
    assert [m.to for m in mail.outbox] == [[world.contact.email]]
    # The next sending round, once the claim's lease has run out (it runs from the real time of
    # the claim), finds it claimed and unrecorded: uncertain, never resent.
    sweep(world, NOON + dt.timedelta(minutes=5))
    with tenant_context(world.tenant):
        assert ReminderDigest.objects.get().state == "sending"
        later = timezone.now() + reminders.SENDING_LEASE + dt.timedelta(minutes=1)
        assert reminders.send_pending(world.tenant, later) == (0, 0, 0, 1)
    assert len(mail.outbox) == 1
    with tenant_context(world.tenant):
        assert ReminderDigest.objects.get().state == "uncertain"


def test_an_admin_sends_an_uncertain_digest_again_once(world, django_capture_on_commit_callbacks):
    task(world, "Due today", TODAY)
    backend = RefusingBackend(smtplib.SMTPServerDisconnected("gone after DATA"))
    with mock.patch("onboarding.mail_delivery.mailers") as mailers:
        mailers.default = backend
        assert sweep(world).uncertain == 1
    with tenant_context(world.tenant):
        digest = ReminderDigest.objects.get()
    url = f"/notifications/problems/digests/{digest.pk}/send-again/"
    assert client_for(world, world.viewer).post(url).status_code == 404  # admins and CSMs only
    with tenant_context(world.tenant):
        assert ReminderDigest.objects.get().state == "uncertain"
    csm = client_for(world, world.csm)
    page = csm.get("/notifications/problems/").text
    assert world.contact.email in page and url in page
    with django_capture_on_commit_callbacks(execute=True):  # the worker's task runs at commit
        response = csm.post(url, follow=True)
    assert response.status_code == 200 and "sent again" in response.text
    # (The sweep runs at the real time, so the real day's digest may go out with it.)
    resent = [m for m in mail.outbox if m.subject.endswith("for Thu Dec 3")]
    assert [m.to for m in resent] == [[world.contact.email]]
    assert "Due today" in resent[0].body
    with tenant_context(world.tenant):
        digest.refresh_from_db()
    assert (digest.state, digest.attempts) == ("sent", 1)
    # Sent now, so a second click (or a stale page) finds nothing to send again.
    again = csm.post(url, follow=True)
    assert again.status_code == 200 and "nothing was changed" in again.text
    assert csm.get("/notifications/problems/").text.count(url) == 0
    assert len([m for m in mail.outbox if m.subject.endswith("for Thu Dec 3")]) == 1


def test_a_digest_sent_later_leaves_out_what_was_done_since(world):
    done = task(world, "Done since", TODAY)
    open_one = task(world, "Still open", TODAY)
    backend = RefusingBackend(smtplib.SMTPDataError(451, b"try later"))
    with mock.patch("onboarding.mail_delivery.mailers") as mailers:
        mailers.default = backend
        assert sweep(world).retried == 1  # built with both, not sent
    with tenant_context(world.tenant):
        Task.objects.filter(pk=done.pk).update(status="complete")
        digest = ReminderDigest.objects.get()
    with tenant_context(world.tenant):
        reminders.send_pending(world.tenant, digest.next_attempt_at)
    [message] = mail.outbox
    assert open_one.title in message.body and done.title not in message.body
    assert message.subject.startswith("1 onboarding reminder for")


def test_a_digest_whose_items_are_all_done_is_not_sent(world):
    t = task(world, "Done since", TODAY)
    backend = RefusingBackend(smtplib.SMTPDataError(451, b"try later"))
    with mock.patch("onboarding.mail_delivery.mailers") as mailers:
        mailers.default = backend
        sweep(world)
    with tenant_context(world.tenant):
        Task.objects.filter(pk=t.pk).update(status="complete")
        digest = ReminderDigest.objects.get()
        reminders.send_pending(world.tenant, digest.next_attempt_at)
        assert ReminderDigest.objects.get().state == "skipped"
    assert mail.outbox == []


def test_a_sender_that_lost_its_claim_cannot_overwrite_a_newer_one(world):
    task(world, "Due today", TODAY)
    with mock.patch("onboarding.mail_delivery.mailers") as mailers:
        mailers.default = RefusingBackend(smtplib.SMTPDataError(451, b"try later"))
        sweep(world)  # built; the first try failed, so it waits as pending
    with tenant_context(world.tenant):
        first = ReminderDigest.objects.get()
        stalled = reminders._claim(first.pk, first.next_attempt_at)  # then stalls
        later = timezone.now() + reminders.SENDING_LEASE + dt.timedelta(minutes=1)
        assert reminders.send_pending(world.tenant, later) == (0, 0, 0, 1)  # lease ran out
        reminders.send_again(world.tenant, first.pk, world.csm, now=later)
        fresh = reminders._claim(first.pk, later)  # another sender takes it up
        assert fresh is not None and fresh.claimed_at != stalled.claimed_at
        # The stalled sender wakes up and records its failure: it changes nothing.
        reminders._not_sent(stalled, stalled.attempts + 1, later, OSError("late"))
        row = ReminderDigest.objects.get()
        assert (row.state, row.claimed_at) == ("sending", fresh.claimed_at)


def test_an_opt_out_made_after_the_build_holds_at_sending(world):
    """Today's digest waits for a retry; meanwhile the person unsubscribes (the link in an
    earlier digest). The retry sends nothing and says so."""
    task(world, "Due today", TODAY)
    backend = RefusingBackend(smtplib.SMTPDataError(451, b"try later"))
    with mock.patch("onboarding.mail_delivery.mailers") as mailers:
        mailers.default = backend
        assert sweep(world).retried == 1
        with tenant_context(world.tenant):
            reminders.unsubscribe(world.contact.email, "all")
        backend.error = None
        sweep(world, NOON + reminders.RETRY_BASE)
    assert backend.sent == 0
    with tenant_context(world.tenant):
        assert ReminderDigest.objects.get().state == "skipped"


def test_an_address_smtp_cannot_carry_fails_alone_and_the_sweep_goes_on(world, settings):
    """The CRM import accepts josé@...; Django's SMTP backend raises ValueError for it. That
    digest is failed (certainly not sent, and a retry would fail alike); the next one is sent."""
    with tenant_context(world.tenant):
        bad, good = (
            Contact.objects.create(onboarding=world.onboarding, side="customer", name=n, email=e)
            for n, e in (("José", "josé@client.example"), ("Zed", "zed@client.example"))
        )
    task(world, "For José", TODAY, contact=bad)
    task(world, "For Zed", TODAY, contact=good)
    with smtp_sink() as smtp:
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": smtp.port},
            }
        }
        result = sweep(world)
        delivered = [m.rcpt_tos for m in smtp.messages]
    assert (result.sent, result.failed) == (1, 1)
    assert delivered == [("zed@client.example",)]
    with tenant_context(world.tenant):
        states = dict(ReminderDigest.objects.values_list("recipient", "state"))
        assert states == {"josé@client.example": "failed", "zed@client.example": "sent"}
        assert [d.recipient for d in reminders.problem_digests()] == ["josé@client.example"]


def test_a_claim_left_by_a_dead_worker_becomes_uncertain_not_a_second_send(world):
    task(world, "Due today", TODAY)
    with tenant_context(world.tenant):
        reminders.build_digests(world.tenant, TODAY, NOON)
        ReminderDigest.objects.update(state="sending", claimed_at=NOON)
        assert reminders.send_pending(world.tenant, NOON + dt.timedelta(minutes=5)) == (0, 0, 0, 0)
        assert reminders.send_pending(world.tenant, NOON + dt.timedelta(minutes=11)) == (0, 0, 0, 1)
    assert mail.outbox == []


def test_blocking_a_task_records_the_local_day(world):
    t = task(world, "Will block", TODAY + dt.timedelta(days=9))
    with tenant_context(world.tenant):
        update_task(t, {"status": "blocked", "blocked_reason": "Firewall"})
        t.refresh_from_db()
        assert t.blocked_on == world.tenant.local_today()
        update_task(t, {"status": "in_progress"})
        t.refresh_from_db()
        assert t.blocked_on is None


def test_building_is_set_based(world, django_assert_max_num_queries):
    for i in range(30):
        task(world, f"T{i}", TODAY + dt.timedelta(days=i % 5))
    with tenant_context(world.tenant), django_assert_max_num_queries(12):
        reminders.build_digests(world.tenant, TODAY, NOON)


def test_sending_reads_the_tenant_domains_once_not_per_link(world):
    """Every digest has several links to the tenant's canonical host; the host is looked up once
    for the whole send, not once per link per digest."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from accounts.models import TenantDomain

    TenantDomain.objects.create(
        tenant=world.tenant,
        domain="portal.alpha.example",
        is_primary=True,
        verified_at=timezone.now(),
    )
    with tenant_context(world.tenant):
        for i in range(3):
            person = Contact.objects.create(
                onboarding=world.onboarding, side="customer", name=f"P{i}", email=f"p{i}@c.example"
            )
            task(world, f"T{i}", TODAY, contact=person)
        reminders.build_digests(world.tenant, TODAY, NOON)
        tenant = Tenant.objects.get(pk=world.tenant.pk)  # as the worker loads it
        with CaptureQueriesContext(connection) as ctx:
            sent = reminders.send_pending(tenant, NOON)
    assert sent[0] == 3
    domain_table = TenantDomain._meta.db_table
    assert sum(domain_table in q["sql"] for q in ctx.captured_queries) == 1
    assert all("://portal.alpha.example/" in m.body for m in mail.outbox[-3:])


def test_an_item_whose_task_vanished_during_the_build_is_left_out(world):
    """Items have no database-level foreign keys: a task deleted while the day's build ran can
    leave its item behind. The digest leaves it out; a digest left with nothing is not sent."""
    from django.db import connection

    kept = task(world, "Still here", TODAY)
    gone = task(world, "Deleted mid-build", TODAY + dt.timedelta(days=1))
    lone = task(world, "Only item", TODAY, side="vendor", contact=None)  # to the CSM
    with tenant_context(world.tenant):
        assert reminders.build_digests(world.tenant, TODAY, NOON) == 3
    with connection.cursor() as cursor:  # as a concurrent delete that the build did not see
        for t in (gone, lone):
            cursor.execute(f"DELETE FROM {Task._meta.db_table} WHERE id = %s", [t.pk])  # noqa: S608
    mail.outbox.clear()
    with tenant_context(world.tenant):
        sent = reminders.send_pending(world.tenant, NOON)
    assert sent == (1, 0, 0, 0)
    (message,) = mail.outbox
    assert message.to == [world.contact.email.lower()]
    assert kept.title in message.body and gone.title not in message.body
    assert "1 onboarding reminder " in message.subject
