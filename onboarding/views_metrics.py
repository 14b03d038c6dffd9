"""The tenant's success-metrics page and its CSV export (members only)."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from accounts.access import member_required
from onboarding.charts import Bar, bar_chart, histogram
from onboarding.metrics import Filters, MetricsReport, filter_choices, metrics_report

# A spreadsheet runs a cell that starts with one of these as a formula; some read the
# full-width forms as the ASCII ones.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Some spreadsheets skip what they do not show (spaces, control and format characters, a byte
# order mark) before they look.
_INVISIBLE_START = re.compile(r"^[\s\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2060-\u2064\ufeff]+")


def neutralise(value) -> str:
    """The cell as text, with a leading ' when a spreadsheet would read it as a formula."""
    text = "" if value is None else str(value)
    first_visible = _INVISIBLE_START.sub("", text)
    risky = text.startswith(FORMULA_PREFIXES) or first_visible.startswith(FORMULA_PREFIXES)
    return "'" + text if risky else text


HALF = 400  # the width of a chart shown in half of the page's column, so its text stays 11 px


def _charts(report: MetricsReport) -> dict:
    band_tone = {"green": "green", "yellow": "yellow", "red": "red"}
    return {
        "ttfv": histogram(
            report.ttfv_distribution,
            title="Time to first value, in days (onboardings)",
            width=HALF,
        ),
        "ttfv_model": bar_chart(
            [Bar(g.label, g.median) for g in report.ttfv_by_model],
            title="Median days to first value, by model",
            value_label="days",
            width=HALF,
        ),
        "ttfv_csm": bar_chart(
            [Bar(g.label, g.median) for g in report.ttfv_by_csm],
            title="Median days to first value, by CSM",
            value_label="days",
        ),
        "milestones": bar_chart(
            [Bar(g.label, g.rate) for g in [report.milestones, *report.milestones_by_model]],
            title="Milestones completed within the onboarding period, % of decided onboardings",
            value_label="%",
            max_value=100,
        ),
        "day30": histogram(report.day30.distribution, title="Health score at day 30", width=HALF),
        "day30_bands": bar_chart(
            [Bar(b.title(), n, band_tone[b]) for b, n in report.day30.bands.items()],
            title="Health band at day 30",
            value_label="onboardings",
            counts=True,
            width=HALF,
        ),
        "day90": histogram(report.day90.distribution, title="Health score at day 90", width=HALF),
        "day90_bands": bar_chart(
            [Bar(b.title(), n, band_tone[b]) for b, n in report.day90.bands.items()],
            title="Health band at day 90",
            value_label="onboardings",
            counts=True,
            width=HALF,
        ),
        "tickets": histogram(
            report.tickets_distribution, title="Support tickets in the first 90 days"
        ),
        "nps": bar_chart(
            [
                Bar(str(s), n, "green" if s >= 9 else "yellow" if s >= 7 else "red")
                for s, n in report.nps.distribution
            ],
            title="NPS answers at close, by score (0-10)",
            value_label="answers",
            counts=True,
        ),
    }


@member_required()
def metrics_page(request: HttpRequest) -> HttpResponse:
    filters, errors = Filters.from_query(request.GET)
    report = metrics_report(request.tenant, filters)
    params = filters.as_params()
    export_url = reverse("metrics:export") + (f"?{urlencode(params)}" if params else "")
    context = {
        "report": report,
        "filters": filters,
        "filter_errors": errors,
        "choices": filter_choices(),
        "charts": _charts(report),
        "export_url": export_url,
    }
    return render(request, "metrics/index.html", context)


CSV_HEADER = [
    "Customer",
    "Onboarding",
    "Model",
    "CSM",
    "Start date",
    "Status",
    "First value reached",
    "Days to first value",
    "Milestones within period",
    "Health day 30",
    "Band day 30",
    "Health day 90",
    "Band day 90",
    "Tickets in first 90 days",
    "90 days over",
    "NPS answers",
    "NPS comments",
]


def export_rows(report: MetricsReport):
    yield CSV_HEADER
    for row in report.rows:
        o = row.onboarding
        yield [
            o.customer.name,
            o.name,
            o.get_model_display(),
            row.csm_name,
            o.start_date.isoformat(),
            o.get_status_display(),
            row.first_value_date.isoformat() if row.first_value_date else "",
            "" if row.ttfv_days is None else row.ttfv_days,
            row.milestone_outcome,
            row.day30.score if row.day30 else "",
            row.day30.band if row.day30 else "",
            row.day90.score if row.day90 else "",
            row.day90.band if row.day90 else "",
            row.tickets_90,
            "yes" if row.tickets_window_complete else "no",
            " ".join(str(r.score) for r in row.nps),
            " | ".join(r.comment.strip() for r in row.nps if r.comment.strip()),
        ]


@member_required()
def metrics_export(request: HttpRequest) -> HttpResponse:
    filters, _ = Filters.from_query(request.GET)
    report = metrics_report(request.tenant, filters)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for cells in export_rows(report):
        writer.writerow([neutralise(c) for c in cells])
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    name = f"metrics-{request.tenant.slug}-{report.today:%Y-%m-%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["X-Content-Type-Options"] = "nosniff"
    return response
