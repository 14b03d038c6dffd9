from django import template
from django.utils.safestring import mark_safe

from accounts.content_safety import render_markdown

register = template.Library()


@register.filter
def markdown(text: str) -> str:
    # render_markdown sanitises with an allowlist, so its output is safe to mark as such.
    return mark_safe(render_markdown(text))  # noqa: S308
