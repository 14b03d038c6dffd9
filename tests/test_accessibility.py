"""axe-core scans every portal page and the CSM's workspace pages in Chromium.

No violation of impact "serious" or "critical" is allowed anywhere. The scan covers the states a
client meets: the sign-in confirm page, an unusable link, the list of several onboardings, an open
onboarding (with welcome, key contacts, training, knowledge base and FAQ), a task with a refused
form, a vendor-side task, a closed onboarding asking the NPS question and the same after answering,
each at desktop and phone size; then the workspace list and detail with engagement data.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import urlsplit

import pytest
from django.utils import timezone

from accounts.services import issue_sign_in_link
from onboarding.models import (
    Contact,
    FaqEntry,
    KeyContact,
    Onboarding,
    Playbook,
    Task,
    TaskComment,
    TrainingResource,
)
from onboarding.services import portal as portal_services
from onboarding.services.invitations import invite_contact
from onboarding.services.playbooks import start_onboarding
from portal.tenancy.context import tenant_context
from tests.browser import ARTIFACTS, DESKTOP, PHONE, launch
from tests.factories import PASSWORD, build_world

pytestmark = pytest.mark.browser

BLOCKING = {"serious", "critical"}
SIZES = {"desktop": DESKTOP, "phone": PHONE}


def blocking_violations(axe, page, label: str, minor: list[str] | None = None) -> list[str]:
    results = axe.run(page)
    assert results.response["passes"], f"{label}: axe ran no rule"
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] not in BLOCKING:
            if minor is not None:
                minor.append(f"{label}: {violation['id']} ({violation['impact']})")
            continue
        targets = [
            f"    {', '.join(map(str, node['target']))}: {node.get('failureSummary', '')}"
            for node in violation["nodes"][:5]
        ]
        found.append(
            f"{label}: {violation['id']} ({violation['impact']}) {violation['help']}\n"
            + "\n".join(targets)
        )
    return found


def seed(world) -> dict:
    """Everything a page can show, so the scan sees every component."""
    with tenant_context(world.tenant):
        world.tenant.welcome_message = "Welcome aboard! Here is **how we work**:\n\n- one\n- two"
        world.tenant.save()
        KeyContact.objects.create(
            name="Kim Key", role="Head of Customer Success", email="kim@alpha.example",
            phone="+1 555 0100",
        )  # fmt: skip
        FaqEntry.objects.create(question="How do I add users?", answer="From Settings.\n\nEasy.")
        TrainingResource.objects.create(
            onboarding=world.onboarding, title="Admin course", audience="Admins",
            url="https://example.com/admin",
        )  # fmt: skip
        TrainingResource.objects.create(
            onboarding=world.onboarding, title="Kickoff recording", kind="session",
            url="https://example.com/rec", audience="Admins",
        )  # fmt: skip
        TrainingResource.objects.create(
            onboarding=world.onboarding, title="Help centre", kind="kb",
            url="https://help.example.com",
        )  # fmt: skip
        customer_task = (
            Task.objects.filter(onboarding=world.onboarding, owner_side="customer")
            .order_by("due_date", "id")
            .first()
        )
        vendor_task = Task.objects.filter(onboarding=world.onboarding, owner_side="vendor").first()
        TaskComment.objects.create(task=customer_task, author=world.csm, body="Ping us anytime.")
        portal_services.client_update_task_status(
            world.client,
            Task.objects.filter(onboarding=world.onboarding, owner_side="customer")
            .order_by("-due_date")
            .first(),
            status="blocked",
            blocked_reason="Waiting for the security review",
        )
        closed = start_onboarding(
            customer=world.customer,
            playbook=Playbook.objects.get(model="low", is_default=True),
            start_date=world.onboarding.start_date - dt.timedelta(days=60),
            name="Analytics add-on",
        )
        contact = Contact.objects.create(
            onboarding=closed, side="customer", name="alpha client", email=world.client.email
        )
        invite_contact(world.tenant, contact, send_email=False)
        Task.objects.filter(onboarding=closed).update(
            status="complete", completed_at=timezone.now()
        )
        Onboarding.objects.filter(pk=closed.pk).update(status="closed")
        portal_services.record_event(world.client, "visit", world.onboarding)
    return {
        "customer_task": customer_task.pk,
        "vendor_task": vendor_task.pk,
        "closed": closed.pk,
    }


def test_portal_and_workspace_pages_have_no_serious_or_critical_violations(
    sync_api, live_server, settings
):
    from axe_playwright_python.sync_playwright import Axe

    port = urlsplit(live_server.url).port
    settings.PORTAL_PORT = str(port)
    world = build_world("alpha")
    ids = seed(world)
    links = [issue_sign_in_link(world.tenant, world.client) for _ in SIZES]
    confirm_link = issue_sign_in_link(world.tenant, world.client)
    origin = f"http://alpha.localhost:{port}"
    ob = f"{origin}/portal/o/{world.onboarding.pk}/"
    closed = f"{origin}/portal/o/{ids['closed']}/"

    axe = Axe()
    problems: list[str] = []
    minor: list[str] = []
    scanned: list[str] = []

    def scan(page, label: str) -> None:
        scanned.append(label)
        problems.extend(blocking_violations(axe, page, label, minor))
        # On a phone nothing may widen the page: wide tables and charts scroll in their boxes.
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > page.viewport_size["width"]:
            problems.append(f"{label}: the page is {width}px wide, wider than the screen")
        name = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
        page.screenshot(path=ARTIFACTS / f"a11y-{name}.png", full_page=True)

    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        try:
            for (size, viewport), link in zip(SIZES.items(), links, strict=True):
                page = browser.new_context(viewport=viewport).new_page()

                assert page.goto(confirm_link).status == 200
                if size == "desktop":
                    # Control: under the page's CSP axe runs and catches a planted violation.
                    page.evaluate(
                        "document.querySelector('main').insertAdjacentHTML('beforeend',"
                        " '<img id=planted src=/static/none.png>')"
                    )
                    planted = blocking_violations(axe, page, "control")
                    assert any("image-alt" in p and "#planted" in p for p in planted), planted
                    page.goto(confirm_link)
                scan(page, f"{size} sign-in confirm")
                assert page.goto(f"{origin}/portal/sign-in/not-a-real-token/").status == 404
                scan(page, f"{size} invalid link")
                # The other ways in, as a signed-out visitor sees them.
                page.goto(f"{origin}/sign-in/")
                scan(page, f"{size} customer sign-in by code")
                page.goto(f"{origin}/accounts/login/")
                scan(page, f"{size} team sign-in")

                page.goto(link)
                page.get_by_role("button", name="Continue to the portal").click()
                page.wait_for_url(f"{origin}/portal/")  # several onboardings: the list
                scan(page, f"{size} index with several onboardings")

                page.goto(ob)
                scan(page, f"{size} onboarding page")
                page.locator("details summary").first.click()
                scan(page, f"{size} onboarding page, FAQ open")

                page.goto(f"{ob}tasks/{ids['customer_task']}/")
                scan(page, f"{size} customer task")
                page.get_by_label("Blocked", exact=True).check()
                page.get_by_role("button", name="Save status").click()
                page.locator("#blocked-reason-field .field-error").wait_for()
                scan(page, f"{size} customer task, refused form")
                page.goto(f"{ob}tasks/{ids['vendor_task']}/")
                scan(page, f"{size} vendor task (read-only)")

                page.goto(closed)
                assert page.locator('input[name="score"]').count() == 11
                scan(page, f"{size} closed onboarding, NPS question")
                if size == "phone":  # answer once; the desktop pass saw the question
                    page.get_by_label("8", exact=True).check()
                    page.get_by_label("What is the main reason").fill("Clear plan")
                    page.get_by_role("button", name="Send my answer").click()
                    page.get_by_text("You answered").wait_for()
                    scan(page, f"{size} closed onboarding, NPS answered")

                csm = browser.new_context(viewport=viewport).new_page()
                csm.goto(f"{origin}/accounts/login/")
                csm.locator('input[name="login"]').fill(world.csm.email)
                csm.locator('input[name="password"]').fill(PASSWORD)
                csm.locator('form button[type="submit"]').click()
                csm.wait_for_url(f"{origin}/app/")
                scan(csm, f"{size} workspace list")
                csm.goto(f"{origin}/app/onboardings/{world.onboarding.pk}/")
                assert csm.locator("#engagement").count() == 1
                scan(csm, f"{size} workspace onboarding detail")
                for step in ("handoff", "kickoff", "requirements", "plan", "training", "close"):
                    csm.goto(f"{origin}/app/onboardings/{world.onboarding.pk}/{step}/")
                    scan(csm, f"{size} workspace {step}")
                csm.goto(f"{origin}/app/metrics/")
                scan(csm, f"{size} metrics")
        finally:
            browser.close()

    print(f"axe scanned {len(scanned)} pages:", json.dumps(scanned, indent=1))
    print("moderate and minor findings (not failing):", json.dumps(minor, indent=1))
    assert not problems, "serious or critical accessibility violations:\n" + "\n".join(problems)
