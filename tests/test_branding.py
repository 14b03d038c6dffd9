"""Tenant branding in the admin's settings pages, and every hostile input an admin could try.

Each hostile value is either refused, with its message next to the field on the page and nothing
saved, or stored and neutralised where it is shown (Markdown). Also: re-encoded images, readable
text on any accepted brand colour, custom domains, admin-only access, tenant isolation of the
settings URLs, and branded emails whose links use the tenant's stored canonical host.
"""

from __future__ import annotations

import io
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.template.loader import render_to_string
from django.test import Client
from django.urls import URLPattern, reverse
from PIL import Image, PngImagePlugin

from accounts import services_branding as services
from accounts.branding import contrast_ratio, text_colour_on
from accounts.content_safety import MAX_IMAGE_SIDE, render_markdown
from accounts.forms import DOMAIN_TAKEN, WCAG_AA, BrandingForm, clean_brand_colour
from accounts.models import Tenant, TenantDomain
from accounts.urls_settings import urlpatterns as settings_patterns
from onboarding.emails import branded_message
from onboarding.models import FaqEntry, KeyContact
from onboarding.services.invitations import invite_contact
from portal.tenancy.context import tenant_context
from tests.conftest import client_for
from tests.factories import verified_domain
from tests.live import dns_server

BRAND = "#0f766e"
ACCENT = "#e11d48"

# --- files ----------------------------------------------------------------------------------------


def image_bytes(size=(120, 40), colour=(15, 118, 110), fmt="PNG", **save_kwargs) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt, **save_kwargs)
    return out.getvalue()


def jpeg_with_exif() -> bytes:
    exif = Image.Exif()
    exif[0x010E] = "SecretImageDescription"  # ImageDescription
    exif[0x013B] = "SecretArtistName"  # Artist
    return image_bytes(fmt="JPEG", exif=exif.tobytes())


def png_polyglot() -> bytes:
    """A valid PNG carrying HTML in a text chunk and after its end: a browser sniffing it as HTML
    would run the script; Pillow decodes it as an image."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "<html><script>alert('chunk')</script></html>")
    return image_bytes(pnginfo=info) + b"<html><script>alert('trailer')</script></html>"


def noise_png(side: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
    b"<script>alert(document.domain)</script><rect width='10' height='10'/></svg>"
)
HTML_PAGE = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"

NOT_AN_IMAGE = "This file is not a PNG, JPEG or WebP image (SVG is not accepted)."


def upload(name: str, content: bytes, content_type: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type=content_type)


# --- pages ----------------------------------------------------------------------------------------


class _ById(HTMLParser):
    """Text of the element with a given id, and the attributes of every element."""

    def __init__(self, wanted: str):
        super().__init__()
        self.wanted, self.depth, self.text, self.found = wanted, 0, [], False
        self.elements: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        if self.depth:
            self.depth += 1
        elif attrs.get("id") == self.wanted:
            self.found, self.depth = True, 1

    def handle_endtag(self, tag):
        if self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if self.depth:
            self.text.append(data)


def field_error(response, field: str) -> str:
    """The error shown next to a field: the element the field's aria-describedby points at."""
    html = response.content.decode()
    parser = _ById(f"id_{field}_error")
    parser.feed(html)
    assert parser.found, f"no error shown next to {field}"
    [(tag, attrs)] = [(t, a) for t, a in parser.elements if a.get("id") == f"id_{field}"]
    assert f"id_{field}_error" in attrs.get("aria-describedby", ""), attrs
    assert attrs.get("aria-invalid") == "true"
    return " ".join("".join(parser.text).split())


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def stored_files(media) -> list:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


@pytest.fixture
def admin(tenant_a) -> Client:
    return client_for(tenant_a, tenant_a.admin)


def branding_data(**overrides) -> dict:
    data = {
        "portal_name": "Alpha Customer Hub",
        "email_sender_name": "Alpha Onboarding Team",
        "primary_color": BRAND,
        "accent_color": ACCENT,
        "welcome_message": "Welcome aboard!",
        "welcome_video_url": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def fresh(world) -> Tenant:
    return Tenant.objects.get(pk=world.tenant.pk)


def portal_html(world) -> str:
    client = client_for(world, world.client)
    response = client.get(
        reverse("portal:onboarding", kwargs={"onboarding_id": world.onboarding.pk})
    )
    assert response.status_code == 200
    return response.content.decode()


# --- logo -----------------------------------------------------------------------------------------

HOSTILE_LOGOS = {
    "svg with script": (upload("logo.svg", SVG_WITH_SCRIPT, "image/svg+xml"), NOT_AN_IMAGE),
    "svg renamed logo.png": (upload("logo.png", SVG_WITH_SCRIPT, "image/png"), NOT_AN_IMAGE),
    "html renamed logo.png": (upload("logo.png", HTML_PAGE, "image/png"), NOT_AN_IMAGE),
    "gif is not on the list": (
        upload("logo.gif", image_bytes(fmt="GIF"), "image/gif"),
        "Upload a PNG, JPEG or WebP image (SVG is not accepted).",
    ),
    "truncated png": (upload("logo.png", image_bytes()[:60], "image/png"), NOT_AN_IMAGE),
    "too wide": (
        upload("logo.png", image_bytes(size=(MAX_IMAGE_SIDE + 1, 8)), "image/png"),
        f"The image is {MAX_IMAGE_SIDE + 1}x8 pixels; the limit is {MAX_IMAGE_SIDE} per side.",
    ),
    "too many bytes": (
        upload("logo.png", noise_png(1000), "image/png"),
        "The image is larger than 2 MB.",
    ),
}


@pytest.mark.parametrize("case", HOSTILE_LOGOS, ids=list(HOSTILE_LOGOS))
def test_a_hostile_logo_is_refused_next_to_the_field_and_nothing_is_saved(
    case, tenant_a, admin, media
):
    file, message = HOSTILE_LOGOS[case]
    file.seek(0)
    before = fresh(tenant_a)
    response = admin.post(
        reverse("settings:branding"),
        branding_data(primary_color="#7c3aed", portal_name="Changed", logo=file),
    )
    assert response.status_code == 200
    assert field_error(response, "logo") == message
    assert "Nothing was saved" in response.content.decode()
    # Good colours and name with a bad logo: none of it saved, no file written.
    after = fresh(tenant_a)
    assert (after.primary_color, after.portal_name, after.logo.name) == (
        before.primary_color,
        before.portal_name,
        "",
    )
    assert stored_files(media) == []


@pytest.mark.parametrize(
    "content, name, content_type",
    [
        (image_bytes(), "logo.png", "image/png"),
        (jpeg_with_exif(), "logo.jpg", "image/jpeg"),
        (image_bytes(fmt="WEBP"), "logo.webp", "image/webp"),
        (png_polyglot(), "logo.png", "image/png"),
        (image_bytes(), "logo.html", "text/html"),  # name and declared type are ignored
    ],
    ids=["png", "jpeg with exif", "webp", "png polyglot", "png named .html"],
)
def test_a_logo_is_re_encoded_as_a_clean_png_and_served_as_one(
    content, name, content_type, tenant_a, admin, media
):
    response = admin.post(
        reverse("settings:branding"), branding_data(logo=upload(name, content, content_type))
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    tenant = fresh(tenant_a)
    assert tenant.primary_color == BRAND and tenant.portal_name == "Alpha Customer Hub"
    assert tenant.logo.name.startswith("logos/alpha-") and tenant.logo.name.endswith(".png")
    stored = tenant.logo.read()
    assert stored.startswith(b"\x89PNG\r\n\x1a\n")
    for leftover in (b"<script", b"<html", b"Secret", b"Exif", b"tEXt", b"iTXt", b"zTXt"):
        assert leftover not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "PNG" and image.size == (120, 40)
        assert not image.info.get("exif") and "Comment" not in image.info
    served = Client(HTTP_HOST=tenant_a.host).get(reverse("brand-logo"))
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    assert served["X-Content-Type-Options"] == "nosniff"
    assert b"".join(served.streaming_content) == stored


def test_a_large_logo_is_shrunk_and_a_new_logo_replaces_the_old_file(
    tenant_a, admin, media, django_capture_on_commit_callbacks
):
    def post(**data):
        with django_capture_on_commit_callbacks(execute=True):  # old files go on commit
            assert (
                admin.post(reverse("settings:branding"), branding_data(**data)).status_code == 302
            )

    post(logo=upload("a.png", image_bytes(size=(3000, 1000)), "image/png"))
    first = fresh(tenant_a).logo
    with Image.open(first.path) as image:
        assert image.size == (1024, 341)
    post(logo=upload("b.png", image_bytes(), ""))
    second = fresh(tenant_a).logo
    assert second.name != first.name
    assert [p.name for p in stored_files(media)] == [os.path.basename(second.name)]
    post()  # no new upload: the logo stays
    assert fresh(tenant_a).logo.name == second.name
    post(remove_logo="on")
    assert fresh(tenant_a).logo.name == "" and stored_files(media) == []


def test_the_service_refuses_a_logo_that_was_not_re_encoded(tenant_a, media):
    from django.core.files.base import ContentFile

    with pytest.raises(ValidationError):
        services.update_branding(
            tenant_a.tenant,
            **branding_data(),
            logo=ContentFile(SVG_WITH_SCRIPT, name="x.png"),
        )
    assert fresh(tenant_a).logo.name == "" and stored_files(media) == []


# --- colours --------------------------------------------------------------------------------------

HOSTILE_COLOURS = [
    "red;background:url(https://x)",
    "#fff</style><script>alert(1)</script>",
    "#12345g",
    "red",
    "#fff",
    "#ffffff;",
    "#ffffff}body{display:none",
    "rgb(0,0,0)",
    "var(--x)",
    "",
]


@pytest.mark.parametrize("field", ["primary_color", "accent_color"])
@pytest.mark.parametrize("value", HOSTILE_COLOURS)
def test_a_colour_that_is_not_hex_is_refused_next_to_the_field(field, value, tenant_a, admin):
    before = fresh(tenant_a)
    response = admin.post(
        reverse("settings:branding"), branding_data(portal_name="Changed", **{field: value})
    )
    assert response.status_code == 200
    expected = (
        "This field is required."
        if value == ""
        else "Enter a colour as # followed by six hex digits, e.g. #1f4e79."
    )
    assert field_error(response, field) == expected
    html = response.content.decode()
    assert "<script>alert(1)" not in html and "url(https://x)" not in html.split("<form")[0]
    after = fresh(tenant_a)
    assert (after.portal_name, after.primary_color, after.accent_color) == (
        before.portal_name,
        before.primary_color,
        before.accent_color,
    )


def test_hostile_colours_in_the_preview_fall_back_to_the_saved_ones(tenant_a, admin):
    preview = reverse("settings:branding-preview")
    saved = fresh(tenant_a).primary_color
    for value in HOSTILE_COLOURS:
        html = admin.get(preview, {"primary_color": value, "accent_color": value}).content.decode()
        style = re.search(r"<style nonce=\"[^\"]+\">(.*?)</style>", html, re.S).group(1)
        assert f"--brand: {saved};" in style
        assert "url(" not in style and "<" not in style and "}" not in style.split("}")[-1]
        assert "<script>alert(1)" not in html


def test_every_accepted_brand_colour_gets_text_that_meets_wcag_aa():
    """Text on a brand colour is dark or light, whichever is readable (>= 4.5:1). A colour on
    which neither passes is refused (only a narrow band of mid-greys while accounts.branding's
    DARK is #111111), so no saved brand colour can make the portal unreadable."""
    steps = range(0, 256, 17)
    colours = [f"#{r:02x}{g:02x}{b:02x}" for r in steps for g in steps for b in steps]
    colours += [f"#{v:02x}{v:02x}{v:02x}" for v in range(256)]
    colours += ["#1f4e79", "#f2a900", "#0f766e", "#e11d48", "#ffff00", "#777777", "#808080"]
    for colour in colours:
        try:
            accepted = clean_brand_colour(colour)
        except ValidationError:
            # Refused only when neither text colour is readable: the check is not over-strict.
            assert contrast_ratio(text_colour_on(colour), colour) < WCAG_AA
            continue
        assert contrast_ratio(text_colour_on(accepted), accepted) >= WCAG_AA, accepted


@pytest.mark.parametrize("colour", ["#ffff00", "#000000", "#1f4e79", "#f2a900", "#767676"])
def test_the_portal_puts_readable_text_on_the_saved_brand_colour(colour, tenant_a, admin):
    assert admin.post(reverse("settings:branding"), branding_data(primary_color=colour)).status_code
    assert fresh(tenant_a).primary_color == colour
    html = portal_html(tenant_a)
    text = re.search(r"--brand-text: (#[0-9a-f]{6});", html).group(1)
    assert f"--brand: {colour};" in html
    assert contrast_ratio(text, colour) >= WCAG_AA


# --- welcome Markdown and video -------------------------------------------------------------------

HOSTILE_MARKDOWN = "\n\n".join(
    [
        "Hello **there**: [docs](https://docs.example.com) and [mail](mailto:a@b.example)",
        "[click](javascript:alert(1)) [click2](JAVASCRIPT:alert(2))",
        "[c3](java&#x09;script:alert(3)) [c4](%20javascript:alert(8))",
        "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "<img src=x onerror=alert(1)>",
        "<script>alert(4)</script>",
        '<a href="javascript:alert(5)" onclick="alert(6)">raw link</a>',
        "![pic](javascript:alert(7))",
        '<iframe src="https://evil.example"></iframe><style>body{display:none}</style>',
    ]
)


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _assert_neutralised(html: str) -> None:
    """No active content: no script/style/img/iframe, no event handlers, and every link's target
    is http(s), mailto or relative, as a browser would parse it (entities decoded, spaces cut)."""
    parser = _Tags()
    parser.feed(html)
    for tag, attrs in parser.tags:
        assert tag not in ("script", "style", "img", "iframe", "object", "embed", "svg"), tag
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        for name in ("href", "src", "action", "formaction"):
            if attrs.get(name) is not None:
                target = re.sub(r"[\x00-\x20]", "", attrs[name])
                assert urlsplit(target).scheme in ("http", "https", "mailto", ""), attrs[name]
    assert "<script" not in html.lower()


def test_welcome_markdown_is_stored_and_neutralised_in_the_portal(tenant_a, admin):
    response = admin.post(
        reverse("settings:branding"), branding_data(welcome_message=HOSTILE_MARKDOWN)
    )
    assert response.status_code == 302
    assert fresh(tenant_a).welcome_message == HOSTILE_MARKDOWN
    html = portal_html(tenant_a)
    welcome = html.split('<div class="welcome">', 1)[1].split("</section>", 1)[0]
    assert "<strong>there</strong>" in welcome
    assert 'href="https://docs.example.com"' in welcome and 'href="mailto:a@b.example"' in welcome
    assert ">click</a>" in welcome  # the link text survives, its javascript: target does not
    _assert_neutralised(welcome)
    # The preview and the _welcome.html snippet render it the same way.
    preview = admin.get(reverse("settings:branding-preview"), {"welcome_message": HOSTILE_MARKDOWN})
    preview_welcome = preview.content.decode().split('<div class="welcome">', 1)[1]
    _assert_neutralised(preview_welcome.split("</section>", 1)[0])
    with tenant_context(tenant_a.tenant):
        snippet = render_to_string("portal/_welcome.html", {"tenant": fresh(tenant_a)})
    assert "<strong>there</strong>" in snippet
    _assert_neutralised(snippet)
    assert (
        render_markdown("[x](javascript:alert(1))")
        == '<p><a rel="noopener noreferrer nofollow">x</a></p>'
    )


HOSTILE_VIDEOS = {
    "javascript:alert(1)": "Use an https link from YouTube, Vimeo or Loom.",
    "data:text/html,<script>alert(1)</script>": "Use an https link from YouTube, Vimeo or Loom.",
    "http://www.youtube.com/watch?v=dQw4w9WgXcQ": "Use an https link from YouTube, Vimeo or Loom.",
    "https://evil.example/watch?v=dQw4w9WgXcQ": "Videos can come from YouTube, Vimeo or Loom only.",
    "https://www.youtube.com.evil.example/watch?v=dQw4w9WgXcQ": (
        "Videos can come from YouTube, Vimeo or Loom only."
    ),
    "https://www.youtube.com@evil.example/watch?v=dQw4w9WgXcQ": (
        "Videos can come from YouTube, Vimeo or Loom only."
    ),
    'https://www.youtube.com/watch?v="><script>alert(1)</script>': (
        "This does not look like a link to one video."
    ),
    "https://vimeo.com/channels/staffpicks": "This does not look like a link to one video.",
}


@pytest.mark.parametrize("url", HOSTILE_VIDEOS)
def test_a_video_from_elsewhere_is_refused_next_to_the_field(url, tenant_a, admin):
    response = admin.post(reverse("settings:branding"), branding_data(welcome_video_url=url))
    assert response.status_code == 200
    assert field_error(response, "welcome_video_url") == HOSTILE_VIDEOS[url]
    assert fresh(tenant_a).welcome_video_url == ""
    assert "<script>alert(1)" not in response.content.decode()


@pytest.mark.parametrize(
    "url, embed",
    [
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
        ("https://youtu.be/dQw4w9WgXcQ", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
        ("https://vimeo.com/76979871", "https://player.vimeo.com/video/76979871"),
        (
            "https://www.loom.com/share/0123456789abcdef0123456789abcdef",
            "https://www.loom.com/embed/0123456789abcdef0123456789abcdef",
        ),
    ],
)  # fmt: skip
def test_an_allowed_video_is_stored_and_embedded_in_a_sandboxed_frame(url, embed, tenant_a, admin):
    assert (
        admin.post(reverse("settings:branding"), branding_data(welcome_video_url=url)).status_code
        == 302
    )
    tenant = fresh(tenant_a)
    assert tenant.welcome_video_url == url
    with tenant_context(tenant):
        html = render_to_string("portal/_welcome.html", {"tenant": tenant})
    iframe = re.search(r"<iframe[^>]*>", html, re.S).group(0)
    assert f'src="{embed}"' in iframe
    assert 'sandbox="allow-scripts allow-same-origin allow-presentation"' in iframe
    assert 'allow="fullscreen"' in iframe
    assert 'referrerpolicy="strict-origin-when-cross-origin"' in iframe
    assert 'title="Welcome video from Alpha Customer Hub"' in iframe


def test_a_stored_video_url_that_fails_the_allowlist_embeds_nothing(tenant_a):
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(welcome_video_url="https://evil.example/v")
    with tenant_context(tenant_a.tenant):
        html = render_to_string("portal/_welcome.html", {"tenant": fresh(tenant_a)})
    assert "<iframe" not in html and "evil.example" not in html


@pytest.mark.parametrize(
    "value", ["Evil\r\nBcc: victim@example.com", 'Quote" <x@evil.example>', "Tab\there"]
)
def test_an_email_sender_name_that_could_forge_headers_is_refused(value, tenant_a, admin):
    response = admin.post(reverse("settings:branding"), branding_data(email_sender_name=value))
    assert "Use letters, digits and punctuation" in field_error(response, "email_sender_name")
    assert fresh(tenant_a).email_sender_name == ""


def test_a_portal_name_on_several_lines_is_refused(tenant_a, admin):
    # The portal name is the email sender name when none is set: it must fit in one header line.
    response = admin.post(
        reverse("settings:branding"), branding_data(portal_name="Acme\r\nBcc: victim@example.com")
    )
    assert field_error(response, "portal_name") == (
        "Use one line of text, without tabs or line breaks."
    )
    assert fresh(tenant_a).portal_name == ""


def _digest_context(tenant) -> dict:
    return {
        "name": "X",
        "groups": [],
        "count": 0,
        "url": tenant.absolute_url("/"),
        "unsubscribe_url": tenant.absolute_url("/notifications/unsubscribe/x/"),
        "preferences_url": tenant.absolute_url("/notifications/"),
    }


def test_every_email_template_has_the_branded_header_and_a_plain_text_part():
    emails = Path(__file__).resolve().parent.parent / "templates" / "email"
    html_templates = [p for p in emails.glob("*.html") if not p.name.startswith("_")]
    assert {p.stem for p in html_templates} >= {"invitation", "digest", "sign_in_code"}
    for template in html_templates:
        assert '{% include "email/_header.html" %}' in template.read_text(), template.name
        assert template.with_suffix(".txt").exists(), template.name


# --- live preview ---------------------------------------------------------------------------------


def test_the_preview_renders_the_portal_with_unsaved_values_and_saves_nothing(tenant_a, admin):
    before = fresh(tenant_a)
    response = admin.get(
        reverse("settings:branding-preview"),
        {
            "portal_name": "Preview <b>Hub</b>",
            "primary_color": "#7c3aed",
            "welcome_message": "# Hi\n\n*unsaved*",
            "welcome_video_url": "https://evil.example/x",  # invalid: falls back (empty)
        },
    )
    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    html = response.content.decode()
    assert "--brand: #7c3aed;" in html and f"--brand-text: {text_colour_on('#7c3aed')};" in html
    assert "Preview &lt;b&gt;Hub&lt;/b&gt;" in html and "<b>Hub</b>" not in html
    assert "<em>unsaved</em>" in html
    assert tenant_a.marker in html  # the tenant's latest onboarding is the sample
    assert "evil.example" not in html
    after = fresh(tenant_a)
    assert (after.portal_name, after.primary_color, after.welcome_message) == (
        before.portal_name,
        before.primary_color,
        before.welcome_message,
    )


def test_the_preview_of_a_tenant_without_onboardings_uses_a_built_in_sample(tenant_a, admin):
    with tenant_context(tenant_a.tenant):
        tenant_a.onboarding.delete()
    response = admin.get(reverse("settings:branding-preview"), {"primary_color": "#7c3aed"})
    html = response.content.decode()
    assert response.status_code == 200 and "Example Customer rollout" in html
    assert "--brand: #7c3aed;" in html


def test_settings_pages_have_no_inline_styles_or_scripts_outside_the_nonce(tenant_a, admin):
    with tenant_context(tenant_a.tenant):
        contact = services.add_key_contact(
            tenant_a.tenant, name="Ann", photo=_reencoded(image_bytes())
        )
        faq = services.add_faq(tenant_a.tenant, question="Q?", answer="A.")
    domain = services.add_domain(tenant_a.tenant, "portal.alpha-corp.example")
    pages = [
        reverse("settings:branding"),
        reverse("settings:branding-preview"),
        reverse("settings:contacts"),
        reverse("settings:contact-edit", kwargs={"key_contact_id": contact.pk}),
        reverse("settings:contact-delete", kwargs={"key_contact_id": contact.pk}),
        reverse("settings:faq"),
        reverse("settings:faq-edit", kwargs={"faq_id": faq.pk}),
        reverse("settings:domains"),
        reverse("settings:domain-remove", kwargs={"domain_id": domain.pk}),
    ]
    for path in pages:
        response = admin.get(path)
        assert response.status_code == 200, path
        csp = response["Content-Security-Policy"]
        nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
        html = response.content.decode()
        assert not re.search(r"\sstyle=", html), path
        assert not re.search(r"\son[a-z]+=", html), path
        for tag in re.findall(r"<style\b[^>]*>", html):
            assert f'nonce="{nonce}"' in tag, (path, tag)
        for tag in re.findall(r"<script\b[^>]*>", html):
            # 'self' (a file under /static/) or the nonce; never an inline script without it.
            src = re.search(r'\ssrc="([^"]+)"', tag)
            assert (src and src.group(1).startswith("/static/")) or f'nonce="{nonce}"' in tag, tag


# --- key contacts ---------------------------------------------------------------------------------


def _reencoded(content: bytes):
    from accounts.forms import clean_uploaded_image

    return clean_uploaded_image(upload("p.png", content, "image/png"), box=512)


def test_an_admin_adds_edits_orders_and_deletes_key_contacts(
    tenant_a, admin, media, django_capture_on_commit_callbacks
):
    url = reverse("settings:contacts")
    photo = upload("me.jpg", jpeg_with_exif(), "image/jpeg")
    response = admin.post(
        url,
        {
            "name": "Priya Natarajan",
            "role": "Onboarding lead",
            "email": "Priya@Alpha.example",
            "phone": "+1 (555) 010-2030",
            "photo": photo,
        },
    )
    assert response.status_code == 302
    admin.post(url, {"name": "Sam Lee", "role": "Solutions engineer"})
    with tenant_context(tenant_a.tenant):
        priya, sam = KeyContact.objects.all()
        assert (priya.email, priya.position, sam.position) == ("priya@alpha.example", 0, 1)
        assert priya.photo.read().startswith(b"\x89PNG") and not sam.photo
    page = admin.get(url).content.decode()
    assert "Priya Natarajan" in page and f"/app/settings/contacts/{priya.pk}/photo" in page

    admin.post(
        reverse("settings:contact-move", kwargs={"key_contact_id": sam.pk}), {"direction": "up"}
    )
    with tenant_context(tenant_a.tenant):
        assert [c.name for c in KeyContact.objects.all()] == ["Sam Lee", "Priya Natarajan"]

    edit = reverse("settings:contact-edit", kwargs={"key_contact_id": priya.pk})
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(
            edit,
            {"name": "Priya N.", "role": "Head of onboarding", "email": "", "remove_photo": "on"},
        )
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        priya.refresh_from_db()
        assert (priya.name, priya.photo.name) == ("Priya N.", "")
    assert stored_files(media) == []

    delete = reverse("settings:contact-delete", kwargs={"key_contact_id": priya.pk})
    assert "Delete the key contact Priya N.?" in admin.get(delete).content.decode()
    assert admin.post(delete).status_code == 302
    with tenant_context(tenant_a.tenant):
        assert [c.name for c in KeyContact.objects.all()] == ["Sam Lee"]


@pytest.mark.parametrize(
    "file",
    [
        upload("photo.png", HTML_PAGE, "image/png"),
        upload("photo.svg", SVG_WITH_SCRIPT, "image/svg+xml"),
    ],
    ids=["html renamed photo.png", "svg"],
)
def test_a_hostile_contact_photo_is_refused_and_no_contact_is_created(file, tenant_a, admin, media):
    file.seek(0)
    response = admin.post(
        reverse("settings:contacts"), {"name": "Mallory", "role": "x", "photo": file}
    )
    assert field_error(response, "photo") == NOT_AN_IMAGE
    with tenant_context(tenant_a.tenant):
        assert not KeyContact.objects.exists()
    assert stored_files(media) == []


@pytest.mark.parametrize("phone", ["javascript:alert(1)", "+1 555 <script>", "call me"])
def test_a_phone_that_is_not_a_number_is_refused(phone, admin):
    response = admin.post(reverse("settings:contacts"), {"name": "Mallory", "phone": phone})
    assert "Enter a phone number" in field_error(response, "phone")


def test_the_key_contacts_snippet_links_mail_and_phone_and_escapes_names(tenant_a):
    with tenant_context(tenant_a.tenant):
        services.add_key_contact(
            tenant_a.tenant,
            name='<img src=x onerror="alert(1)">',
            role="Lead",
            email="lead@alpha.example",
            phone="+49 (30) 123-456",
            photo=_reencoded(image_bytes()),
        )
        contacts = list(KeyContact.objects.all())
        html = render_to_string(
            "portal/_key_contacts.html", {"key_contacts": contacts, "tenant": tenant_a.tenant}
        )
    assert 'href="mailto:lead@alpha.example"' in html
    assert 'href="tel:+4930123456"' in html
    assert f'src="/app/settings/contacts/{contacts[0].pk}/photo"' in html
    assert 'alt="Photo of &lt;img src=x onerror=&quot;alert(1)&quot;&gt;"' in html
    assert "<img src=x" not in html


def test_a_contact_photo_is_served_to_signed_in_users_of_the_tenant_only(tenant_a, tenant_b, media):
    with tenant_context(tenant_a.tenant):
        contact = services.add_key_contact(
            tenant_a.tenant, name="Ann", photo=_reencoded(png_polyglot())
        )
    path = reverse("settings:contact-photo", kwargs={"key_contact_id": contact.pk})
    for user in (tenant_a.admin, tenant_a.csm, tenant_a.viewer, tenant_a.client):
        response = client_for(tenant_a, user).get(path)
        assert response.status_code == 200, user
        assert response["Content-Type"] == "image/png"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["Content-Disposition"] == "inline"
        body = b"".join(response.streaming_content)
        assert body.startswith(b"\x89PNG") and b"<script" not in body
    assert Client(HTTP_HOST=tenant_a.host).get(path).status_code == 404
    # B's admin and B's client, on B's host: A's photo id is not found there.
    missing = reverse("settings:contact-photo", kwargs={"key_contact_id": 987654})
    for user in (tenant_b.admin, tenant_b.client):
        client = client_for(tenant_b, user)
        foreign, unknown = client.get(path), client.get(missing)
        assert foreign.status_code == unknown.status_code == 404
        assert foreign.content == unknown.content


# --- FAQ ------------------------------------------------------------------------------------------


def test_an_admin_adds_edits_reorders_and_deletes_faq_entries(tenant_a, admin):
    url = reverse("settings:faq")
    for q in ("How do I add users?", "Where is SSO configured?"):
        assert (
            admin.post(url, {"question": q, "answer": f"<script>alert(1)</script> {q}"}).status_code
            == 302
        )
    with tenant_context(tenant_a.tenant):
        entries = list(FaqEntry.objects.all())
    assert [e.question for e in entries][1:] == ["How do I add users?", "Where is SSO configured?"]
    last = entries[-1]
    for _ in range(5):  # to the top, and no further
        admin.post(reverse("settings:faq-move", kwargs={"faq_id": last.pk}), {"direction": "up"})
    with tenant_context(tenant_a.tenant):
        ordered = list(FaqEntry.objects.all())
        assert ordered[0].pk == last.pk and [e.position for e in ordered] == [0, 1, 2]
    html = portal_html(tenant_a)
    assert html.index("Where is SSO configured?") < html.index("How do I add users?")
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html

    edit = reverse("settings:faq-edit", kwargs={"faq_id": last.pk})
    assert (
        admin.post(edit, {"question": "Where is SAML set up?", "answer": "Settings."}).status_code
        == 302
    )
    response = admin.post(edit, {"question": "", "answer": "x"})
    assert field_error(response, "question") == "This field is required."
    assert admin.post(reverse("settings:faq-delete", kwargs={"faq_id": last.pk})).status_code == 302
    with tenant_context(tenant_a.tenant):
        assert "Where is SAML set up?" not in [e.question for e in FaqEntry.objects.all()]


# --- custom domains -------------------------------------------------------------------------------


def test_a_domain_is_added_shows_its_dns_records_and_serves_once_verified(
    tenant_a, admin, settings
):
    response = admin.post(
        reverse("settings:domains"), {"domain": " https://Portal.Alpha-Corp.Example./ "}
    )
    assert response.status_code == 302
    domain = TenantDomain.objects.get(tenant=tenant_a.tenant)
    assert (domain.domain, domain.is_primary) == ("portal.alpha-corp.example", False)
    html = admin.get(reverse("settings:domains")).content.decode()
    record = html.split('data-testid="dns-record"', 1)[1].split("</dl>", 1)[0]
    assert "<code>CNAME</code>" in record
    assert "<code>portal.alpha-corp.example</code>" in record
    assert "<code>alpha.localhost</code>" in record
    txt = html.split('data-testid="txt-record"', 1)[1].split("</dl>", 1)[0]
    assert "<code>_onboarding-portal.portal.alpha-corp.example</code>" in txt
    assert f"<code>{domain.verification_token}</code>" in txt

    # Not verified: the name opens nothing, and it cannot be primary.
    assert Client(HTTP_HOST="portal.alpha-corp.example").get("/accounts/login/").status_code == 404
    admin.post(reverse("settings:domain-primary", kwargs={"domain_id": domain.pk}))
    assert fresh(tenant_a).canonical_host.startswith("alpha.localhost")

    verify = reverse("settings:domain-verify", kwargs={"domain_id": domain.pk})
    with dns_server() as dns:
        settings.DOMAIN_VERIFICATION_NAMESERVERS = [dns.nameserver]
        page = admin.post(verify, follow=True).content.decode()
        assert "is not verified" in page and "there is none yet" in page
        assert '<p class="flash-error">' in page  # shown as a refusal, not a success
        dns.records["_onboarding-portal.portal.alpha-corp.example"] = ["someone-else"]
        page = admin.post(verify, follow=True).content.decode()
        assert "is not verified" in page and "it holds someone-else" in page
        assert TenantDomain.objects.get(pk=domain.pk).verified_at is None
        dns.records["_onboarding-portal.portal.alpha-corp.example"] = [domain.verification_token]
        page = admin.post(verify, follow=True).content.decode()
        assert "is verified" in page
    assert TenantDomain.objects.get(pk=domain.pk).verified_at is not None

    for host in (
        "portal.alpha-corp.example",
        "PORTAL.alpha-corp.example.",
        "portal.alpha-corp.example:8000",
    ):
        page = Client(HTTP_HOST=host).get("/accounts/login/")
        assert page.status_code == 200, host
        assert "Alpha Corp" in page.content.decode()

    # Primary: emailed links use it. Removed: the host no longer reaches anyone.
    admin.post(reverse("settings:domain-primary", kwargs={"domain_id": domain.pk}))
    assert fresh(tenant_a).canonical_host == "portal.alpha-corp.example"
    admin.post(reverse("settings:domain-remove", kwargs={"domain_id": domain.pk}))
    assert fresh(tenant_a).canonical_host.startswith("alpha.localhost")
    assert Client(HTTP_HOST="portal.alpha-corp.example").get("/accounts/login/").status_code == 404


def test_only_one_primary_domain_and_back_to_the_subdomain(tenant_a, admin):
    one = verified_domain(tenant_a.tenant, "one.alpha.example")
    two = verified_domain(tenant_a.tenant, "two.alpha.example")
    for d in (one, two, one):
        admin.post(reverse("settings:domain-primary", kwargs={"domain_id": d.pk}))
        assert list(tenant_a.tenant.domains.filter(is_primary=True)) == [d]
    admin.post(reverse("settings:domain-primary-clear"))
    assert not tenant_a.tenant.domains.filter(is_primary=True).exists()


@pytest.mark.parametrize(
    "variant",
    ["portal.alpha-corp.example", "PORTAL.ALPHA-CORP.EXAMPLE", "portal.alpha-corp.example.",
     "  Portal.Alpha-Corp.Example.  ", "https://portal.alpha-corp.example/"],
)  # fmt: skip
def test_a_domain_can_belong_to_one_tenant_only(variant, tenant_a, tenant_b):
    verified_domain(tenant_a.tenant, "portal.alpha-corp.example")
    client_b = client_for(tenant_b, tenant_b.admin)
    response = client_b.post(reverse("settings:domains"), {"domain": variant})
    assert field_error(response, "domain") == DOMAIN_TAKEN
    # The holder is told it has the name already (nobody else learns whose it is).
    again = client_for(tenant_a, tenant_a.admin).post(
        reverse("settings:domains"), {"domain": variant}
    )
    assert field_error(again, "domain") == "You have added this domain already; verify it below."
    assert not tenant_b.tenant.domains.exists()
    assert list(TenantDomain.objects.values_list("domain", flat=True)) == [
        "portal.alpha-corp.example"
    ]
    # The service refuses it too (the unique index: two admins racing for one name).
    with pytest.raises(ValidationError) as refused:
        services.add_domain(tenant_b.tenant, variant)
    assert refused.value.message_dict == {"domain": [DOMAIN_TAKEN]}


@pytest.mark.parametrize(
    "value, message",
    [
        ("localhost", "Names under localhost belong to the platform; use your own domain."),
        ("bravo.localhost", "Names under localhost belong to the platform; use your own domain."),
        ("x.alpha.localhost", "Names under localhost belong to the platform; use your own domain."),
        ("127.0.0.1", "Enter a domain name, not an IP address."),
        ("10.0.0.1.", "Enter a domain name, not an IP address."),
        ("::1", "Enter a domain name, not an IP address."),
        ("[2001:db8::1]", "Enter a domain name, not an IP address."),
        ("*.example.com", "Enter a domain name such as portal.example.com."),
        ("example.com:8443", "Enter a domain name such as portal.example.com."),
        ("exa mple.com", "Enter a domain name such as portal.example.com."),
        ("com", "Enter a domain name such as portal.example.com."),
        ("a..example.com", "Enter a domain name such as portal.example.com."),
        ("evil.example/<script>", "Enter a domain name such as portal.example.com."),
    ],
)
def test_platform_names_ips_and_malformed_domains_are_refused(value, message, tenant_a, admin):
    response = admin.post(reverse("settings:domains"), {"domain": value})
    assert field_error(response, "domain") == message
    assert not TenantDomain.objects.exists()


def test_an_internationalised_domain_is_stored_in_its_ascii_form(tenant_a, admin):
    admin.post(reverse("settings:domains"), {"domain": "bücher.example"})
    assert TenantDomain.objects.get().domain == "xn--bcher-kva.example"


# --- who may use the settings pages ---------------------------------------------------------------


def _settings_urls(ids: dict[str, int]) -> list[tuple[str, str]]:
    urls = []
    for pattern in settings_patterns:
        assert isinstance(pattern, URLPattern)
        kwargs = {name: ids[name] for name in pattern.pattern.regex.groupindex}
        urls.append((pattern.name, reverse(f"settings:{pattern.name}", kwargs=kwargs)))
    return urls


def _world_ids(world) -> dict[str, int]:
    with tenant_context(world.tenant):
        contact = services.add_key_contact(
            world.tenant, name="Kim", photo=_reencoded(image_bytes())
        )
        faq = FaqEntry.objects.get()
    domain = services.add_domain(world.tenant, f"portal.{world.tenant.slug}-corp.example")
    return {"key_contact_id": contact.pk, "faq_id": faq.pk, "domain_id": domain.pk}


def test_only_admins_reach_the_settings_pages(tenant_a):
    ids = _world_ids(tenant_a)
    urls = _settings_urls(ids)
    assert {name for name, _ in urls} >= {
        "branding",
        "branding-preview",
        "contacts",
        "faq",
        "domains",
    }
    before = _snapshot(tenant_a)
    for role in ("csm", "viewer", "client"):
        client = client_for(tenant_a, getattr(tenant_a, role))
        for name, path in urls:
            if name == "contact-photo":
                continue  # shown in the portal: any signed-in user of the tenant (tested above)
            for method in ("get", "post"):
                response = getattr(client, method)(path, branding_data(domain="x.example"))
                assert response.status_code == 404, (role, method, path)
    anonymous = Client(HTTP_HOST=tenant_a.host)
    for name, path in urls:
        if name == "contact-photo":
            assert anonymous.get(path).status_code == 404
            continue
        for method in ("get", "post"):
            response = getattr(anonymous, method)(path, branding_data())
            assert response.status_code == 302, path
            assert response["Location"].startswith("/accounts/login/?next=")
    assert _snapshot(tenant_a) == before
    admin = client_for(tenant_a, tenant_a.admin)
    for name, path in urls:
        if name not in (
            "contact-move",
            "faq-move",
            "domain-primary",
            "domain-primary-clear",
            "domain-verify",
        ):
            assert admin.get(path, follow=True).status_code == 200, path


def _snapshot(world):
    tenant = fresh(world)
    with tenant_context(tenant):
        return (
            [(t.portal_name, t.primary_color, t.logo.name) for t in [tenant]],
            list(KeyContact.objects.values_list("pk", "name", "position")),
            list(FaqEntry.objects.values_list("pk", "question", "position")),
            list(TenantDomain.objects.values_list("pk", "domain", "is_primary")),
        )


def _normalise(html: bytes) -> bytes:
    return re.sub(rb'nonce="[^"]+"|value="[A-Za-z0-9]{64}"', b"", html)


def test_another_tenants_ids_answer_exactly_like_missing_ones(tenant_a, tenant_b):
    ids_a = _world_ids(tenant_a)
    ids_b = _world_ids(tenant_b)
    missing = {name: 987654 for name in ids_b}
    before = _snapshot(tenant_b)
    admin = client_for(tenant_a, tenant_a.admin)
    for (_name, foreign), (_, unknown) in zip(
        _settings_urls(ids_b), _settings_urls(missing), strict=True
    ):
        if foreign == unknown:
            continue  # no object in the URL
        for method in ("get", "post"):
            data = {"direction": "up", "name": "x", "question": "x", "answer": "x"}
            a = getattr(admin, method)(foreign, data)
            b = getattr(admin, method)(unknown, data)
            assert a.status_code == b.status_code, (method, foreign)
            assert a.status_code in (404, 405), (method, foreign, a.status_code)
            body_a = b"".join(a.streaming_content) if a.streaming else a.content
            body_b = b"".join(b.streaming_content) if b.streaming else b.content
            assert _normalise(body_a) == _normalise(body_b)
    assert _snapshot(tenant_b) == before
    assert ids_a != ids_b


# --- emails ---------------------------------------------------------------------------------------


URL_HOSTS = re.compile(r"""https?://([^/\s"'<>]+)""")


def _brand_tenant(world) -> Tenant:
    tenant = world.tenant
    services.update_branding(
        tenant,
        **branding_data(email_sender_name="Alpha <Onboarding>".replace("<", "").replace(">", "")),
        logo=_reencoded(image_bytes()),
    )
    verified_domain(tenant, "old.alpha-corp.example")
    primary = verified_domain(tenant, "portal.alpha-corp.example")
    services.set_primary_domain(tenant, primary.pk)
    return fresh(world)


def _assert_branded(message, tenant: Tenant) -> None:
    assert message.from_email.startswith('"Alpha Onboarding" <')
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html" and message.body.strip()
    assert 'src="http://portal.alpha-corp.example/brand/logo"' in html
    assert f"background: {BRAND}" in html and f"border-bottom: 4px solid {ACCENT}" in html
    assert "Alpha Onboarding" in html
    for part in (html, message.body):
        assert set(URL_HOSTS.findall(part)) == {"portal.alpha-corp.example"}, part


def test_every_email_is_branded_with_both_parts_and_links_on_the_canonical_host(
    tenant_a, django_capture_on_commit_callbacks, settings
):
    tenant = _brand_tenant(tenant_a)
    # Invitation (a Celery task) ...
    with tenant_context(tenant), django_capture_on_commit_callbacks(execute=True):
        invite_contact(tenant, tenant_a.contact)
    # ... a reminder ...
    with tenant_context(tenant):
        branded_message(
            tenant,
            to="x@example.com",
            subject="Due",
            template="digest",
            context=_digest_context(tenant),
        ).send()
    # ... and sign-in codes requested by requests on the subdomain and on a secondary domain.
    for host in (tenant_a.host, "old.alpha-corp.example"):
        with django_capture_on_commit_callbacks(execute=True):
            response = Client(HTTP_HOST=host).post("/sign-in/", {"email": tenant_a.client.email})
        assert response.status_code == 302
    assert len(mail.outbox) == 4
    for message in mail.outbox:
        _assert_branded(message, tenant)


def test_a_brand_colour_that_bypassed_validation_never_reaches_an_email_style(tenant_a):
    Tenant.objects.filter(pk=tenant_a.tenant.pk).update(
        primary_color="red;}x{", accent_color="#fff;x", portal_name="<b>Bold</b> & Co"
    )
    tenant = fresh(tenant_a)
    with tenant_context(tenant):
        message = branded_message(
            tenant, to="x@example.com", subject="s", template="digest",
            context=_digest_context(tenant),
        )  # fmt: skip
    html = message.alternatives[0][0]
    assert "#fff;x" not in html and "border-bottom: 4px solid #f2a900" in html
    assert "red;}x{" not in html
    assert "<b>Bold</b>" not in html and "&lt;b&gt;Bold&lt;/b&gt; &amp; Co" in html


def test_branding_form_is_the_one_used_by_the_preview():
    # The preview validates GET parameters with the very form a save uses.
    form = BrandingForm({"primary_color": "#12345g", "accent_color": ACCENT})
    assert not form.is_valid() and "primary_color" in form.errors


def test_the_preview_shows_the_portal_without_the_staff_menu(admin):
    page = admin.get(reverse("settings:branding-preview")).text
    assert 'href="/app/metrics/"' not in page and 'href="/app/settings/"' not in page
    assert 'href="/app/metrics/"' in admin.get(reverse("settings:branding")).text


def test_the_preview_header_names_a_customer_not_the_admin(tenant_a):
    from tests.conftest import client_for

    page = client_for(tenant_a, tenant_a.admin).get(reverse("settings:branding-preview")).text
    who = page.split('<span class="who">')[1].split("</span>")[0]
    assert who == tenant_a.contact.name


def test_a_tenant_cannot_squat_on_a_domain_it_does_not_control(tenant_a, tenant_b, settings):
    """Alpha claims Bravo's name first. It cannot verify it (the TXT record is Bravo's to
    publish), so the name opens nothing; Bravo claims it too, verifies, and holds it."""
    name = "portal.bravo-corp.example"
    squat = services.add_domain(tenant_a.tenant, name)
    claim = services.add_domain(tenant_b.tenant, name)  # not blocked by an unverified claim
    with dns_server() as dns:
        settings.DOMAIN_VERIFICATION_NAMESERVERS = [dns.nameserver]
        dns.records[f"_onboarding-portal.{name}"] = [claim.verification_token]  # Bravo's DNS
        with pytest.raises(ValidationError, match="No TXT record"):
            services.verify_domain(tenant_a.tenant, squat.pk)
        assert Client(HTTP_HOST=name).get("/accounts/login/").status_code == 404
        assert services.verify_domain(tenant_b.tenant, claim.pk).verified_at is not None
    page = Client(HTTP_HOST=name).get("/accounts/login/").content.decode()
    assert "Bravo Corp" in page and "Alpha Corp" not in page
    assert not tenant_a.tenant.domains.exists()  # the losing claim is gone
    with pytest.raises(ValidationError) as refused:
        services.add_domain(tenant_a.tenant, name)
    assert refused.value.message_dict == {"domain": [DOMAIN_TAKEN]}


def test_dns_that_cannot_be_asked_changes_nothing(tenant_a, admin):
    domain = services.add_domain(tenant_a.tenant, "portal.alpha-corp.example")
    page = admin.post(
        reverse("settings:domain-verify", kwargs={"domain_id": domain.pk}), follow=True
    ).content.decode()
    assert "is not verified" in page and "DNS could not be asked" in page
    assert TenantDomain.objects.get(pk=domain.pk).verified_at is None


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("192.0.2.1", ("192.0.2.1", None)),
        ("192.0.2.1:5353", ("192.0.2.1", 5353)),
        ("2001:db8::1", ("2001:db8::1", None)),
        ("[2001:db8::1]:5353", ("2001:db8::1", 5353)),
    ],
)
def test_nameserver_settings_are_read_per_entry(entry, expected):
    from accounts.domain_verification import _nameserver

    assert _nameserver(entry) == expected


def test_a_name_too_long_for_its_verification_record_is_refused():
    from accounts.content_safety import clean_domain_name

    label = "a" * 60
    fits = ".".join([label, label, label, "b" * 50]) + ".com"  # 237 characters
    assert len(fits) == 237
    with pytest.raises(ValidationError, match="Enter a domain name"):
        clean_domain_name(fits, base_domain="localhost")
    shorter = fits[4:]
    assert clean_domain_name(shorter, base_domain="localhost") == shorter


def test_a_domain_whose_record_goes_away_is_lost_after_repeated_checks(tenant_a, admin, settings):
    import datetime as dt

    from django.utils import timezone

    from accounts.tasks import recheck_domains

    name = "portal.alpha-corp.example"
    domain = services.add_domain(tenant_a.tenant, name)
    record = f"_onboarding-portal.{name}"
    day = timezone.now()

    def recheck(days: float):
        return services.recheck_verified_domains(day + dt.timedelta(days=days))

    with dns_server() as dns:
        settings.DOMAIN_VERIFICATION_NAMESERVERS = [dns.nameserver]
        dns.records[record] = [domain.verification_token]
        services.verify_domain(tenant_a.tenant, domain.pk)
        services.set_primary_domain(tenant_a.tenant, domain.pk)
        assert recheck_domains() == {"kept": 1, "failing": 0, "lost": 0, "unknown": 0}
        assert recheck_domains()["kept"] == 0  # checked once a day, however often it runs

        del dns.records[record]  # the domain lapsed, or its DNS changed hands
        assert recheck(1)["failing"] == 1
        assert recheck(1.1) == {"kept": 0, "failing": 0, "lost": 0, "unknown": 0}  # not a day
        assert recheck(2)["failing"] == 1
        assert (
            "The record was missing at the last 2 checks"
            in admin.get(reverse("settings:domains")).content.decode()
        )
        assert Client(HTTP_HOST=name).get("/accounts/login/").status_code == 200  # still held
        dns.records[record] = [domain.verification_token]  # back: the count starts again
        assert recheck(3)["kept"] == 1
        assert TenantDomain.objects.get(pk=domain.pk).failed_rechecks == 0

        del dns.records[record]
        assert [recheck(d)["failing"] for d in (4, 5)] == [1, 1]
        assert recheck(6)["lost"] == 1
    lost = TenantDomain.objects.get(pk=domain.pk)
    assert (lost.verified_at, lost.is_primary) == (None, False)
    assert Client(HTTP_HOST=name).get("/accounts/login/").status_code == 404
    assert fresh(tenant_a).canonical_host.startswith("alpha.localhost")
    # DNS that cannot be asked counts neither way.
    settings.DOMAIN_VERIFICATION_NAMESERVERS = ["127.0.0.1:9"]  # a closed port
    verified_domain(tenant_a.tenant, "other.alpha-corp.example")
    TenantDomain.objects.filter(domain="other.alpha-corp.example").update(verified_by_dns=True)
    assert recheck(7) == {"kept": 0, "failing": 0, "lost": 0, "unknown": 1}
