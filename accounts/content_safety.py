"""Everything a tenant admin or a client types or uploads, made safe before it is stored or shown.

One place for each rule: brand colours, Markdown, video links, images and attachments.
"""

from __future__ import annotations

import io
import ipaddress
import re
from urllib.parse import parse_qs, urlparse

import markdown as markdown_lib
import nh3
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from accounts.domain_verification import record_name

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")

MARKDOWN_TAGS = {
    "p", "br", "strong", "em", "b", "i", "ul", "ol", "li", "a", "h2", "h3", "h4",
    "blockquote", "code", "pre", "hr",
}  # fmt: skip
URL_SCHEMES = {"http", "https", "mailto"}

IMAGE_FORMATS = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
MAX_IMAGE_BYTES = 2 * 1024 * 1024
MAX_IMAGE_SIDE = 4000
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


def clean_hex_colour(value: str) -> str:
    value = (value or "").strip()
    if not HEX_COLOUR.fullmatch(value):
        raise ValidationError("Enter a colour as # followed by six hex digits, e.g. #1f4e79.")
    return value.lower()


def render_markdown(text: str) -> str:
    """Markdown to HTML with an allowlist of tags, attributes and URL schemes.

    Raw HTML in the source is escaped by the allowlist; javascript: and data: links lose their href.
    """
    html = markdown_lib.markdown(text or "", extensions=["sane_lists"])
    return nh3.clean(
        html,
        tags=MARKDOWN_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )


_YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{6,20}$")
_VIMEO_ID = re.compile(r"^\d{4,12}$")
_LOOM_ID = re.compile(r"^[0-9a-f]{16,40}$")


def video_embed_url(url: str) -> str:
    """The embeddable player URL for a YouTube, Vimeo or Loom link; anything else is refused."""
    parsed = urlparse((url or "").strip())
    host = (parsed.hostname or "").lower()
    parts = [p for p in parsed.path.split("/") if p]
    video_id = ""
    if parsed.scheme != "https":
        raise ValidationError("Use an https link from YouTube, Vimeo or Loom.")
    if host in {"www.youtube.com", "youtube.com", "m.youtube.com"}:
        if parts[:1] == ["watch"]:
            video_id = parse_qs(parsed.query).get("v", [""])[0]
        elif parts[:1] in (["embed"], ["shorts"]) and len(parts) > 1:
            video_id = parts[1]
        if _YOUTUBE_ID.fullmatch(video_id):
            return f"https://www.youtube-nocookie.com/embed/{video_id}"
    elif host == "youtu.be" and parts:
        if _YOUTUBE_ID.fullmatch(parts[0]):
            return f"https://www.youtube-nocookie.com/embed/{parts[0]}"
    elif host in {"vimeo.com", "www.vimeo.com", "player.vimeo.com"} and parts:
        if _VIMEO_ID.fullmatch(parts[-1]):
            return f"https://player.vimeo.com/video/{parts[-1]}"
    elif host in {"www.loom.com", "loom.com"} and len(parts) == 2:
        if parts[0] in {"share", "embed"} and _LOOM_ID.fullmatch(parts[1]):
            return f"https://www.loom.com/embed/{parts[1]}"
    else:
        raise ValidationError("Videos can come from YouTube, Vimeo or Loom only.")
    raise ValidationError("This does not look like a link to one video.")


VIDEO_FRAME_SOURCES = ["https://www.youtube-nocookie.com", "https://player.vimeo.com",
                       "https://www.loom.com"]  # fmt: skip


def reencode_image(upload, *, max_bytes: int = MAX_IMAGE_BYTES) -> ContentFile:
    """Decode an uploaded PNG, JPEG or WebP and re-encode it as PNG.

    The type comes from decoding the content, never from the file name or the declared type; SVG
    and anything else Pillow cannot decode as one of the three formats is refused.
    """
    if upload.size > max_bytes:
        raise ValidationError(f"The image is larger than {max_bytes // (1024 * 1024)} MB.")
    data = upload.read()
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            width, height = probe.size
            probe.verify()
        if kind not in IMAGE_FORMATS:
            raise ValidationError("Upload a PNG, JPEG or WebP image (SVG is not accepted).")
        if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
            raise ValidationError(
                f"The image is {width}x{height} pixels; the limit is {MAX_IMAGE_SIDE} per side."
            )
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            # Phone photos say "rotate me" in EXIF; apply it, since the metadata is dropped.
            image = ImageOps.exif_transpose(image)
            converted = image.convert("RGBA") if image.mode not in ("RGB", "RGBA") else image
            out = io.BytesIO()
            converted.save(out, "PNG", optimize=True)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError) as exc:
        raise ValidationError(
            "This file is not a PNG, JPEG or WebP image (SVG is not accepted)."
        ) from exc
    return ContentFile(out.getvalue(), name="image.png")


def sniff_attachment(data: bytes) -> str:
    """A content type worked out from the bytes, from a short safe list; else octet-stream."""
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    try:
        with Image.open(io.BytesIO(data)) as probe:
            kind = probe.format
            probe.verify()
        if kind in IMAGE_FORMATS:
            return IMAGE_FORMATS[kind]
    except Exception:  # noqa: S110 - anything undecodable is simply not an image
        pass
    return "application/octet-stream"


# --- Tenant settings: contact details, email sender, custom domains, fitted images -------------

_PHONE = re.compile(r"^\+?[0-9][0-9 ().\-/]{3,38}$")
_SENDER_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f\"<>\\]")
_DOMAIN_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


def clean_phone(value: str) -> str:
    """A phone number as typed (digits, spaces, + ( ) . - /); anything else is refused."""
    value = " ".join((value or "").split())
    if value and not _PHONE.fullmatch(value):
        raise ValidationError("Enter a phone number: digits, spaces and + ( ) - . / only.")
    return value


def tel_href(phone: str) -> str:
    """The tel: target of a phone number: its digits and a leading +; empty if none remain."""
    digits = re.sub(r"[^0-9]", "", phone or "")
    if not digits:
        return ""
    return ("+" if (phone or "").strip().startswith("+") else "") + digits


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_one_line(value: str) -> str:
    """A name shown in pages and email headers: one line, no control characters."""
    value = (value or "").strip()
    if _CONTROL.search(value):
        raise ValidationError("Use one line of text, without tabs or line breaks.")
    return value


def clean_sender_name(value: str) -> str:
    """An email display name: no line breaks or other control characters, no quotes or <>."""
    value = (value or "").strip()
    if _SENDER_FORBIDDEN.search(value):
        raise ValidationError('Use letters, digits and punctuation other than " < > \\.')
    return value


def clean_domain_name(value: str, *, base_domain: str) -> str:
    """A custom domain, normalised (lower case, no scheme, path or trailing dot, IDNA encoded).

    Refused: IP addresses, single labels, wildcards, ports, and the platform's own domain and
    every name under it (those are the tenants' subdomains, not theirs to claim).
    """
    raw = (value or "").strip().lower()
    for scheme in ("https://", "http://"):
        raw = raw.removeprefix(scheme)
    raw = raw.split("/", 1)[0] if raw.count("/") == 1 and raw.endswith("/") else raw
    raw = raw.rstrip(".")
    invalid = ValidationError("Enter a domain name such as portal.example.com.")
    if not raw or len(raw) > 253:
        raise invalid
    try:
        ipaddress.ip_address(raw.strip("[]"))
    except ValueError:
        pass
    else:
        raise ValidationError("Enter a domain name, not an IP address.")
    try:
        ascii_name = raw.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise invalid from exc
    base = base_domain.lower().rstrip(".")
    if ascii_name == base or ascii_name.endswith("." + base):
        raise ValidationError(f"Names under {base} belong to the platform; use your own domain.")
    labels = ascii_name.split(".")
    if len(labels) < 2 or not all(_DOMAIN_LABEL.fullmatch(label) for label in labels):
        raise invalid
    # Its verification record must fit in DNS's 253 characters too.
    if len(record_name(ascii_name)) > 253:
        raise invalid
    if labels[-1].isdigit():
        raise ValidationError("Enter a domain name, not an IP address.")
    return ascii_name


def fit_png(image_file: ContentFile, *, box: int) -> ContentFile:
    """Shrink a PNG made by reencode_image to fit in box x box pixels (no upscaling)."""
    data = image_file.read()
    with Image.open(io.BytesIO(data)) as image:
        if image.width <= box and image.height <= box:
            return ContentFile(data, name=image_file.name)
        image.load()
        image.thumbnail((box, box), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.save(out, "PNG", optimize=True)
    return ContentFile(out.getvalue(), name=image_file.name)
