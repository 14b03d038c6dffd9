"""The health score: hand-computed components, per-tenant formulas, snapshots on local dates."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import create_tenant
from onboarding.health import (
    FormulaError,
    changes_since_previous,
    compute_health,
    ensure_formula,
    explain,
    health_panel,
    new_formula_version,
    snapshot_start_dates,
    with_current_health,
)
from onboarding.models import (
    Contact,
    Customer,
    EngagementEvent,
    HandoffDocument,
    HealthFormula,
    HealthScore,
    Milestone,
    Onboarding,
    PortalAccess,
    SupportTicket,
    Task,
    TrainingCompletion,
    TrainingResource,
    UsageRecord,
)
from onboarding.services.invitations import invite_contact
from onboarding.services.plan import refresh_milestone
from portal.tenancy.context import tenant_context

UTC = dt.UTC
TODAY = dt.date(2025, 11, 14)  # a Friday; New York is on EST (UTC-5) since Nov 2


def utc(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def make_tenant(slug="health", tz="America/New_York"):
    return create_tenant(name=slug.title(), slug=slug, time_zone=tz)


def make_onboarding(name="Acme", *, start=dt.date(2025, 10, 1), status="setup", seats=None):
    customer = Customer.objects.create(name=name)
    onboarding = Onboarding.objects.create(
        customer=customer, name=f"{name} rollout", model="mid", start_date=start, status=status
    )
    HandoffDocument.objects.create(onboarding=onboarding, seats=seats)
    return onboarding


def invite(tenant, onboarding, who: str):
    contact = Contact.objects.create(
        onboarding=onboarding, side="customer", name=who, email=f"{who}@client.example"
    )
    return invite_contact(tenant, contact, send_email=False).user


def build_acme(tenant) -> Onboarding:
    """The fixture every number in TestHandComputed is worked out from (today = 2025-11-14)."""
    acme = make_onboarding("Acme", seats=10)
    customer = acme.customer
    # usage: records on T-13, T-8 and T (T-14 is outside): avg (6 + 8 + 7) / 3 = 7 of 10 seats
    for day, users in [((2025, 10, 31), 100), ((2025, 11, 1), 6), ((2025, 11, 6), 8), (TODAY, 7)]:
        date = dt.date(*day) if isinstance(day, tuple) else day
        UsageRecord.objects.create(customer=customer, date=date, active_users=users)
    # support: the last 30 local days are Oct 16 .. Nov 14 in New York
    for ext, opened in [
        ("in-first-day", utc(2025, 10, 16, 4, 30)),  # Oct 16 00:30 EDT: counted
        ("day-before", utc(2025, 10, 16, 3, 30)),  # Oct 15 23:30 EDT: too old
        ("late-today", utc(2025, 11, 15, 4, 30)),  # Nov 14 23:30 EST: counted
        ("tomorrow", utc(2025, 11, 15, 5, 30)),  # Nov 15 00:30 EST: not yet
    ]:
        SupportTicket.objects.create(customer=customer, external_id=ext, opened_at=opened)
    # engagement: 2 invited (a third revoked); window Nov 1 .. Nov 14 local
    ann, bob, cat = (invite(tenant, acme, w) for w in ("ann", "bob", "cat"))
    PortalAccess.objects.filter(onboarding=acme, user=cat).update(revoked_at=utc(2025, 11, 1))
    for user, kind, at in [
        (ann, "sign_in", utc(2025, 11, 3, 15)),
        (ann, "visit", utc(2025, 11, 3, 16)),  # same day as the sign-in
        (ann, "visit", utc(2025, 11, 10, 15)),
        (ann, "visit", utc(2025, 11, 14, 15)),
        (ann, "visit", utc(2025, 11, 15, 3)),  # Nov 14 22:00 EST: same local day again
        (ann, "resource", utc(2025, 11, 12, 15)),  # opening a resource is not a visit
        (ann, "visit", utc(2025, 10, 31, 15)),  # before the window
        (bob, "visit", utc(2025, 11, 1, 4, 30)),  # Nov 1 00:30 EDT: first day of the window
        (cat, "visit", utc(2025, 11, 5, 15)),  # revoked: not counted
        (cat, "visit", utc(2025, 11, 6, 15)),
    ]:
        EngagementEvent.objects.create(onboarding=acme, user=user, kind=kind, created_at=at)
    # training: 3 resources (+ a knowledge-base entry); ann did 2, cat (revoked) did all
    session, video, guide, kb = (
        TrainingResource.objects.create(onboarding=acme, title=t, kind=k)
        for t, k in [("Live", "session"), ("Video", "video"), ("Guide", "guide"), ("KB", "kb")]
    )
    done_at = utc(2025, 11, 10, 12)
    for user, resource in [(ann, session), (ann, video), (ann, kb)] + [
        (cat, r) for r in (session, video, guide)
    ]:
        TrainingCompletion.objects.create(resource=resource, user=user, completed_at=done_at)
    # milestones due before today: m1 achieved, m2 all tasks done, m3 a task open, m4 achieved
    m1, m2, m3, m4, _m5 = (
        Milestone.objects.create(onboarding=acme, name=n, due_date=d, position=i, achieved_at=a)
        for i, (n, d, a) in enumerate(
            [
                ("Kickoff", dt.date(2025, 11, 1), utc(2025, 11, 1, 12)),
                ("Setup", dt.date(2025, 11, 10), None),
                ("Integrations", dt.date(2025, 11, 12), None),
                ("Training", dt.date(2025, 11, 13), utc(2025, 11, 13, 12)),
                ("Go-live", dt.date(2025, 12, 1), None),
            ]
        )
    )
    # tasks due before today: t1, t7, t4 on time; t2 late; t3 open. t5 due today, t6 not yet.
    for title, due, status, done, milestone in [
        ("t1", (2025, 11, 1), "complete", utc(2025, 11, 2, 3), m2),  # Nov 1 23:00 EDT: on time
        ("t2", (2025, 11, 5), "complete", utc(2025, 11, 7, 15), m2),  # late
        ("t3", (2025, 11, 10), "in_progress", None, m3),
        ("t4", (2025, 11, 13), "complete", utc(2025, 11, 12, 15), m3),
        ("t5", (2025, 11, 14), "not_started", None, None),
        ("t6", (2025, 11, 20), "complete", utc(2025, 11, 1, 15), None),
        ("t7", (2025, 11, 3), "complete", utc(2025, 11, 3, 12), None),
    ]:
        Task.objects.create(
            onboarding=acme,
            title=title,
            owner_side="customer",
            due_date=dt.date(*due),
            status=status,
            completed_at=done,
            milestone=milestone,
        )
    # What the services do after every task change: m2's tasks are all complete, so it is reached.
    for milestone in (m1, m2, m3, m4):
        refresh_milestone(milestone)
    return acme


ACME = {
    "usage": 70.0,  # 100 * 7 / 10
    "support": 60.0,  # 100 - 20 * 2
    "engagement": 50.0,  # 100 * 4 user-days / (4 * 2 invited)
    "training": 33.3,  # 100 * 2 / (3 resources * 2 invited)
    "on_time": 60.0,  # 3 of 5 due before today
    "milestones": 75.0,  # 3 of 4 due before today
}
# (25*70 + 15*60 + 15*50 + 15*33.3 + 15*60 + 15*75) / 100 = 59.245
ACME_SCORE = 59.2


@pytest.fixture
def tenant(db):
    return make_tenant()


def score_of(onboarding, kind="daily", for_date=TODAY) -> HealthScore:
    return HealthScore.objects.get(onboarding=onboarding, kind=kind, for_date=for_date)


class TestHandComputed:
    def test_every_component_score_and_band(self, tenant):
        with tenant_context(tenant):
            acme = build_acme(tenant)
            assert compute_health(tenant, TODAY) == 1
            score = score_of(acme)
        assert {c: getattr(score, c) for c in ACME} == pytest.approx(ACME, abs=0.01)
        assert score.score == pytest.approx(ACME_SCORE, abs=0.001)
        assert score.band == "yellow"
        assert score.formula.version == 1

    def test_no_data_gives_the_documented_neutral_values(self, tenant):
        with tenant_context(tenant):
            empty = make_onboarding("Empty")
            compute_health(tenant, TODAY)
            score = score_of(empty)
        assert (score.usage, score.support, score.engagement) == (50, 100, 0)
        assert (score.training, score.on_time, score.milestones) == (50, 100, 100)
        # (25*50 + 15*100 + 15*0 + 15*50 + 15*100 + 15*100) / 100
        assert score.score == 65.0

    def test_caps_at_100_and_floors_at_0(self, tenant):
        with tenant_context(tenant):
            busy = make_onboarding("Busy", seats=2)
            UsageRecord.objects.create(customer=busy.customer, date=TODAY, active_users=9)
            for i in range(7):
                SupportTicket.objects.create(
                    customer=busy.customer, external_id=str(i), opened_at=utc(2025, 11, 10)
                )
            user = invite(tenant, busy, "dee")
            for day in range(1, 15):
                EngagementEvent.objects.create(
                    onboarding=busy, user=user, kind="visit", created_at=utc(2025, 11, day, 15)
                )
            compute_health(tenant, TODAY)
            score = score_of(busy)
        assert (score.usage, score.support, score.engagement) == (100, 0, 100)

    def test_explain_gives_each_components_contribution(self, tenant):
        with tenant_context(tenant):
            acme = build_acme(tenant)
            compute_health(tenant, TODAY)
            rows = explain(score_of(acme))
        assert [tuple(r) for r in rows] == [
            ("usage", 70.0, 25, 17.5),
            ("support", 60.0, 15, 9.0),
            ("engagement", 50.0, 15, 7.5),
            ("training", pytest.approx(33.3), 15, 5.0),
            ("on_time", 60.0, 15, 9.0),
            ("milestones", 75.0, 15, 11.2),  # 11.25
        ]
        assert sum(r.contribution for r in rows) == pytest.approx(ACME_SCORE, abs=0.1)


class TestFormula:
    def test_weights_and_thresholds_per_tenant_and_version_kept(self, tenant, db):
        other = make_tenant("other")
        new_formula_version(
            tenant,
            w_usage=50,
            w_support=10,
            w_engagement=10,
            w_training=10,
            w_on_time=10,
            w_milestones=10,
            green_min=60,
        )
        with tenant_context(tenant):
            acme = build_acme(tenant)
            compute_health(tenant, TODAY)
            mine = score_of(acme)
        with tenant_context(other):
            theirs = build_acme(other)
            compute_health(other, TODAY)
            default = score_of(theirs)
        # (50*70 + 10*(60 + 50 + 33.3 + 60 + 75)) / 100 = 62.83
        assert mine.score == pytest.approx(62.8)
        assert mine.band == "green"  # 62.8 >= 60 under this tenant's formula
        assert mine.formula.version == 2
        assert default.score == pytest.approx(ACME_SCORE)
        assert default.band == "yellow"
        assert default.formula.version == 1

    def test_old_scores_keep_the_formula_they_were_computed_with(self, tenant):
        with tenant_context(tenant):
            acme = build_acme(tenant)
            compute_health(tenant, TODAY - dt.timedelta(days=1))
        new_formula_version(tenant, w_usage=85, w_support=3, w_engagement=3, w_training=3,
                            w_on_time=3, w_milestones=3)  # fmt: skip
        with tenant_context(tenant):
            compute_health(tenant, TODAY)
            before = score_of(acme, for_date=TODAY - dt.timedelta(days=1))
            after = score_of(acme)
            changes = changes_since_previous(after)
        assert (before.formula.version, after.formula.version) == (1, 2)
        assert explain(before)[0].weight == 25
        assert explain(after)[0].weight == 85
        assert changes.formula_changed and changes.previous == before

    def test_ensure_formula_creates_version_1_once(self, tenant):
        first = ensure_formula(tenant)
        again = ensure_formula(tenant)
        assert first.pk == again.pk and first.version == 1
        assert first.weights() == {
            "usage": 25,
            "support": 15,
            "engagement": 15,
            "training": 15,
            "on_time": 15,
            "milestones": 15,
        }

    @pytest.mark.parametrize(
        "changes",
        [
            {
                "w_usage": 0,
                "w_support": 0,
                "w_engagement": 0,
                "w_training": 0,
                "w_on_time": 0,
                "w_milestones": 0,
            },  # fmt: skip
            {"green_min": 30, "yellow_min": 50},
            {"green_min": 101},
            {"w_bogus": 3},
        ],
    )
    def test_bad_formulas_are_refused(self, tenant, changes):
        with pytest.raises(FormulaError):
            new_formula_version(tenant, **changes)
        with tenant_context(tenant):
            assert not HealthFormula.objects.filter(version__gt=1).exists()


class TestRowsAndReruns:
    def test_rerun_of_a_day_changes_nothing(self, tenant):
        with tenant_context(tenant):
            acme = build_acme(tenant)
            make_onboarding("Beta", start=TODAY - dt.timedelta(days=30))
            first = compute_health(tenant, TODAY)
            before = list(HealthScore.objects.order_by("id").values())
            # New data arrives during the day: the day's score stays what it was.
            SupportTicket.objects.create(
                customer=acme.customer, external_id="new", opened_at=utc(2025, 11, 14, 18)
            )
            assert compute_health(tenant, TODAY) == 0
            after = list(HealthScore.objects.order_by("id").values())
        assert first == 3  # two daily scores and Beta's day-30 snapshot
        assert after == before

    def test_closed_onboardings_get_no_daily_score_but_their_snapshot(self, tenant):
        with tenant_context(tenant):
            closed = make_onboarding("Gone", start=TODAY - dt.timedelta(days=90), status="closed")
            old_closed = make_onboarding("Older", start=dt.date(2025, 1, 1), status="closed")
            compute_health(tenant, TODAY)
            kinds = list(HealthScore.objects.values_list("onboarding_id", "kind"))
        assert kinds == [(closed.pk, "day90")]
        assert old_closed.pk not in {o for o, _ in kinds}
        # Its page shows the snapshot, not "no health score yet".
        from django.template.loader import render_to_string

        with tenant_context(tenant):
            html = render_to_string("onboarding/_health.html", {"health": health_panel(closed)})
        day90 = html.split("<dt>Day 90</dt>")[1].split("</dd>")[0]
        assert "Not taken yet" not in day90 and "No daily score" in html

    def test_snapshot_is_taken_exactly_once(self, tenant):
        with tenant_context(tenant):
            o = make_onboarding("Once", start=TODAY - dt.timedelta(days=30))
            compute_health(tenant, TODAY)
            # The start date is corrected so that day 30 falls on a later day: no second snapshot.
            Onboarding.objects.filter(pk=o.pk).update(start_date=TODAY - dt.timedelta(days=29))
            compute_health(tenant, TODAY + dt.timedelta(days=1))
            snaps = list(
                HealthScore.objects.filter(kind="day30").values_list("for_date", flat=True)
            )
        assert snaps == [TODAY]

    def test_other_tenants_are_untouched(self, tenant, db):
        other = make_tenant("other")
        with tenant_context(other):
            theirs = make_onboarding("Theirs")
        with tenant_context(tenant):
            mine = make_onboarding("Mine")
            compute_health(tenant, TODAY)
        with tenant_context(other):
            assert not HealthScore.objects.exists()
        with tenant_context(tenant):
            assert list(HealthScore.objects.values_list("onboarding_id", flat=True)) == [mine.pk]
        assert theirs.pk != mine.pk

    def test_set_based_same_number_of_queries_for_5_and_50(self, tenant):
        def queries_for(n: int, day: dt.date) -> int:
            with tenant_context(tenant):
                for i in range(n):
                    o = make_onboarding(f"Bulk {day} {i}", seats=5)
                    invite(tenant, o, f"u{day:%d}{i}")
                    Task.objects.create(
                        onboarding=o,
                        title="t",
                        owner_side="vendor",
                        due_date=day,
                        status="complete",
                    )
                ensure_formula(tenant)
                with CaptureQueriesContext(connection) as ctx:
                    written = compute_health(tenant, day)
                assert written == HealthScore.objects.filter(for_date=day).count()
                return len(ctx.captured_queries)

        small = queries_for(5, TODAY)
        large = queries_for(50, TODAY + dt.timedelta(days=1))
        assert small == large
        # formula, the onboarding count that sizes the parts (PostgreSQL), jit off, the INSERT ...
        # SELECT, savepoints
        assert large <= 6


class TestLocalDates:
    def test_day_30_from_2025_10_15_is_2025_11_14(self):
        assert snapshot_start_dates(dt.date(2025, 11, 14))["day30"] == dt.date(2025, 10, 15)

    def test_day_90_from_2024_12_15_is_2025_03_15(self):
        assert snapshot_start_dates(dt.date(2025, 3, 15))["day90"] == dt.date(2024, 12, 15)

    @pytest.mark.parametrize(
        ("start", "kind", "on_day", "day_before"),
        [
            (dt.date(2025, 10, 15), "day30", dt.date(2025, 11, 14), dt.date(2025, 11, 13)),
            (dt.date(2024, 12, 15), "day90", dt.date(2025, 3, 15), dt.date(2025, 3, 14)),
        ],
    )
    def test_snapshot_taken_on_its_day_once(self, tenant, start, kind, on_day, day_before):
        with tenant_context(tenant):
            o = make_onboarding("Snap", start=start)
            compute_health(tenant, day_before)
            assert not HealthScore.objects.filter(kind=kind).exists()
            compute_health(tenant, on_day)
            compute_health(tenant, on_day + dt.timedelta(days=1))  # the next day: not again
            snap = HealthScore.objects.get(kind=kind)
        assert (snap.onboarding_id, snap.for_date) == (o.pk, on_day)

    def test_a_snapshot_missed_on_its_day_is_taken_late_within_the_window(self, tenant):
        """Every run of 2025-11-14 failed (say, the mail-and-worker host was down): the next
        successful run takes the day-30 snapshot, dated the day it was taken. Start dates more
        than SNAPSHOT_CATCH_UP_DAYS past their day-30 get none."""
        from onboarding.health import SNAPSHOT_CATCH_UP_DAYS
        from onboarding.tasks_health import pending_onboardings

        with tenant_context(tenant):
            late = make_onboarding("Late", start=dt.date(2025, 10, 15))
            make_onboarding("Too old", start=dt.date(2025, 10, 15) - dt.timedelta(days=8))
        next_day = utc(2025, 11, 15, 17)  # noon in New York on 2025-11-15
        assert pending_onboardings(next_day) == {tenant.pk: 2}  # two dailies + one late snapshot
        with tenant_context(tenant):
            compute_health(tenant, dt.date(2025, 11, 15))
            snaps = list(
                HealthScore.objects.filter(kind="day30").values_list("onboarding", "for_date")
            )
        assert snaps == [(late.pk, dt.date(2025, 11, 15))]
        assert pending_onboardings(next_day) == {}
        assert SNAPSHOT_CATCH_UP_DAYS == 7

    def test_snapshot_uses_the_tenants_local_date(self, tenant):
        """At 2025-11-15T03:30Z it is still 2025-11-14 (22:30) in New York: day 30 of an
        onboarding that started 2025-10-15 is captured in that run, dated 2025-11-14."""
        from onboarding.tasks_health import compute_health_for_tenant

        with tenant_context(tenant):
            o = make_onboarding("Edge", start=dt.date(2025, 10, 15))
        with mock.patch("django.utils.timezone.now", return_value=utc(2025, 11, 15, 3, 30)):
            assert tenant.local_today() == dt.date(2025, 11, 14)
            compute_health_for_tenant.delay(tenant_id=tenant.pk)
        with tenant_context(tenant):
            snap = HealthScore.objects.get(kind="day30")
            daily = HealthScore.objects.get(kind="daily")
        assert (snap.onboarding_id, snap.for_date) == (o.pk, dt.date(2025, 11, 14))
        assert daily.for_date == dt.date(2025, 11, 14)

    def test_a_utc_tenant_is_already_on_the_next_day_then(self, db):
        """The same instant is 2025-11-15 in London: its day 30 was yesterday, when it had no
        run, so the snapshot is taken late and dated the 15th (New York's above is the 14th)."""
        from onboarding.tasks_health import compute_health_for_tenant

        london = make_tenant("london", tz="UTC")
        with tenant_context(london):
            make_onboarding("Edge", start=dt.date(2025, 10, 15))
        with mock.patch("django.utils.timezone.now", return_value=utc(2025, 11, 15, 3, 30)):
            compute_health_for_tenant.delay(tenant_id=london.pk)
        with tenant_context(london):
            snap = HealthScore.objects.get(kind="day30")
            daily = HealthScore.objects.get(kind="daily")
        assert snap.for_date == daily.for_date == dt.date(2025, 11, 15)


class TestChangesAndPanel:
    def _score(self, onboarding, formula, day, **values):
        base = dict.fromkeys(HealthFormula.COMPONENTS, 50.0)
        base.update(values)
        return HealthScore.objects.create(
            onboarding=onboarding,
            formula=formula,
            kind="daily",
            for_date=day,
            score=values.pop("score", 50.0),
            band=values.pop("band", "yellow"),
            **{k: v for k, v in base.items() if k not in ("score", "band")},
        )

    def test_changes_since_previous(self, tenant):
        formula = ensure_formula(tenant)
        with tenant_context(tenant):
            o = make_onboarding("Moves")
            self._score(o, formula, TODAY - dt.timedelta(days=2), support=100.0, score=60.0)
            prev = self._score(o, formula, TODAY - dt.timedelta(days=1), support=80.0, score=57.0)
            now = self._score(o, formula, TODAY, support=40.0, usage=60.0, score=38.5, band="red")
            changes = changes_since_previous(now)
        assert changes.previous == prev
        assert changes.score_delta == -18.5
        assert changes.band_changed and not changes.formula_changed
        assert [(c.component, c.previous, c.current, c.delta) for c in changes.components] == [
            ("usage", 50.0, 60.0, 10.0),
            ("support", 80.0, 40.0, -40.0),
        ]

    def test_first_score_has_no_previous(self, tenant):
        with tenant_context(tenant):
            o = make_onboarding("First")
            compute_health(tenant, TODAY)
            changes = changes_since_previous(score_of(o))
        assert changes.previous is None and not changes.any

    def test_panel_in_one_query_and_renders(self, tenant, django_assert_num_queries):
        from django.template.loader import render_to_string

        with tenant_context(tenant):
            acme = build_acme(tenant)
            for back in (3, 2, 1, 0):
                compute_health(tenant, TODAY - dt.timedelta(days=back))
            with django_assert_num_queries(1):
                panel = health_panel(acme)
            html = render_to_string("onboarding/_health.html", {"health": panel})
        assert panel.current.for_date == TODAY
        assert [s.for_date for s in panel.trend] == [
            TODAY - dt.timedelta(days=b) for b in (3, 2, 1, 0)
        ]
        assert "<svg" in html and "<title" in html and 'role="img"' in html
        assert "style=" not in html
        for label in ("Product usage", "Support tickets", "Portal engagement"):
            assert label in html
        assert "59.2" in html and "Yellow" in html

    def test_badge_annotation(self, tenant):
        from django.template.loader import render_to_string

        with tenant_context(tenant):
            acme = build_acme(tenant)
            never = make_onboarding("Never", status="closed")
            compute_health(tenant, TODAY)
            rows = {o.pk: o for o in with_current_health(Onboarding.objects.all())}
        assert (rows[acme.pk].health_band, rows[acme.pk].health_score) == ("yellow", ACME_SCORE)
        assert rows[never.pk].health_band is None
        badge = render_to_string(
            "onboarding/_health_badge.html",
            {"band": rows[acme.pk].health_band, "score": rows[acme.pk].health_score},
        )
        assert "Yellow" in badge and "59" in badge
        empty = render_to_string("onboarding/_health_badge.html", {"band": None, "score": None})
        assert "No score" in empty


class TestInputs:
    """CSV ingestion of usage and tickets: all or nothing, line-numbered, idempotent."""

    @pytest.fixture
    def acme(self, tenant):
        with tenant_context(tenant):
            o = make_onboarding("Acme Corp", seats=10)
            Onboarding.objects.filter(pk=o.pk).update(crm_source="hubspot", crm_record_id="HS-9")
            make_onboarding("Globex")
            return o

    def test_usage_import_is_idempotent_and_updates_corrections(self, tenant, acme):
        from onboarding.services.health_inputs import import_usage

        data = (
            b"\xef\xbb\xbfCustomer,Date,Active users\r\n"
            b"acme corp,2025-11-13,6\r\n"
            b"HS-9,2025-11-14,7\r\n"
            b"Globex,2025-11-14,0\r\n"
        )
        first = import_usage(tenant, data)
        assert (first.ok, first.created, first.updated, first.unchanged) == (True, 3, 0, 0)
        again = import_usage(tenant, data)
        assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
        fixed = import_usage(tenant, b"customer,date,active_users\nAcme Corp,2025-11-14,9\n")
        assert (fixed.created, fixed.updated) == (0, 1)
        with tenant_context(tenant):
            rows = sorted(
                UsageRecord.objects.filter(customer=acme.customer).values_list(
                    "date", "active_users"
                )
            )
            assert UsageRecord.objects.count() == 3
        assert rows == [(dt.date(2025, 11, 13), 6), (dt.date(2025, 11, 14), 9)]

    def test_usage_import_is_all_or_nothing_with_line_numbers(self, tenant, acme):
        from onboarding.services.health_inputs import import_usage

        data = (
            b"customer,date,active_users\n"
            b"Acme Corp,2025-11-13,6\n"
            b"Nobody Inc,2025-11-13,6\n"
            b'"Acme\nCorp",2025-11-13,6\n'  # a record over two lines: the next starts on line 6
            b"Acme Corp,13/11/2025,-1\n"
            b"\n"
            b"acme corp,2025-11-13,7\n"
            b"Acme Corp,2099-01-01,1\n"
        )
        report = import_usage(tenant, data)
        assert not report.ok
        assert [str(e) for e in report.errors] == [
            'Line 3: No customer named, or with a CRM record id, "Nobody Inc".',
            'Line 4: No customer named, or with a CRM record id, "Acme\nCorp".',
            'Line 6: date "13/11/2025" is not a date (YYYY-MM-DD).',
            'Line 6: active_users "-1" is not a whole number from 0 to 10000000.',
            "Line 8: acme corp on 2025-11-13 is already on line 2.",
            "Line 9: date 2099-01-01 is in the future.",
        ]
        with tenant_context(tenant):
            assert not UsageRecord.objects.exists()

    def test_ticket_import(self, tenant, acme):
        from onboarding.services.health_inputs import import_tickets

        data = (
            b"customer,ticket_id,opened_at,subject\n"
            b"Acme Corp,T-1,2025-11-14 22:30,Login fails\n"  # New York time: 03:30Z next day
            b"HS-9,T-2,2025-11-14T10:00:00Z,\n"
            b"Globex,T-1,2025-11-01T09:00:00+01:00,Same id, another customer\n"
        )
        # The last row has an unquoted comma: an extra cell, ignored (subject is "Same id").
        report = import_tickets(tenant, data)
        assert (report.ok, report.created) == (True, 3)
        assert import_tickets(tenant, data).unchanged == 3
        with tenant_context(tenant):
            t1 = SupportTicket.objects.get(customer=acme.customer, external_id="T-1")
        assert t1.opened_at == utc(2025, 11, 15, 3, 30)
        assert t1.subject == "Login fails"

    def test_ticket_import_errors(self, tenant, acme):
        from onboarding.services.health_inputs import import_tickets

        data = (
            b"customer,ticket_id,opened_at\n"
            b"Acme Corp,T-1,yesterday\n"
            b"Acme Corp,,2025-11-14 10:00\n"
            b"Acme Corp,T-2,2025-11-14 10:00\n"
            b"acme corp,T-2,2025-11-15 10:00\n"
        )
        report = import_tickets(tenant, data)
        assert [e.line for e in report.errors] == [2, 3, 5]
        assert "is already on line 4" in report.errors[-1].message
        with tenant_context(tenant):
            assert not SupportTicket.objects.exists()

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"", "empty"),
            (b"customer,date\nAcme,2025-11-14\n", "Missing column(s): active_users"),
            (b"\xff\xfe", "not UTF-8"),
            (b'customer,date,active_users\n"Acme,2025-11-14,1\n', "not valid CSV"),
        ],
    )
    def test_unreadable_files(self, tenant, data, message):
        from onboarding.services.health_inputs import UnreadableCsv, import_usage

        with pytest.raises(UnreadableCsv, match=message.replace("(", r"\(").replace(")", r"\)")):
            import_usage(tenant, data)

    def test_ambiguous_customer_key(self, tenant, acme):
        from onboarding.services.health_inputs import import_usage

        with tenant_context(tenant):
            other = make_onboarding("HS-9")  # a customer literally named like Acme's CRM id
        report = import_usage(tenant, b"customer,date,active_users\nHS-9,2025-11-14,1\n")
        assert "names more than one customer" in report.errors[0].message
        assert other.customer_id != acme.customer_id

    def test_imported_data_feeds_the_score(self, tenant, acme):
        from onboarding.services.health_inputs import import_tickets, import_usage

        import_usage(tenant, b"customer,date,active_users\nHS-9,2025-11-10,5\n")
        import_tickets(tenant, b"customer,ticket_id,opened_at\nHS-9,T-1,2025-11-10 12:00\n")
        with tenant_context(tenant):
            compute_health(tenant, TODAY)
            score = score_of(acme)
        assert (score.usage, score.support) == (50.0, 80.0)  # 5 of 10 seats; one ticket


class TestFanOut:
    def test_batches_cover_at_least_1000_onboardings_each_but_the_last(self):
        import math
        import random

        from onboarding.batching import plan_batches

        assert plan_batches({1: 5, 2: 3000, 3: 400, 4: 700, 5: 0}) == [[1, 2], [3, 4]]
        rng = random.Random(7)
        for _ in range(200):
            pending = {t: rng.choice([1, 3, 50, 999, 1000, 1001, 40000]) for t in range(60)}
            batches = plan_batches(pending)
            assert sorted(t for b in batches for t in b) == sorted(pending)
            assert len(batches) <= math.ceil(sum(pending.values()) / 1000)

    def test_fan_out_sends_what_is_due_once_per_local_day(self, tenant, db):
        from onboarding import tasks_health

        london = make_tenant("london", tz="Europe/London")
        with tenant_context(tenant):
            for i in range(3):
                make_onboarding(f"NY {i}")
            make_onboarding("Closed", status="closed")
        with tenant_context(london):
            make_onboarding("LDN")
        moment = "2025-11-15T03:30:00+00:00"  # Nov 14 in New York, Nov 15 in London
        assert tasks_health.pending_onboardings(dt.datetime.fromisoformat(moment)) == {
            tenant.pk: 3,
            london.pk: 1,
        }
        sent = []
        with (
            mock.patch.object(
                tasks_health.compute_health_for_tenant, "delay", side_effect=sent.append
            ),
            mock.patch.object(
                tasks_health.compute_health_for_tenants,
                "delay",
                side_effect=lambda **kw: sent.append(kw),
            ),
        ):
            assert tasks_health.fan_out_health(moment) == 1  # 4 onboardings: one message
        assert sent == [{"tenant_ids": sorted([tenant.pk, london.pk])}]
        # Run it for real (eager), at that moment: each tenant scored on its own local date.
        with mock.patch("django.utils.timezone.now", return_value=utc(2025, 11, 15, 3, 30)):
            tasks_health.fan_out_health(moment)
        with tenant_context(tenant):
            assert set(HealthScore.objects.values_list("for_date", flat=True)) == {TODAY}
        with tenant_context(london):
            assert HealthScore.objects.get().for_date == dt.date(2025, 11, 15)
        # An hour later nothing is due: nothing is sent.
        assert tasks_health.fan_out_health("2025-11-15T04:30:00+00:00") == 0
        # After New York's midnight, only New York is due again.
        assert tasks_health.pending_onboardings(utc(2025, 11, 15, 5, 30)) == {tenant.pk: 3}

    def test_a_failing_tenant_does_not_stop_the_others(self, tenant, db):
        from onboarding import tasks_health

        other = make_tenant("other")
        with tenant_context(tenant):
            make_onboarding("A")
        with tenant_context(other):
            make_onboarding("B")
        real = tasks_health.compute_health

        def flaky(t, today):
            if t.pk == tenant.pk:
                raise RuntimeError("boom")
            return real(t, today)

        with (
            mock.patch.object(tasks_health, "compute_health", side_effect=flaky),
            pytest.raises(RuntimeError, match="failed for tenants"),
        ):
            tasks_health.compute_health_for_tenants.run([tenant.pk, other.pk])
        with tenant_context(other):
            assert HealthScore.objects.count() == 1
        assert tasks_health.pending_onboardings() == {tenant.pk: 1}


class TestPartsRunAtOnce:
    """A large tenant's run is split into ranges of onboarding ids, computed on separate
    connections at once (PostgreSQL) or in turn (SQLite); the result is the same rows."""

    COLUMNS = ("onboarding_id", "kind", "for_date", "usage", "support", "engagement",
               "training", "on_time", "milestones", "score", "band", "formula_id")  # fmt: skip

    def _world(self, tenant) -> None:
        build_acme(tenant)
        for i in range(7):
            onboarding = make_onboarding(
                f"Co{i}", start=TODAY - dt.timedelta(days=(30, 90, 12)[i % 3]), seats=5 + i
            )
            UsageRecord.objects.create(customer=onboarding.customer, date=TODAY, active_users=i)
            Task.objects.create(
                onboarding=onboarding, title="late", owner_side="vendor",
                due_date=TODAY - dt.timedelta(days=2), status="complete" if i % 2 else "blocked",
                blocked_reason="" if i % 2 else "Waiting on access",
                completed_at=utc(2025, 11, 13, 12) if i % 2 else None, blocked_on=TODAY,
            )  # fmt: skip
        make_onboarding("Closed", start=TODAY - dt.timedelta(days=90), status="closed")

    def _rows(self) -> list[tuple]:
        return sorted(HealthScore.objects.values_list(*self.COLUMNS))

    @pytest.mark.django_db(transaction=True)
    def test_three_parts_write_exactly_what_one_run_writes(self):
        from onboarding.health import _id_ranges

        tenant = make_tenant()
        with tenant_context(tenant):
            self._world(tenant)
            # 8 daily; day-30 snapshots for Co0, Co3, Co6; day-90 for Co1, Co4 and the closed one
            assert compute_health(tenant, TODAY, parts=1) == 14
            whole = self._rows()
            HealthScore.objects.all().delete()
            ranges = _id_ranges(tenant, 3)
            assert len(ranges) == 3 and ranges[0][0] == 0
            assert all(a < b and b == ranges[i + 1][0] for i, (a, b) in enumerate(ranges[:-1]))
        # Outside any transaction, as the worker calls it: on PostgreSQL each part is a thread
        # with its own connection.
        assert compute_health(tenant, TODAY, parts=3) == 14
        with tenant_context(tenant):
            assert self._rows() == whole
        assert compute_health(tenant, TODAY, parts=3) == 0  # a rerun writes nothing

    def test_parts_follow_the_tenant_size(self, tenant, settings):
        from onboarding.health import health_parts

        settings.HEALTH_ONBOARDINGS_PER_PART = 3
        settings.HEALTH_MAX_PARTS = 2
        with tenant_context(tenant):
            make_onboarding("One")
            make_onboarding("Two")
        expected = 1
        assert health_parts(tenant) == expected  # 2 onboardings: below one part's worth
        with tenant_context(tenant):
            for name in ("Three", "Four", "Five", "Six", "Seven"):
                make_onboarding(name)
        on_postgres = connection.vendor == "postgresql"
        assert health_parts(tenant) == (2 if on_postgres else 1)  # 7 // 3, capped at 2


def test_an_onboarding_that_has_not_started_gets_no_score_yet(tenant):
    with tenant_context(tenant):
        started = make_onboarding("Started", start=TODAY)
        make_onboarding("Next week", start=TODAY + dt.timedelta(days=7))
        assert compute_health(tenant, TODAY) == 1
        assert list(HealthScore.objects.values_list("onboarding_id", flat=True)) == [started.pk]


def test_an_onboarding_that_has_not_started_is_not_pending_for_the_fan_out(tenant):
    """Otherwise the hourly fan-out would send its tenant's run again and again, writing nothing."""
    from onboarding import tasks_health

    with tenant_context(tenant):
        make_onboarding("Started", start=TODAY)
        make_onboarding("Next week", start=TODAY + dt.timedelta(days=7))
    noon = utc(2025, 11, 14, 17)  # TODAY in New York
    assert tasks_health.pending_onboardings(noon) == {tenant.pk: 1}
    with tenant_context(tenant):
        compute_health(tenant, TODAY)
    assert tasks_health.pending_onboardings(noon) == {}


def test_a_start_date_moved_later_hides_the_scores_from_before_it(tenant):
    from onboarding.health import health_panel, with_current_health

    with tenant_context(tenant):
        onboarding = make_onboarding("Moved", start=TODAY - dt.timedelta(days=3))
        compute_health(tenant, TODAY)
        Onboarding.objects.filter(pk=onboarding.pk).update(start_date=TODAY + dt.timedelta(days=7))
        onboarding.refresh_from_db()
        row = with_current_health(Onboarding.objects.filter(pk=onboarding.pk)).get()
        assert row.health_score is None
        assert health_panel(onboarding).current is None
