"""`{{ when|local_time:"M j, Y H:i" }}`: a time in the reader's (the tenant's) zone, followed by
the zone's name, e.g. "Nov 2, 2025 01:30 EST".

Django's "T" format prints nothing in the hour a DST change repeats (or skips), exactly when a
reader most needs to know which 01:30 it was; zoneinfo names that hour correctly from the fold."""

from django import template
from django.utils.formats import date_format

register = template.Library()


@register.filter(expects_localtime=True)
def local_time(value, fmt: str = "M j, Y H:i") -> str:
    if not value:
        return ""
    zone = value.tzname() if getattr(value, "tzinfo", None) else None
    text = date_format(value, fmt)
    return f"{text} {zone}" if zone else text
