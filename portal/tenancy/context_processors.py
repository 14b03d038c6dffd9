from django.core.exceptions import ValidationError
from django.utils.functional import SimpleLazyObject

from accounts.branding import text_colour_on
from accounts.content_safety import clean_hex_colour

DEFAULT_PRIMARY = "#1f4e79"
DEFAULT_ACCENT = "#f2a900"


def safe_colour(value: str, default: str) -> str:
    """A stored colour that is not #rrggbb (saved past the forms) never reaches CSS."""
    try:
        return clean_hex_colour(value)
    except ValidationError:
        return default


def tenant(request):
    current = getattr(request, "tenant", None)
    if current is None:
        return {"tenant": None, "brand_text": "#ffffff"}
    from accounts.access import membership_of

    primary = safe_colour(current.primary_color, DEFAULT_PRIMARY)
    return {
        "tenant": current,
        # Evaluated only by templates that ask (the staff navigation).
        "membership": SimpleLazyObject(lambda: membership_of(request)),
        "brand_primary": primary,
        "brand_accent": safe_colour(current.accent_color, DEFAULT_ACCENT),
        "brand_text": text_colour_on(primary),
    }
