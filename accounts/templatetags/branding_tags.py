"""Template helpers for tenant branding: video embeds, tel: links, colours and the emailed logo.

{% load branding_tags %}
  {{ tenant.welcome_video_url|video_embed }}   player URL on an allowlisted host, else ""
  {{ contact.phone|tel_href }}                 "+4930123456" for a tel: link
  {{ tenant.primary_color|brand_colour }}      the colour if it is #rrggbb, else the default
  {% tenant_logo_url tenant as logo_url %}     the logo on the tenant's canonical host
"""

from __future__ import annotations

from django import template
from django.core.exceptions import ValidationError
from django.urls import reverse

from accounts import content_safety

register = template.Library()

DEFAULT_COLOUR = "#1f4e79"


@register.filter
def video_embed(url: str) -> str:
    """A stored URL passed video_embed_url when it was saved; a value that no longer does (or
    was written some other way) embeds nothing rather than an arbitrary frame."""
    if not url:
        return ""
    try:
        return content_safety.video_embed_url(url)
    except ValidationError:
        return ""


@register.filter
def tel_href(phone: str) -> str:
    return content_safety.tel_href(phone)


@register.filter
def brand_colour(value: str, default: str = DEFAULT_COLOUR) -> str:
    """For CSS and style attributes: a colour that is not exactly #rrggbb never reaches them."""
    try:
        return content_safety.clean_hex_colour(value)
    except ValidationError:
        return default


@register.simple_tag
def tenant_logo_url(tenant) -> str:
    """The absolute logo URL on the tenant's stored canonical host, never a request's Host."""
    if tenant is None or not tenant.logo:
        return ""
    return tenant.absolute_url(reverse("brand-logo"))
