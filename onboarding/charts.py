"""Server-rendered inline SVG charts: bars, histograms and a line over time.

The page's Content-Security-Policy forbids inline styles and scripts, so the SVG uses only
presentation attributes (fill, stroke, font-size...) and classes styled by static/css/metrics.css.
Every chart is an accessible image: role="img", a <title> and a <desc> that lists the data, and a
<title> on each bar and point (a tooltip on hover). Every piece of text is escaped.
"""

from __future__ import annotations

import datetime as dt
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

INK = "#1b1b1b"
MUTED = "#555555"
GRID = "#d9dde3"
BAR = "#1f4e79"
TONES = {
    "green": "#15803d",
    "yellow": "#b45309",
    "red": "#b91c1c",
    "muted": "#8a94a3",
}
FONT = 'font-family="system-ui, sans-serif"'


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: no data for this group, which is not a zero
    tone: str = ""  # green / yellow / red / muted: the bar's colour and css class


def _num(value: float) -> str:
    """A coordinate: short, no exponent."""
    return f"{value:.1f}".rstrip("0").rstrip(".") if value % 1 else str(int(value))


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def _with_unit(value: float | None, unit: str) -> str:
    """`3 days`, `1 day`, `40 %`-style text; `no data` for a missing value. `unit` is plural."""
    if value is None:
        return "no data"
    if not unit:
        return _fmt(value)
    if value == 1 and unit.endswith("s"):
        unit = unit[:-1]
    return f"{_fmt(value)}{'' if unit == '%' else ' '}{unit}"


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        if value <= step * 4:
            return step * -(-value // step)
    magnitude = 10 ** (len(str(int(value))) - 1)
    return magnitude * -(-value // magnitude)


def _open(kind: str, title: str, description: str, width: int, height: int) -> tuple[str, str]:
    uid = f"chart-{secrets.token_hex(4)}"
    size = "chart-wide" if width > 480 else "chart-narrow"  # the narrowest it may be drawn
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart chart-{kind} {size}" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMidYMid meet" '
        f'role="img" aria-labelledby="{uid}-t {uid}-d" focusable="false">'
        f'<title id="{uid}-t">{escape(title)}</title>'
        f'<desc id="{uid}-d">{escape(description)}</desc>'
    )
    return uid, head


def bar_chart(
    bars: Sequence[Bar | tuple[str, float]],
    *,
    title: str,
    value_label: str = "",
    max_value: float | None = None,
    counts: bool = False,
    width: int = 640,
    height: int = 240,
) -> SafeString:
    """Vertical bars with their values printed above them. `bars` are Bar or (label, value).
    With `counts`, the axis has whole-number ticks only (no 0.5 of an onboarding). `width` is
    the drawing's own width: give about the width it is shown at, so its text stays legible."""
    items = [b if isinstance(b, Bar) else Bar(str(b[0]), b[1]) for b in bars]
    description = (
        "; ".join(f"{b.label}: {_with_unit(b.value, value_label)}" for b in items) or "No data."
    )
    _, svg = _open("bar", title, description, width, height)
    left, right, top, bottom = 44, 8, 18, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    parts = [svg]
    if not items:
        parts.append(
            f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" '
            f'font-size="14" fill="{MUTED}" {FONT}>No data yet</text></svg>'
        )
        return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
    top_value = max_value or _nice_max(max((b.value or 0) for b in items))  # None counts as 0
    if counts:  # five ticks, 0 .. top, all whole numbers
        top_value = max(4, 4 * math.ceil(top_value / 4))
    for i in range(5):
        tick = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{_num(y)}" y2="{_num(y)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text class="tick" x="{left - 6}" y="{_num(y + 4)}" text-anchor="end" '
            f'font-size="11" fill="{MUTED}" {FONT}>{_fmt(round(tick, 1))}</text>'
        )
    slot = plot_w / len(items)
    bar_w = max(2.0, min(56.0, slot * 0.7))
    # Narrow slots (ten buckets in half a column) get smaller labels rather than cut ones.
    label_size = 11 if slot >= 44 else 9
    label_chars = max(3, int(slot / (label_size * 0.6)))
    for i, bar in enumerate(items):
        tooltip = escape(f"{bar.label}: {_with_unit(bar.value, value_label)}")
        x = left + slot * i + (slot - bar_w) / 2
        label = (
            f'<text class="label" x="{_num(left + slot * i + slot / 2)}" '
            f'y="{height - bottom + 16}" text-anchor="middle" font-size="{label_size}" '
            f'fill="{INK}" {FONT}>{escape(_short(bar.label, label_chars))}</text>'
        )
        if bar.value is None:  # no bar at all, and a dash where its value would be
            parts.append(
                f'<g class="bar no-data"><title>{tooltip}</title>'
                f'<text class="value" x="{_num(x + bar_w / 2)}" y="{_num(top + plot_h - 4)}" '
                f'text-anchor="middle" font-size="11" fill="{MUTED}" {FONT}>—</text>{label}</g>'
            )
            continue
        h = plot_h * min(bar.value, top_value) / top_value
        y = top + plot_h - h
        fill = TONES.get(bar.tone, BAR)
        tone = f" {escape(bar.tone)}" if bar.tone else ""
        parts.append(
            f'<g class="bar{tone}">'
            f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(bar_w)}" height="{_num(max(h, 0))}" '
            f'fill="{fill}" rx="2"><title>{tooltip}</title></rect>'
            f'<text class="value" x="{_num(x + bar_w / 2)}" y="{_num(y - 4)}" '
            f'text-anchor="middle" font-size="11" fill="{INK}" {FONT}>{_fmt(bar.value)}</text>'
            f"{label}</g>"
        )
    parts.append(
        f'<line class="axis" x1="{left}" x2="{width - right}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}" stroke="{MUTED}" stroke-width="1"/></svg>'
    )
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped


def histogram(
    buckets: Sequence[tuple[str, int]], *, title: str, value_label: str = "onboardings", **kw
) -> SafeString:
    """A distribution: one bar per bucket, labelled with the bucket's range."""
    return bar_chart(
        [Bar(label, count) for label, count in buckets],
        title=title,
        value_label=value_label,
        counts=True,
        **kw,
    )


def line_chart(
    points: Sequence[tuple[dt.date, float]],
    *,
    title: str,
    y_max: float | None = None,
    thresholds: Sequence[tuple[float, str]] = (),
    width: int = 640,
    height: int = 220,
) -> SafeString:
    """Values over time (x spaced by date), with optional dashed threshold lines."""
    points = sorted(points)
    description = "; ".join(f"{d:%Y-%m-%d}: {_fmt(v)}" for d, v in points) if points else "No data."
    if thresholds:
        description += ". Thresholds: " + ", ".join(
            f"{tone} from {_fmt(v)}" for v, tone in thresholds
        )
    _, svg = _open("line", title, description, width, height)
    parts = [svg]
    if not points:
        parts.append(
            f'<text x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle" '
            f'font-size="14" fill="{MUTED}" {FONT}>No data yet</text></svg>'
        )
        return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
    left, right, top, bottom = 40, 12, 12, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = y_max or _nice_max(max(v for _, v in points))
    first, last = points[0][0], points[-1][0]
    span = max((last - first).days, 1)

    def xy(day: dt.date, value: float) -> tuple[float, float]:
        x = left + plot_w * ((day - first).days / span if len(points) > 1 else 0.5)
        y = top + plot_h - plot_h * min(max(value, 0), top_value) / top_value
        return x, y

    for i in range(5):
        tick = top_value * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{_num(y)}" y2="{_num(y)}" '
            f'stroke="{GRID}" stroke-width="1"/>'
            f'<text class="tick" x="{left - 6}" y="{_num(y + 4)}" text-anchor="end" '
            f'font-size="11" fill="{MUTED}" {FONT}>{_fmt(round(tick, 1))}</text>'
        )
    for value, tone in thresholds:
        _, y = xy(first, value)
        parts.append(
            f'<line class="threshold {escape(tone)}" x1="{left}" x2="{width - right}" '
            f'y1="{_num(y)}" y2="{_num(y)}" stroke="{TONES.get(tone, MUTED)}" stroke-width="1" '
            f'stroke-dasharray="4 3"><title>{escape(tone.title())} from {_fmt(value)}</title>'
            f"</line>"
            # Its meaning written on it, so the dashed lines need no legend.
            f'<text class="threshold-label" x="{width - right - 2}" y="{_num(y - 3)}" '
            f'text-anchor="end" font-size="10" fill="{TONES.get(tone, MUTED)}" {FONT}>'
            f"{escape(tone)} from {_fmt(value)}</text>"
        )
    coords = [xy(d, v) for d, v in points]
    parts.append(
        f'<polyline class="series" fill="none" stroke="{BAR}" stroke-width="2" points="'
        + " ".join(f"{_num(x)},{_num(y)}" for x, y in coords)
        + '"/>'
    )
    for (day, value), (x, y) in zip(points, coords, strict=True):
        parts.append(
            f'<circle class="point" cx="{_num(x)}" cy="{_num(y)}" r="3" fill="{BAR}">'
            f"<title>{day:%b %-d, %Y}: {_fmt(value)}</title></circle>"
        )
    ticks = [first] if first == last else [first, last]
    if span >= 14:
        ticks.insert(1, first + dt.timedelta(days=span // 2))
    for day in ticks:
        x, _ = xy(day, 0)
        if len(ticks) == 1:
            anchor = "middle"
        else:
            anchor = "start" if day == first else "end" if day == last else "middle"
        parts.append(
            f'<text class="tick" x="{_num(x)}" y="{height - 10}" text-anchor="{anchor}" '
            f'font-size="11" fill="{MUTED}" {FONT}>{day:%b %-d}</text>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text above is escaped
