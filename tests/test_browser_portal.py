"""A customer stakeholder follows a sign-in link into the vendor's branded portal, in Chromium.

The HubSpot export in ../shared/cases is imported into a tenant, `invite_link` prints a link for
Dana Whitfield, and the browser must show Northwind's high-touch plan in that tenant's colours and
name, and nothing of the other deals in the file. The link signs in once, and only on its tenant's
host. Screenshots go to artifacts/ (gitignored).
"""

from __future__ import annotations

import io
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.core.management import call_command
from django.db import connections

from accounts.services import create_tenant
from tests.browser import ARTIFACTS, REPO_ROOT, launch

pytestmark = pytest.mark.browser

HUBSPOT_CSV = REPO_ROOT.parent / "shared" / "cases" / "hubspot-deals.csv"

BRAND = "#0f766e"  # teal; the default brand is #1f4e79, so a match proves the tenant's colour
BRAND_RGB = "rgb(15, 118, 110)"
PORTAL_NAME = "Harbor Customer Hub"
DANA = "dana.whitfield@northwind.example"


def _rehost(url: str, slug: str) -> str:
    parts = urlsplit(url)
    host, _, port = parts.netloc.partition(":")
    return urlunsplit(parts._replace(netloc=f"{slug}.localhost:{port}"))


@pytest.fixture
def sync_api(sync_api):
    if not HUBSPOT_CSV.exists():
        pytest.skip(f"{HUBSPOT_CSV} is missing")
    return sync_api


def test_invite_link_opens_northwinds_high_touch_plan_in_the_tenants_branded_portal(
    sync_api, live_server, settings
):
    # Links are built from settings, never from a request: make them point at the live server.
    port = urlsplit(live_server.url).port
    settings.PORTAL_PORT = str(port)

    tenant = create_tenant(name="Harbor Analytics", slug="harbor")
    tenant.portal_name = PORTAL_NAME
    tenant.primary_color = BRAND
    tenant.accent_color = "#e11d48"
    tenant.save()
    create_tenant(name="Other Vendor", slug="othervendor")

    out = io.StringIO()
    call_command("import_handoffs", str(HUBSPOT_CSV), tenant="harbor", stdout=out)
    assert "3 created" in out.getvalue(), out.getvalue()

    link = _invite_link()
    assert re.fullmatch(rf"http://harbor\.localhost:{port}/portal/sign-in/[\w-]+/", link), link

    expect = sync_api.expect
    # Playwright's sync API runs an event loop in this thread, so Django refuses ORM calls here
    # until it exits; _off_thread() runs a command in a thread of its own.
    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        try:
            desktop = browser.new_context(viewport={"width": 1280, "height": 800})
            page = desktop.new_page()

            # The confirm page: a GET shows a button and does not use the link up.
            for _ in range(2):
                response = page.goto(link)
                assert response.status == 200
                expect(page.get_by_role("heading", level=1)).to_have_text(
                    f"Sign in to {PORTAL_NAME}"
                )
            page.screenshot(path=ARTIFACTS / "portal-sign-in-desktop.png", full_page=True)

            # Another browser has the confirm page open too (a mail scanner, a second tab).
            other = browser.new_context(viewport={"width": 1280, "height": 800}).new_page()
            assert other.goto(link).status == 200

            page.get_by_role("button", name="Continue to the portal").click()
            page.wait_for_url(re.compile(r"/portal/o/\d+/$"))
            assert urlsplit(page.url).netloc == f"harbor.localhost:{port}"
            _assert_northwind_portal(page, expect)
            page.screenshot(path=ARTIFACTS / "portal-desktop.png", full_page=True)

            # Used once: the other browser's button, and any later visit, find it unusable.
            other.get_by_role("button", name="Continue to the portal").click()
            expect(other.get_by_role("heading", level=1)).to_contain_text("cannot be used")
            assert "/portal/o/" not in other.url
            response = other.goto(link)
            assert response.status == 404
            expect(other.get_by_role("heading", level=1)).to_contain_text("cannot be used")
            other.screenshot(path=ARTIFACTS / "portal-link-used.png", full_page=True)

            # A new link, unused, is unknown on another tenant's host...
            spare_link = _off_thread(_invite_link)
            assert spare_link != link
            response = other.goto(_rehost(spare_link, "othervendor"))
            assert response.status == 404
            assert PORTAL_NAME not in other.content()
            # ...and was not used up by that visit: it still signs in on its own host, on a phone.
            phone = browser.new_context(
                viewport={"width": 390, "height": 844},
                device_scale_factor=2,
                is_mobile=True,
                has_touch=True,
            ).new_page()
            assert phone.goto(spare_link).status == 200
            phone.get_by_role("button", name="Continue to the portal").click()
            phone.wait_for_url(re.compile(r"/portal/o/\d+/$"))
            _assert_northwind_portal(phone, expect)
            phone.screenshot(path=ARTIFACTS / "portal-phone.png", full_page=True)
            overflow = phone.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"the phone page scrolls sideways by {overflow}px"
        finally:
            browser.close()


def _invite_link() -> str:
    out = io.StringIO()
    call_command("invite_link", tenant="harbor", email=DANA, stdout=out)
    return out.getvalue().strip()


def _off_thread(func):
    def run():
        try:
            return func()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result(timeout=60)


def _assert_northwind_portal(page, expect) -> None:
    expect(page).to_have_title(f"Northwind Traders · {PORTAL_NAME}")
    expect(page.locator(".topbar .brand")).to_have_text(PORTAL_NAME)
    background = page.eval_on_selector(".topbar", "e => getComputedStyle(e).backgroundColor")
    assert background == BRAND_RGB

    eyebrow = page.locator(".hero .eyebrow")
    expect(eyebrow).to_contain_text("Northwind Traders")
    expect(eyebrow).to_contain_text("High-touch")
    expect(page.get_by_role("heading", level=1)).to_have_text("Northwind Traders - Platform")

    next_step = page.get_by_test_id("next-step")
    expect(next_step).to_be_visible()
    expect(next_step).to_contain_text("Your next step:")
    expect(next_step).to_contain_text("Dana Whitfield")

    assert page.locator(".timeline li").count() > 0
    plan_rows = page.locator("table.plan tbody tr").count()
    assert plan_rows > 10, plan_rows

    text = page.locator("body").inner_text()
    for other_deal in ("Contoso", "Fabrikam", "Tailspin"):
        assert other_deal not in text
