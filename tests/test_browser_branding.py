"""An admin brands a tenant in Chromium, and a client user sees that branding in the portal.

The admin signs in with email and password, uploads a logo, picks colours, writes a welcome in
Markdown (with a javascript: link in it), watches the live preview follow each edit before
saving, saves, adds an FAQ entry and a key contact with a photo. A client user of the tenant then
signs in with a one-time link and the portal shows the logo (decoded: naturalWidth > 0), the
colours (computed styles), the welcome without the hostile link, the FAQ and the contact.

Every page runs under the product's CSP; any console error (a CSP violation, a failed image, a
script error) in any frame fails the test. Screenshots go to artifacts/ (gitignored).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from PIL import Image, ImageDraw

from accounts.branding import text_colour_on
from accounts.services import issue_sign_in_link
from tests.browser import ARTIFACTS, DESKTOP, PHONE, ConsoleWatch, launch, sign_in
from tests.factories import build_world

pytestmark = pytest.mark.browser


PORTAL_NAME = "Acme Launchpad"
BRAND = "#7c3aed"  # violet; the default brand is #1f4e79
BRAND_RGB = "rgb(124, 58, 237)"
ACCENT = "#f59e0b"
ACCENT_RGB = "rgb(245, 158, 11)"
PREVIEW_BRAND = "#0f766e"
PREVIEW_BRAND_RGB = "rgb(15, 118, 110)"
WELCOME = (
    "Welcome to **Acme**! Start with [the quick-start guide](https://docs.example.com/start).\n\n"
    "[Do not click](javascript:alert(document.cookie))"
)
FAQ_QUESTION = "How do we invite the rest of our team?"
CONTACT_NAME = "Priya Natarajan"


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _logo(path: Path) -> Path:
    image = Image.new("RGB", (360, 120), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((8, 8, 112, 112), radius=20, fill=(124, 58, 237))
    draw.polygon([(36, 90), (60, 30), (84, 90)], fill=(245, 158, 11))
    draw.rectangle((130, 40, 340, 56), fill=(30, 30, 30))
    draw.rectangle((130, 68, 290, 80), fill=(120, 120, 120))
    image.save(path, "PNG")
    return path


def _photo(path: Path) -> Path:
    image = Image.new("RGB", (300, 300), (230, 236, 245))
    draw = ImageDraw.Draw(image)
    draw.ellipse((95, 50, 205, 160), fill=(120, 85, 60))
    draw.ellipse((50, 170, 250, 380), fill=(15, 118, 110))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    path.write_bytes(out.getvalue())
    return path


def _image_loaded(locator) -> None:
    locator.wait_for(state="visible")
    loaded = locator.evaluate(
        "img => img.complete ? img.naturalWidth : "
        "new Promise(r => { img.onload = () => r(img.naturalWidth); img.onerror = () => r(0); })"
    )
    assert loaded > 0, locator


def test_an_admin_brands_the_tenant_and_the_client_portal_shows_it(
    sync_api, live_server, settings, tmp_path
):
    port = urlsplit(live_server.url).port
    settings.PORTAL_PORT = str(port)  # links are built from settings, never from a request
    settings.MEDIA_ROOT = tmp_path / "media"
    world = build_world("acme")
    base = f"http://acme.localhost:{port}"
    client_link = issue_sign_in_link(world.tenant, world.client)
    assert client_link.startswith(f"{base}/portal/sign-in/")
    logo, photo = _logo(tmp_path / "logo.png"), _photo(tmp_path / "priya.jpg")
    console = ConsoleWatch()
    expect = sync_api.expect

    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        try:
            admin = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
            console.attach(admin)

            # Sign in with email and password.
            sign_in(admin, base, world.admin.email)

            # Branding: every edit shows in the live preview before anything is saved.
            admin.goto(f"{base}/app/settings/branding/")
            expect(admin.get_by_role("heading", level=1)).to_have_text("Branding")
            preview = admin.frame_locator("#branding-preview")
            expect(preview.locator(".topbar")).to_have_css("background-color", _rgb("#1f4e79"))

            admin.get_by_label("Portal name").fill(PORTAL_NAME)
            admin.get_by_label("Email sender name").fill("Acme Onboarding Team")
            admin.get_by_label("Brand colour").fill(PREVIEW_BRAND)
            expect(preview.locator(".topbar")).to_have_css("background-color", PREVIEW_BRAND_RGB)
            expect(preview.locator(".topbar .brand")).to_contain_text(PORTAL_NAME)
            admin.get_by_label("Brand colour").fill(BRAND)
            admin.get_by_label("Accent colour").fill(ACCENT)
            admin.get_by_label("Welcome message").fill(WELCOME)
            admin.get_by_label("Logo").set_input_files(str(logo))
            expect(preview.locator(".topbar")).to_have_css("background-color", BRAND_RGB)
            expect(preview.locator(".topbar .brand")).to_have_css(
                "color", _rgb(text_colour_on(BRAND))
            )
            expect(preview.locator(".welcome strong")).to_have_text("Acme")
            expect(preview.get_by_text("Do not click")).to_be_visible()
            assert preview.locator(".welcome a[href^='javascript']").count() == 0
            expect(admin.locator("#preview-state")).to_have_text("(unsaved changes)")
            admin.screenshot(path=ARTIFACTS / "branding-live-preview.png", full_page=True)

            admin.get_by_role("button", name="Save branding").click()
            admin.wait_for_url(re.compile(r"/app/settings/branding/$"))
            expect(admin.locator(".flash")).to_contain_text("Branding saved")
            _image_loaded(admin.locator(".logo-current img"))
            _image_loaded(admin.locator(".topbar .brand img"))
            expect(admin.locator(".topbar")).to_have_css("background-color", BRAND_RGB)

            # A hostile colour typed past the picker is refused next to the field.
            admin.evaluate(
                "document.getElementById('id_accent_color').type = 'text';"
                "document.getElementById('id_accent_color').value = 'red;background:url(x)';"
            )
            admin.get_by_role("button", name="Save branding").click()
            expect(admin.locator("#id_accent_color_error")).to_contain_text(
                "Enter a colour as # followed by six hex digits"
            )
            admin.screenshot(path=ARTIFACTS / "branding-colour-refused.png", full_page=True)

            # FAQ entry.
            admin.goto(f"{base}/app/settings/faq/")
            admin.get_by_role("textbox", name="Question").fill(FAQ_QUESTION)
            admin.get_by_role("textbox", name="Answer").fill(
                "Open Settings, then Users, and send invitations."
            )
            admin.get_by_role("button", name="Add question").click()
            expect(admin.locator(".flash")).to_contain_text("Question added")
            expect(admin.locator("ol.rows")).to_contain_text(FAQ_QUESTION)
            admin.screenshot(path=ARTIFACTS / "settings-faq.png", full_page=True)

            # Key contact with a photo; an HTML file posing as a photo is refused first.
            admin.goto(f"{base}/app/settings/contacts/")
            fake = tmp_path / "photo.png"
            fake.write_bytes(b"<html><script>alert(1)</script></html>")
            admin.get_by_role("textbox", name="Name").fill(CONTACT_NAME)
            admin.get_by_label("Photo").set_input_files(str(fake))
            admin.get_by_role("button", name="Add contact").click()
            expect(admin.locator("#id_photo_error")).to_contain_text("not a PNG, JPEG or WebP")
            admin.get_by_role("textbox", name="Role").fill("Onboarding lead")
            admin.get_by_role("textbox", name="Email").fill("priya@acme.example")
            admin.get_by_role("textbox", name="Phone").fill("+1 (555) 010-2030")
            admin.get_by_label("Photo").set_input_files(str(photo))
            admin.get_by_role("button", name="Add contact").click()
            expect(admin.locator(".flash")).to_contain_text(f"{CONTACT_NAME} added")
            _image_loaded(admin.locator("ol.rows img.avatar"))
            admin.screenshot(path=ARTIFACTS / "settings-contacts.png", full_page=True)

            # The preview now shows everything saved: logo, FAQ and the contact with its photo.
            admin.goto(f"{base}/app/settings/branding/")
            _assert_branded_portal(preview, expect)
            admin.screenshot(path=ARTIFACTS / "branding-saved.png", full_page=True)

            # Domains: the DNS record to create.
            admin.goto(f"{base}/app/settings/domains/")
            admin.get_by_label("Domain").fill("portal.acme-corp.example")
            admin.get_by_role("button", name="Add domain").click()
            record = admin.get_by_test_id("dns-record")
            expect(record).to_contain_text("CNAME")
            expect(record).to_contain_text("portal.acme-corp.example")
            expect(record).to_contain_text("acme.localhost")
            admin.screenshot(path=ARTIFACTS / "settings-domains.png", full_page=True)

            phone = browser.new_context(
                viewport=PHONE, device_scale_factor=2, is_mobile=True
            ).new_page()
            console.attach(phone)
            phone.context.add_cookies(admin.context.cookies())
            phone.goto(f"{base}/app/settings/branding/")
            expect(phone.get_by_role("heading", level=1)).to_have_text("Branding")
            phone.screenshot(path=ARTIFACTS / "branding-phone.png", full_page=True)
            overflow = phone.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"the branding page scrolls sideways by {overflow}px"

            # The client user, in a browser of their own, signs in with the emailed link.
            client = browser.new_context(viewport=DESKTOP).new_page()
            console.attach(client)
            client.goto(client_link)
            expect(client.get_by_role("heading", level=1)).to_have_text(f"Sign in to {PORTAL_NAME}")
            _image_loaded(client.locator(".topbar .brand img"))
            client.get_by_role("button", name="Continue to the portal").click()
            client.wait_for_url(re.compile(r"/portal/o/\d+/$"))
            expect(client).to_have_title(re.compile(PORTAL_NAME))
            _assert_branded_portal(client, expect)
            expect(client.locator(".next-step")).to_have_css("border-left-color", ACCENT_RGB)
            client.screenshot(path=ARTIFACTS / "portal-branded.png", full_page=True)
        finally:
            browser.close()

    console.assert_clean()


def _assert_branded_portal(page, expect) -> None:
    """`page` is a Page or the preview's FrameLocator: the same portal template either way."""
    topbar = page.locator(".topbar")
    expect(topbar).to_have_css("background-color", BRAND_RGB)
    expect(page.locator(".topbar .brand")).to_contain_text(PORTAL_NAME)
    expect(page.locator(".topbar .brand")).to_have_css("color", _rgb(text_colour_on(BRAND)))
    _image_loaded(page.locator(".topbar .brand img"))

    welcome = page.locator(".welcome")
    expect(welcome.locator("strong")).to_have_text("Acme")
    expect(welcome.get_by_role("link", name="the quick-start guide")).to_have_attribute(
        "href", "https://docs.example.com/start"
    )
    expect(welcome).to_contain_text("Do not click")
    assert welcome.locator("a[href*='javascript' i]").count() == 0

    expect(page.get_by_text(FAQ_QUESTION)).to_be_visible()

    contacts = page.get_by_test_id("key-contacts")
    expect(contacts).to_contain_text(CONTACT_NAME)
    expect(contacts).to_contain_text("Onboarding lead")
    expect(contacts.get_by_role("link", name="priya@acme.example")).to_have_attribute(
        "href", "mailto:priya@acme.example"
    )
    expect(contacts.get_by_role("link", name="+1 (555) 010-2030")).to_have_attribute(
        "href", "tel:+15550102030"
    )
    _image_loaded(contacts.get_by_role("img", name=f"Photo of {CONTACT_NAME}"))
