"""The CSM workspace end to end, in Chromium: one onboarding from a blocked handoff to its close.

A CSM signs in with a password and walks a fresh onboarding through every step: the handoff is
incomplete, so moving to kickoff is refused with the missing items shown; the handoff is filled
and the onboarding moves on; the kickoff is scheduled and its outcome recorded (the next step
becomes a task); a requirement becomes a task; the plan gets a task; the customer's IT admin is
invited; training groups, a held session with its recording, material and a trained champion are
recorded; the close review is first refused next to its fields, then saved, which closes the
onboarding (read-only from then on; the QBR invitation parses). Finally the invited client signs in
from the emailed link and the portal shows the closed onboarding, its plan and its training.

Each step is reached through its URL name; a step whose page is not registered fails the walk
with the name of the missing URL. Any console error, uncaught exception or CSP violation fails it
too. Screenshots of every step go to artifacts/ (gitignored).
"""

from __future__ import annotations

import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.db import connections
from django.urls import NoReverseMatch, reverse
from icalendar import Calendar

from onboarding.models import CloseReview, Customer, Onboarding, Playbook, Task, TrainingResource
from onboarding.services.playbooks import start_onboarding
from portal.tenancy.context import tenant_context
from tests.browser import ARTIFACTS, DESKTOP, ConsoleWatch, launch, sign_in
from tests.factories import build_world

pytestmark = pytest.mark.browser


def step_url(name: str, **kwargs) -> str:
    """The path of a workspace page, or a failure naming the page that is not built."""
    try:
        return reverse(f"workspace:{name}", kwargs=kwargs)
    except NoReverseMatch:
        pytest.fail(
            f"The walk needs the URL 'workspace:{name}' (kwargs {sorted(kwargs)}), "
            "which is not registered: that step's page is missing."
        )


def in_db(tenant, query):
    """Run a query in the tenant's scope on another thread: Playwright's sync API runs an event
    loop in this one, where Django refuses database calls."""

    def run():
        try:
            with tenant_context(tenant):
                return query()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def shot(page, name: str) -> None:
    page.screenshot(path=ARTIFACTS / f"walk-{name}.png", full_page=True)


def test_a_csm_walks_one_onboarding_from_a_blocked_handoff_to_its_close(
    sync_api, live_server, settings
):
    port = urlsplit(live_server.url).port
    settings.PORTAL_PORT = str(port)  # emailed links point at the live server
    alpha = build_world("alpha")
    build_world("bravo")  # another tenant on the same server
    with tenant_context(alpha.tenant):
        today = alpha.tenant.local_today()
        onboarding = start_onboarding(
            customer=Customer.objects.create(name="Northwind Traders"),
            playbook=Playbook.objects.get(model="high", is_default=True),
            start_date=today - dt.timedelta(days=30),
            name="Northwind rollout",
            owner=alpha.csm,
        )
    oid = onboarding.pk
    origin = f"http://alpha.localhost:{port}"

    def day(n: int) -> str:
        return (today + dt.timedelta(days=n)).isoformat()

    expect = sync_api.expect
    expect.set_options(timeout=10_000)
    watch = ConsoleWatch()
    mail.outbox.clear()
    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        try:
            context = browser.new_context(viewport=DESKTOP)
            watch.attach(context)
            page = context.new_page()
            sign_in(page, origin, alpha.csm.email)

            # --- 1. Handoff: incomplete, so the move to kickoff is refused with the reason.
            handoff = step_url("handoff", onboarding_id=oid)
            page.goto(origin + handoff)
            expect(page.locator("#handoff-missing")).to_contain_text("Goals")
            expect(page.locator("#handoff-missing")).to_contain_text("Stakeholders")
            page.get_by_label("Move to").select_option("kickoff")
            watch.expect_status(step_url("phase", onboarding_id=oid), 400)
            page.get_by_role("button", name="Move the onboarding").click()
            refusal = page.locator("#completeness .form-error, #completeness .error")
            expect(refusal.first).to_contain_text("The handoff is incomplete")
            expect(refusal.first).to_contain_text("Goals")
            shot(page, "1-handoff-blocked")
            assert in_db(alpha.tenant, lambda: Onboarding.objects.get(pk=oid).status) == (
                "pre_kickoff"
            )

            document = page.locator("#document form")
            document.locator('[name="goals"]').fill("Halve the time to onboard a new store")
            document.locator('[name="commitments"]').fill("SSO live in week two")
            document.locator('[name="risks"]').fill("Small IT team")
            document.locator('[name="contract_value"]').fill("148000")
            document.locator('[name="currency"]').fill("USD")
            document.locator('[name="seats"]').fill("250")
            document.locator('[name="modules"]').fill("Core\nAnalytics")
            document.locator('[name="renewal_date"]').fill(day(335))
            document.locator('[name="account_executive"]').fill("Avery Seller")
            document.get_by_role("button", name="Save the handoff").click()
            page.wait_for_url(re.compile(re.escape(handoff)))
            add = page.locator(f'form[action="{step_url("stakeholder-add", onboarding_id=oid)}"]')
            for side, name, email, role in (
                ("customer", "Dana Whitfield", "dana@northwind.example", "IT admin"),
                ("vendor", "alpha csm", alpha.csm.email, "Onboarding lead"),
            ):
                add.locator('[name="new-side"]').select_option(side)
                add.locator('[name="new-name"]').fill(name)
                add.locator('[name="new-email"]').fill(email)
                add.locator('[name="new-role"]').fill(role)
                add.get_by_role("button", name="Add the stakeholder").click()
                expect(page.locator("#stakeholders")).to_contain_text(name)
                add = page.locator(
                    f'form[action="{step_url("stakeholder-add", onboarding_id=oid)}"]'
                )
            expect(page.locator("#handoff-complete")).to_be_visible()
            page.get_by_label("Move to").select_option("kickoff")
            page.get_by_role("button", name="Move the onboarding").click()
            expect(page.get_by_text("Moved to Kickoff")).to_be_visible()
            shot(page, "1-handoff-complete")
            dana, casey = in_db(
                alpha.tenant,
                lambda: (
                    onboarding.contacts.get(email="dana@northwind.example"),
                    onboarding.contacts.get(side="vendor"),
                ),
            )

            # --- 2. Kickoff: scheduled, then its outcome with one next step.
            page.goto(origin + step_url("kickoff", onboarding_id=oid))
            schedule = page.locator("#schedule form").last
            schedule.locator('[name="date"]').fill(day(1))
            schedule.locator('[name="time"]').fill("10:00")
            schedule.locator('[name="location"]').fill("https://meet.example.com/northwind")
            schedule.get_by_label(re.compile(r"Dana Whitfield")).check()
            schedule.get_by_label(re.compile(r"alpha csm")).check()
            schedule.get_by_role("button", name="Schedule the kickoff").click()
            expect(page.locator("#schedule")).to_contain_text("Download the calendar invitation")
            outcome = page.locator("#outcome form")
            outcome.get_by_label("The customer confirmed the goals").check()
            outcome.get_by_label("Success criteria for day 30").fill("SSO live; 20 admins active")
            outcome.get_by_label("Success criteria for day 60").fill("Three stores onboarded")
            outcome.get_by_label("Success criteria for day 90").fill("All 40 stores on the tool")
            outcome.get_by_label("Definition of done").fill("Stores onboard without us")
            outcome.get_by_label("Communication cadence").fill("Weekly, Tuesdays 10:00")
            outcome.get_by_label("Day-to-day channel").fill("Shared Slack channel")
            outcome.get_by_label("Our escalation contact").select_option(str(casey.pk))
            outcome.get_by_label("The customer's escalation contact").select_option(str(dana.pk))
            outcome.get_by_label("Next step 1", exact=True).fill("Send the SSO metadata")
            outcome.get_by_label("Owner of step 1").select_option(str(dana.pk))
            outcome.get_by_label("Deadline of step 1").fill(day(5))
            outcome.get_by_role("button", name="Record the outcome").click()
            expect(page.locator("#outcome")).to_contain_text("All 40 stores on the tool")
            shot(page, "2-kickoff")

            # --- 3. Requirements: an SSO requirement becomes a task of the plan.
            page.goto(origin + step_url("requirements", onboarding_id=oid))
            new = page.locator("form", has=page.get_by_role("button", name="Add the requirement"))
            new.get_by_label("Category").select_option("security")
            new.get_by_label("Title").fill("Configure SSO with Okta")
            new.get_by_label("Single sign-on (SSO)").check()
            new.get_by_role("button", name="Add the requirement").click()
            item = page.locator(".row", has_text="Configure SSO with Okta")
            item.get_by_label("Owner").select_option(f"contact:{dana.pk}")
            item.get_by_label("Due").fill(day(10))
            item.get_by_role("button", name=re.compile(r"^Make it a task")).click()
            expect(page.locator(".row", has_text="Configure SSO with Okta")).to_contain_text(
                "In the plan"
            )
            shot(page, "3-requirements")

            # --- 4. Plan: a task added in place.
            page.goto(origin + step_url("plan", onboarding_id=oid))
            page.locator("#add-task summary").click()
            form = page.locator("#task-new form")
            form.get_by_label("Title").fill("Import the store list")
            form.get_by_label("Due date").fill(day(12))
            form.get_by_label("Owner side").select_option("customer")
            form.get_by_role("button", name="Add task").click()
            expect(page.get_by_role("heading", name="Import the store list")).to_be_visible()
            expect(page.get_by_role("heading", name="Send the SSO metadata")).to_be_visible()
            expect(page.get_by_role("heading", name="Configure SSO with Okta")).to_be_visible()
            shot(page, "4-plan")

            # --- Stakeholders: the customer's IT admin is invited to the portal.
            page.goto(origin + step_url("stakeholders", onboarding_id=oid))
            invite = page.locator("#invite form")
            invite.get_by_label("Someone already listed").select_option(str(dana.pk))
            invite.get_by_role("button", name="Send invitation").click()
            expect(page.get_by_role("status")).to_contain_text("Invitation sent to Dana Whitfield")
            row = page.locator('tr[data-email="dana@northwind.example"]')
            expect(row).to_contain_text("Not accepted yet")
            expect(row.get_by_test_id("last-seen")).to_have_text("Never")
            shot(page, "stakeholders")
            [invitation] = [m for m in mail.outbox if m.to == ["dana@northwind.example"]]
            link = re.search(r"https?://\S+/portal/sign-in/\S+/", invitation.body).group(0)
            assert urlsplit(link).netloc == f"alpha.localhost:{port}"

            # --- 5. Training: groups, a held session with its recording, material, a champion.
            training = step_url("training", onboarding_id=oid)
            page.goto(origin + training)
            for name, size, level in (
                ("Administrators", "12", "high"),
                ("Store staff", "240", "low"),
            ):
                group = page.locator("#add-group")
                group.get_by_label("Group name").fill(name)
                group.get_by_label("People in the group").fill(size)
                group.get_by_label("Experience").select_option(level)
                group.get_by_role("button", name="Add group").click()
                expect(page.locator("#groups")).to_contain_text(name)
            session = page.locator("#add-session")
            session.get_by_label("Group").select_option(label="Administrators")
            session.get_by_label("Session title").fill("Admin console walkthrough")
            session.get_by_label("Date and time").fill(f"{day(-1)}T10:00")
            session.get_by_label("Live link").fill("https://meet.example.com/admins")
            session.get_by_role("button", name="Schedule session").click()
            expect(page.locator("#groups")).to_contain_text("Admin console walkthrough")
            page.get_by_role("link", name="Edit Admin console walkthrough").click()
            page.get_by_label("The session was held").check()
            page.get_by_label("Recording link").fill("https://video.example.com/admin-console")
            page.get_by_role("button", name="Save", exact=True).click()
            page.wait_for_url(re.compile(re.escape(training)))
            expect(page.get_by_test_id("sessions-held")).to_contain_text("1 of 1")
            material = page.locator("#add-resource")
            material.get_by_label("Title").fill("Store staff quick-start guide")
            material.get_by_label("Kind").select_option("guide")
            material.get_by_label("Link").fill("https://docs.example.com/quick-start")
            material.get_by_label("For").select_option(label="Store staff")
            material.get_by_role("button", name="Add material").click()
            expect(page.locator("#groups")).to_contain_text("Store staff quick-start guide")
            page.get_by_role("button", name="Mark as champion: Dana Whitfield").click()
            page.get_by_role("button", name="Mark trained: Dana Whitfield").click()
            expect(page.get_by_test_id("champions-trained")).to_contain_text("1 of 1")
            shot(page, "5-training")

            # --- 6. Close: refused next to its fields, then saved; read-only afterwards.
            close = step_url("close", onboarding_id=oid)
            page.goto(origin + close)
            expect(page.locator("#close-review")).to_contain_text("All 40 stores on the tool")
            review = page.locator("#close-review form")
            review.get_by_label("Goals for the next quarter").fill("")
            watch.expect_status(close, 400)
            review.get_by_role("button", name=re.compile("close the onboarding")).click()
            expect(page.locator("#id_day90_criteria_met_error")).to_contain_text("required")
            expect(page.locator("#id_usage_at_close_error")).to_be_visible()
            expect(page.locator("#id_qbr_date_error")).to_be_visible()
            expect(page.get_by_label("Usage at close")).to_have_attribute("aria-invalid", "true")
            shot(page, "6-close-refused")
            assert in_db(alpha.tenant, lambda: Onboarding.objects.get(pk=oid).status) != "closed"
            review = page.locator("#close-review form")
            review.get_by_label("Partly met").check()
            review.get_by_label("Usage at close").fill("31 of 40 stores active weekly")
            review.get_by_label("Health score at close").fill("74")
            review.get_by_label("Goals for the next quarter").fill("Roll out to the last 9 stores")
            review.get_by_label("First QBR").fill(day(45))
            review.get_by_role("button", name=re.compile("close the onboarding")).click()
            expect(page.get_by_role("status")).to_contain_text("the onboarding is closed")
            expect(page.locator("main")).to_contain_text("Closed: read-only")
            expect(page.get_by_test_id("qbr-date")).to_contain_text(
                (today + dt.timedelta(days=45)).strftime("%b %-d, %Y")
            )
            shot(page, "6-closed")
            with page.expect_download() as download:
                page.get_by_role("link", name="Calendar invitation (.ics)").click()
            assert download.value.suggested_filename == f"qbr-{oid}.ics"
            [calendar] = Calendar.from_ical(Path(download.value.path()).read_bytes(), multiple=True)
            [event] = calendar.walk("VEVENT")
            review_row = in_db(alpha.tenant, lambda: CloseReview.objects.get(onboarding_id=oid))
            assert str(calendar["METHOD"]) == "REQUEST"
            assert str(event["UID"]) == f"qbr-{review_row.pk}@alpha.localhost"
            page.goto(origin + training)
            expect(page.locator("main")).to_contain_text("This onboarding is closed")
            expect(page.locator("#add")).to_have_count(0)
            expect(page.get_by_role("button", name=re.compile("Mark"))).to_have_count(0)
            shot(page, "6-training-read-only")
            watch.assert_clean()

            # --- The client signs in from the emailed link and sees the closed onboarding.
            client_ctx = browser.new_context(viewport=DESKTOP)
            watch.attach(client_ctx)
            client = client_ctx.new_page()
            client.goto(link)
            client.get_by_role("button", name="Continue to the portal").click()
            client.wait_for_url(f"{origin}/portal/o/{oid}/")
            body = client.locator("main")
            expect(body).to_contain_text("Northwind")
            for title in (
                "Send the SSO metadata",
                "Configure SSO with Okta",
                "Import the store list",
            ):
                expect(client.locator("table.plan")).to_contain_text(title)
            expect(client.locator("#training")).to_contain_text("Administrators")
            expect(client.locator("#training")).to_contain_text(
                "Recording: Admin console walkthrough"
            )
            expect(client.locator("#training")).to_contain_text("Store staff quick-start guide")
            expect(client.locator("#nps")).to_be_visible()  # asked at the close
            shot(client, "7-client-portal")
            watch.assert_clean()

            # The CSM now sees when Dana accepted and last visited.
            page.goto(origin + step_url("stakeholders", onboarding_id=oid))
            row = page.locator('tr[data-email="dana@northwind.example"]')
            expect(row.get_by_test_id("accepted").locator("time")).to_have_count(1)
            expect(row.get_by_test_id("last-seen").locator("time")).to_have_count(1)
            shot(page, "8-stakeholders-after")
            watch.assert_clean()
        except Exception:
            for i, open_page in enumerate(p for c in browser.contexts for p in c.pages):
                open_page.screenshot(path=ARTIFACTS / f"walk-failure-{i}.png", full_page=True)
            raise
        finally:
            browser.close()

    with tenant_context(alpha.tenant):
        closed = Onboarding.objects.get(pk=oid)
        assert closed.status == "closed"
        assert Task.objects.filter(onboarding=closed, title="Send the SSO metadata").exists()
        assert TrainingResource.objects.filter(
            onboarding=closed, title="Recording: Admin console walkthrough", kind="video"
        ).exists()
        assert closed.contacts.get(email="dana@northwind.example").champion_trained_at


def test_an_admin_adjusts_a_playbook_and_running_onboardings_keep_their_plan(sync_api, live_server):
    port = urlsplit(live_server.url).port
    alpha = build_world("alpha")
    origin = f"http://alpha.localhost:{port}"
    running_titles = in_db(
        alpha.tenant, lambda: sorted(alpha.onboarding.tasks.values_list("title", flat=True))
    )
    expect = sync_api.expect
    expect.set_options(timeout=10_000)
    watch = ConsoleWatch()
    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        try:
            context = browser.new_context(viewport=DESKTOP)
            watch.attach(context)
            page = context.new_page()
            sign_in(page, origin, alpha.admin.email)

            page.goto(origin + step_url("playbooks"))
            new = page.locator("#new form")
            new.get_by_label("Start from").select_option(label="High-touch (90 days)")
            new.get_by_label("New playbook's name").fill("Enterprise with migration")
            new.get_by_role("button", name="Create playbook").click()
            expect(page.get_by_role("heading", level=1)).to_contain_text(
                "Enterprise with migration"
            )
            book_path = urlsplit(page.url).path

            task = page.locator("form", has=page.get_by_role("button", name="Add task"))
            task.get_by_label("Task").fill("Validate the migrated orders")
            task.get_by_label("Phase").select_option("setup")
            task.get_by_label("Done by").select_option("customer")
            task.get_by_label("Due on day").fill("120")
            task.get_by_label("Migrate and validate data").check()
            watch.expect_status(book_path, 400)
            task.get_by_role("button", name="Add task").click()
            expect(page.locator("#id_task-due_offset_days_error")).to_contain_text(
                "a high-touch playbook runs 60–90 days"
            )
            shot(page, "playbook-refused")
            task = page.locator("form", has=page.get_by_role("button", name="Add task"))
            task.get_by_label("Due on day").fill("52")
            task.get_by_role("button", name="Add task").click()
            row = page.locator("#tasks tr", has_text="Validate the migrated orders")
            expect(row).to_contain_text("Migrate and validate data")
            expect(page.get_by_test_id("playbook-length")).to_contain_text("90 days")
            shot(page, "playbook-edited")
            watch.assert_clean()
        except Exception:
            for i, open_page in enumerate(p for c in browser.contexts for p in c.pages):
                open_page.screenshot(path=ARTIFACTS / f"playbook-failure-{i}.png", full_page=True)
            raise
        finally:
            browser.close()
    assert (
        in_db(alpha.tenant, lambda: sorted(alpha.onboarding.tasks.values_list("title", flat=True)))
        == running_titles
    )
