"""A client follows the emailed link, does their next step and a training, and the CSM sees it.

Chromium (Debian's) drives the live server on tenant hosts `<slug>.localhost:<port>`. The
invitation goes out the way the product sends it (Celery task, eager in tests, after commit) and
the link is taken from the email body. Any console error or CSP violation fails the test.
Screenshots at desktop size and at 390x844 go to artifacts/ (gitignored).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core import mail

from accounts.services import issue_sign_in_link
from onboarding.models import EngagementEvent, PortalAccess, Task, TrainingCompletion
from onboarding.services.invitations import invite_contact
from portal.tenancy.context import tenant_context
from tests.browser import ARTIFACTS, DESKTOP, PHONE, ConsoleWatch, launch, sign_in
from tests.factories import build_world

pytestmark = pytest.mark.browser


WIDE_ELEMENTS = """
() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('body *')]
    .map((e) => [e, Math.max(e.getBoundingClientRect().right, e.offsetLeft + e.scrollWidth)])
    .filter(([e, right]) => right > width + 0.5)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 8)
    .map(([e, right]) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
      + (e.className ? '.' + e.className : '') + ' right=' + Math.round(right));
  return {width, scrollWidth: document.documentElement.scrollWidth, wide};
}
"""


def rehost(url: str, slug: str) -> str:
    parts = urlsplit(url)
    port = parts.netloc.rsplit(":", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{slug}.localhost:{port}"))


def no_sideways_scroll(page) -> None:
    overflow = page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    if overflow > 0:
        culprits = page.evaluate(WIDE_ELEMENTS)
        raise AssertionError(f"{page.url} scrolls sideways by {overflow}px: {culprits}")


def test_client_from_email_link_does_the_next_step_and_a_training_and_the_csm_sees_both(
    sync_api, live_server, settings, django_capture_on_commit_callbacks
):
    port = urlsplit(live_server.url).port
    settings.PORTAL_PORT = str(port)  # emailed links point at the live server
    alpha = build_world("alpha")
    build_world("bravo")  # another tenant on the same server

    with tenant_context(alpha.tenant):
        first, second = list(
            Task.objects.filter(onboarding=alpha.onboarding, owner_side="customer").order_by(
                "due_date", "position", "id"
            )[:2]
        )
        resource = alpha.onboarding.training_resources.get()
        task_count = alpha.onboarding.tasks.count()
    mail.outbox.clear()
    with tenant_context(alpha.tenant), django_capture_on_commit_callbacks(execute=True):
        invite_contact(alpha.tenant, alpha.contact)
    [invitation] = [m for m in mail.outbox if m.to == [alpha.client.email]]
    link = re.search(r"https?://\S+/portal/sign-in/\S+/", invitation.body).group(0)
    assert urlsplit(link).netloc == f"alpha.localhost:{port}"
    # A second, fresh link of the same client, to try on the other tenant's host at the end.
    spare_link = issue_sign_in_link(alpha.tenant, alpha.client)
    origin = f"http://alpha.localhost:{port}"
    onboarding_path = f"/portal/o/{alpha.onboarding.pk}/"

    expect = sync_api.expect
    watch = ConsoleWatch()
    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        try:
            client_ctx = browser.new_context(viewport=DESKTOP)
            watch.attach(client_ctx)
            page = client_ctx.new_page()

            # The emailed link shows a confirm button; pressing it signs in.
            assert page.goto(link).status == 200
            expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Alpha Corp")
            page.screenshot(path=ARTIFACTS / "client-sign-in-desktop.png", full_page=True)
            page.get_by_role("button", name="Continue to the portal").click()
            page.wait_for_url(f"{origin}{onboarding_path}")

            # One clear next step at the top: the earliest open task of the client's side.
            next_step = page.get_by_test_id("next-step")
            expect(next_step).to_contain_text("Your next step:")
            expect(next_step).to_contain_text(first.title)
            expect(page.locator("table.plan tbody tr")).to_have_count(task_count)  # both sides
            page.screenshot(path=ARTIFACTS / "client-portal-desktop.png", full_page=True)

            # Complete it with the status form; the next step moves on.
            next_step.get_by_role("button", name="Mark as complete").click()
            page.wait_for_url(f"{origin}{onboarding_path}")
            expect(page.get_by_role("status")).to_contain_text(f"“{first.title}” is now complete")
            expect(page.get_by_test_id("next-step")).to_contain_text(second.title)
            expect(page.locator(f"#task-{first.pk} .badge")).to_have_text("Complete")

            # Mark the training resource done.
            page.get_by_role("button", name=f"Mark as done: {resource.title}").click()
            page.wait_for_url(re.compile(re.escape(onboarding_path)))
            expect(page.locator(f"#resource-{resource.pk}")).to_contain_text("Done")
            expect(page.locator("#training")).to_contain_text("You have completed 1 of 1.")

            # The task page: blocked needs a reason, shown next to the field; comment; upload.
            page.goto(f"{origin}{onboarding_path}tasks/{second.pk}/")
            reason_box = page.get_by_label("If blocked: what blocks it?")
            expect(reason_box).to_be_hidden()  # portal.js: only relevant once "Blocked" is chosen
            page.get_by_label("Blocked", exact=True).check()
            expect(reason_box).to_be_visible()
            watch.expect_status(f"/tasks/{second.pk}/status/", 400)
            page.get_by_role("button", name="Save status").click()
            expect(page.locator("#blocked-reason-field .field-error")).to_have_text(
                "Say what blocks the task."
            )
            expect(reason_box).to_have_attribute("aria-invalid", "true")
            page.get_by_label("If blocked: what blocks it?").fill("Waiting for our IT team")
            page.get_by_role("button", name="Save status").click()
            expect(page.get_by_role("status")).to_contain_text("is now blocked")
            page.get_by_label("Add a comment").fill("IT is on it this week.")
            page.get_by_role("button", name="Post comment").click()
            expect(page.locator("#comments")).to_contain_text("IT is on it this week.")
            page.get_by_label("Attach a file").set_input_files(
                {
                    "name": "network-diagram.pdf",
                    "mimeType": "application/pdf",
                    "buffer": b"%PDF-1.4\n%test\n",
                }  # fmt: skip
            )
            page.get_by_role("button", name="Upload").click()
            expect(page.locator("#files")).to_contain_text("network-diagram.pdf")
            page.screenshot(path=ARTIFACTS / "client-task-desktop.png", full_page=True)

            # The same pages on a phone.
            phone_ctx = browser.new_context(
                viewport=PHONE,
                device_scale_factor=2,
                is_mobile=True,
                has_touch=True,
                storage_state=client_ctx.storage_state(),
            )
            watch.attach(phone_ctx)
            phone = phone_ctx.new_page()
            phone.goto(f"{origin}{onboarding_path}")
            expect(phone.get_by_test_id("next-step")).to_contain_text(second.title)
            expect(phone.get_by_test_id("next-step")).to_contain_text("Blocked")
            no_sideways_scroll(phone)
            phone.screenshot(path=ARTIFACTS / "client-portal-phone.png", full_page=True)
            phone.goto(f"{origin}{onboarding_path}tasks/{second.pk}/")
            no_sideways_scroll(phone)
            phone.screenshot(path=ARTIFACTS / "client-task-phone.png", full_page=True)
            phone_ctx.close()

            # The CSM signs in with a password on the same tenant and sees what the client did.
            csm_ctx = browser.new_context(viewport=DESKTOP)
            watch.attach(csm_ctx)
            csm = csm_ctx.new_page()
            sign_in(csm, origin, alpha.csm.email)
            csm.goto(f"{origin}/app/onboardings/{alpha.onboarding.pk}/")
            expect(csm.locator("tr.status-complete", has_text=first.title)).to_have_count(1)
            expect(csm.locator("tr.status-blocked", has_text=second.title)).to_contain_text(
                "Waiting for our IT team"
            )
            expect(csm.locator(f"#training #resource-{resource.pk}")).to_contain_text("Done")
            expect(csm.locator(f"#training #resource-{resource.pk}")).to_contain_text(
                alpha.contact.name
            )
            row = csm.locator(f'#engagement tr[data-email="{alpha.client.email}"]')
            expect(row.get_by_test_id("last-visit").locator("time")).to_have_count(1)
            expect(row).not_to_contain_text("never signed in")
            expect(csm.locator("#engagement")).to_contain_text("visited the portal")
            expect(csm.locator("#engagement")).to_contain_text("signed in")
            csm.screenshot(path=ARTIFACTS / "csm-onboarding-desktop.png", full_page=True)
            phone_csm = browser.new_context(
                viewport=PHONE, storage_state=csm_ctx.storage_state()
            ).new_page()
            phone_csm.goto(f"{origin}/app/onboardings/{alpha.onboarding.pk}/")
            phone_csm.screenshot(path=ARTIFACTS / "csm-onboarding-phone.png", full_page=True)
            watch.assert_clean()

            # A fresh link of the same client is unknown on another tenant's host.
            stranger = browser.new_context(viewport=DESKTOP).new_page()
            response = stranger.goto(rehost(spare_link, "bravo"))
            assert response.status == 404
            expect(stranger.get_by_role("heading", level=1)).to_contain_text("cannot be used")
            assert "Alpha" not in stranger.content()
            stranger.screenshot(path=ARTIFACTS / "client-link-other-tenant.png", full_page=True)
        finally:
            browser.close()

    with tenant_context(alpha.tenant):
        assert Task.objects.get(pk=first.pk).status == "complete"
        assert TrainingCompletion.objects.filter(resource=resource, user=alpha.client).count() == 1
        kinds = set(
            EngagementEvent.objects.filter(user=alpha.client).values_list("kind", flat=True)
        )
        assert {"sign_in", "visit"} <= kinds
        assert PortalAccess.objects.get(user=alpha.client).accepted_at is not None
