"""Brand colours: text placed on a brand colour must stay readable (WCAG AA, 4.5:1)."""

from __future__ import annotations

DARK = "#000000"
LIGHT = "#ffffff"


def _luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast_ratio(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def text_colour_on(background: str) -> str:
    """Dark or light, whichever contrasts more with the background."""
    return max((DARK, LIGHT), key=lambda c: contrast_ratio(c, background))
