"""Composing the product's emails: branded, with an HTML and a plain-text part."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from accounts.branding import text_colour_on
from accounts.models import Tenant
from portal.tenancy.context_processors import DEFAULT_PRIMARY, safe_colour


def branded_message(
    tenant: Tenant, *, to: str, subject: str, template: str, context: dict
) -> EmailMultiAlternatives:
    primary = safe_colour(tenant.primary_color, DEFAULT_PRIMARY)
    ctx = {"tenant": tenant, "brand_text": text_colour_on(primary), **context}
    text = render_to_string(f"email/{template}.txt", ctx)
    html = render_to_string(f"email/{template}.html", ctx)
    sender_name = _one_line(tenant.sender_name).replace('"', "")
    message = EmailMultiAlternatives(
        subject=_one_line(subject),
        body=text,
        from_email=f'"{sender_name}" <{settings.DEFAULT_FROM_EMAIL}>',
        to=[to],
    )
    message.attach_alternative(html, "text/html")
    return message


def _one_line(header: str) -> str:
    """Names and titles reach headers as stored, and the API stores line breaks; a header cannot
    hold one (Django refuses the whole email), so every run of whitespace becomes one space."""
    return " ".join(header.split())
