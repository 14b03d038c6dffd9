"""The portfolio: dashboard figures, filters, search, sort and pages; my onboardings; everything
overdue; the overview and activity pages; what a viewer may do. Dates are relative to the tenant's
local today, so the hand-checked answers hold on any day the suite runs."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role, User
from accounts.services import add_member, create_tenant
from onboarding.health import ensure_formula
from onboarding.models import (
    ActivityEntry,
    Customer,
    HealthScore,
    Milestone,
    Onboarding,
    Task,
)
from onboarding.services import activity
from onboarding.services.plan import refresh_milestone
from portal.tenancy.context import tenant_context
from tests.conftest import client_for
from tests.factories import PASSWORD, World, build_world

pytestmark = pytest.mark.django_db


class Shop:
    """A tenant with no data but what a test makes, so every figure can be checked by hand."""

    def __init__(self, slug: str = "shop"):
        self.tenant = create_tenant(name=f"{slug.title()} Inc", slug=slug)
        self.users: dict[str, User] = {}
        for key, role, name in (
            ("casey", Role.CSM, "Casey Csm"),
            ("drew", Role.CSM, "Drew Other"),
            ("admin", Role.ADMIN, "Ada Admin"),
            ("viewer", Role.VIEWER, "Vic Viewer"),
            ("ae", Role.AE, "Abe Exec"),
        ):
            user = User.objects.create_user(f"{key}@{slug}.example", PASSWORD, full_name=name)
            add_member(self.tenant, user, role)
            self.users[key] = user
        self.today = self.tenant.local_today()

    @property
    def host(self) -> str:
        return f"{self.tenant.slug}.localhost"

    def client(self, key: str):
        return client_for(self, self.users[key])  # client_for needs .tenant and .host

    def day(self, offset: int) -> dt.date:
        return self.today + dt.timedelta(days=offset)

    def onboarding(
        self,
        customer: str,
        *,
        model: str = "high",
        status: str = "setup",
        owner: str | None = "casey",
        start: int = -10,
        tasks: tuple[tuple[str, int], ...] = (),
        milestones: tuple[tuple[str, int, bool], ...] = (),
    ) -> Onboarding:
        """tasks: (status, due offset); milestones: (name, due offset, achieved)."""
        with tenant_context(self.tenant):
            onboarding = Onboarding.objects.create(
                customer=Customer.objects.create(name=customer),
                name=f"{customer} rollout",
                model=model,
                status=status,
                owner=self.users[owner] if owner else None,
                start_date=self.day(start),
            )
            for i, (name, due, achieved) in enumerate(milestones):
                Milestone.objects.create(
                    onboarding=onboarding,
                    name=name,
                    due_date=self.day(due),
                    position=i,
                    achieved_at=dt.datetime.now(dt.UTC) if achieved else None,
                )
            for i, (status_, due) in enumerate(tasks):
                Task.objects.create(
                    onboarding=onboarding,
                    title=f"{customer} task {i}",
                    owner_side="vendor",
                    due_date=self.day(due),
                    status=status_,
                    blocked_reason="Waiting" if status_ == "blocked" else "",
                    position=i,
                )
            return onboarding

    def score(self, onboarding: Onboarding, band: str, score: float, days_ago: int, kind="daily"):
        formula = ensure_formula(self.tenant)
        with tenant_context(self.tenant):
            HealthScore.objects.create(
                onboarding=onboarding,
                formula=formula,
                kind=kind,
                for_date=self.day(-days_ago),
                usage=50,
                support=50,
                engagement=50,
                training=50,
                on_time=50,
                milestones=50,
                score=score,
                band=band,
            )


def names(response) -> list[str]:
    return [o.customer.name for o in response.context["page"]]


def post_forms(html: str) -> list[str]:
    """Actions of the POST forms on a page, sign-out aside."""
    actions = re.findall(r'<form[^>]*method="post"[^>]*action="([^"]*)"', html)
    actions += re.findall(r'<form[^>]*action="([^"]*)"[^>]*method="post"', html)
    return [a for a in actions if "logout" not in a]


# --- The dashboard's figures ------------------------------------------------------------------


def test_each_row_shows_progress_next_milestone_overdue_blocked_and_health():
    shop = Shop()
    acme = shop.onboarding(
        "Acme",
        tasks=(("complete", -5), ("complete", -3), ("not_started", -1), ("blocked", 4)),
        milestones=(
            ("Kickoff held", -8, True),
            ("Setup complete", 6, False),
            ("Go-live", 20, False),
        ),
    )
    # The first milestone is met by its tasks (all complete, the milestone refreshed as the
    # services do), so the next is the second one.
    with tenant_context(shop.tenant):
        first, second, _ = acme.milestones.order_by("position")
        Milestone.objects.filter(pk=first.pk).update(achieved_at=None)
        acme.tasks.filter(status="complete").update(milestone=first)
        assert refresh_milestone(first) == "achieved"
    shop.score(acme, "yellow", 55.0, days_ago=2)
    shop.score(acme, "green", 81.0, days_ago=1)  # the latest daily score wins
    shop.score(acme, "red", 12.0, days_ago=0, kind="day30")  # a snapshot is not the current
    shop.onboarding("Bare", tasks=(), milestones=())
    # A closed onboarding's open, past-due tasks are carried forward, not overdue.
    # ... and a milestone it left unmet is neither next nor late.
    shop.onboarding(
        "Done Co",
        status="closed",
        tasks=(("not_started", -4), ("blocked", 2)),
        milestones=(("Go-live", -3, False),),
    )

    response = shop.client("casey").get("/app/")
    assert response.status_code == 200
    rows = {o.customer.name: o for o in response.context["page"]}
    a = rows["Acme"]
    assert (a.task_count, a.tasks_done, a.tasks_blocked, a.overdue_count) == (4, 2, 1, 1)
    assert a.progress == 50.0
    assert (a.next_milestone_name, a.next_milestone_date) == ("Setup complete", shop.day(6))
    assert (a.health_band, a.health_score) == ("green", 81.0)
    bare = rows["Bare"]
    assert (bare.progress, bare.overdue_count, bare.next_milestone_name) == (0, 0, None)
    assert bare.health_band is None
    done = rows["Done Co"]
    assert (done.overdue_count, done.tasks_blocked, done.next_milestone_name) == (0, 0, None)

    html = response.text
    row = html.split(f'data-onboarding="{acme.pk}"')[1].split("</tr>")[0]
    assert 'value="50"' in row and "50% · 2/4" in row
    assert "Setup complete" in row and "Casey Csm" in row
    assert '<span class="tag overdue">1</span>' in row  # overdue and blocked
    assert "health-green" in row and "Green · 81" in row
    bare = rows["Bare"]
    bare_row = html.split(f'data-onboarding="{bare.pk}"')[1].split("</tr>")[0]
    assert "health-" not in bare_row and "0% · 0/0" in bare_row


def test_filters_search_and_sort_give_the_hand_checked_rows():
    shop = Shop()
    shop.onboarding("Acme", model="high", status="setup", start=-30, tasks=(("blocked", 3),))
    shop.onboarding(
        "Beta", model="mid", status="kickoff", owner="drew", start=-20, tasks=(("in_progress", -2),)
    )
    shop.onboarding("Cobalt", model="low", status="setup", start=-10, tasks=(("complete", -2),))
    shop.onboarding(
        "acme labs",
        model="mid",
        status="training",
        start=-5,
        tasks=(("complete", 1), ("not_started", 9)),
    )
    client = shop.client("casey")

    def got(query: str) -> list[str]:
        response = client.get(f"/app/{query}")
        assert response.status_code == 200
        return names(response)

    assert got("") == ["acme labs", "Cobalt", "Beta", "Acme"]  # newest start first
    assert got("?status=setup") == ["Cobalt", "Acme"]
    assert got("?model=mid") == ["acme labs", "Beta"]
    assert got(f"?csm={shop.users['drew'].pk}") == ["Beta"]
    assert got("?overdue=1") == ["Beta"]
    assert got("?blocked=1") == ["Acme"]
    assert got("?q=ACME") == ["acme labs", "Acme"]
    assert got("?q=acme&status=setup") == ["Acme"]
    assert got("?sort=customer") == ["Acme", "acme labs", "Beta", "Cobalt"]
    assert got("?sort=-customer") == ["Cobalt", "Beta", "acme labs", "Acme"]
    assert got("?sort=start") == ["Acme", "Beta", "Cobalt", "acme labs"]
    # progress: Acme 0/1, Beta 0/1, Cobalt 1/1 = 100, acme labs 1/2 = 50; ties by id.
    assert got("?sort=progress") == ["Acme", "Beta", "acme labs", "Cobalt"]
    assert got("?sort=-progress") == ["Cobalt", "acme labs", "Acme", "Beta"]


def test_sort_by_next_milestone_puts_onboardings_without_one_last():
    shop = Shop()
    shop.onboarding("Later", milestones=(("M", 10, False),))
    shop.onboarding("None left", milestones=(("M", 1, True),))
    shop.onboarding("Sooner", milestones=(("Met", -3, True), ("M", 2, False)))
    client = shop.client("casey")
    assert names(client.get("/app/?sort=next_milestone")) == ["Sooner", "Later", "None left"]
    assert names(client.get("/app/?sort=-next_milestone")) == ["Later", "Sooner", "None left"]
    html = client.get("/app/?sort=next_milestone").text
    assert 'aria-sort="ascending"' in html and "sort=-next_milestone" in html


def test_bad_filter_values_are_reported_next_to_the_field_and_ignored():
    shop = Shop()
    other = Shop("other")
    shop.onboarding("Acme")
    client = shop.client("casey")
    foreign = client.get(f"/app/?csm={other.users['casey'].pk}&model=high")
    unknown = client.get("/app/?csm=999999999&model=high")
    for response in (foreign, unknown):
        assert response.status_code == 200 and names(response) == ["Acme"]
        assert 'class="field has-error"' in response.text
        field = response.text.split('for="id_csm"')[1].split("</div>")[0]
        assert 'class="error"' in field and "valid choice" in field

    # Another tenant's member is refused exactly like an id that exists nowhere.
    def csm_field(response) -> str:
        return response.text.split('for="id_csm"')[1].split("</div>")[0]

    assert csm_field(foreign) == csm_field(unknown)
    assert "Casey Csm" in foreign.text and "Other Inc" not in foreign.text
    bad = client.get("/app/?status=nope&sort=nope")
    assert bad.status_code == 200 and names(bad) == ["Acme"]
    assert bad.text.count('class="error"') == 2


def test_pages_of_25_keep_the_filters_in_their_links():
    shop = Shop()
    for i in range(30):
        shop.onboarding(f"Match {i:02d}", model="mid")
    shop.onboarding("Elsewhere", model="mid")
    client = shop.client("casey")
    first = client.get("/app/?q=match&sort=customer")
    assert names(first) == [f"Match {i:02d}" for i in range(25)]
    assert "30 onboardings match these filters" in first.text
    next_link = re.search(r'<a href="([^"]+)" rel="next">', first.text)[1]
    assert "q=match" in next_link and "sort=customer" in next_link and "page=2" in next_link
    second = client.get("/app/" + next_link.replace("&amp;", "&"))
    assert names(second) == [f"Match {i:02d}" for i in range(25, 30)]
    assert 'rel="prev"' in second.text and 'rel="next"' not in second.text
    # A sort header starts again from the first page, keeping the filters.
    header = re.search(r'<a href="(\?[^"]*sort=-customer[^"]*)"', second.text)[1]
    assert "q=match" in header and "page=" not in header


def test_dashboard_queries_do_not_grow_with_the_onboardings_on_the_page():
    def count(n: int) -> int:
        shop = Shop(f"size{n}")
        for i in range(n):
            o = shop.onboarding(
                f"Customer {i}",
                owner="casey" if i % 2 else "drew",
                tasks=(("complete", -3), ("blocked", 2), ("not_started", -1)),
                milestones=(("A", -2, True), ("B", 5, False)),
            )
            shop.score(o, "green", 75.0, days_ago=1)
        client = shop.client("casey")
        client.get("/app/")  # warm the session
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/app/?sort=progress&csm=" + str(shop.users["casey"].pk))
        assert response.status_code == 200
        assert len(response.context["page"]) == min(n // 2, 25)
        with CaptureQueriesContext(connection) as plain:
            assert len(client.get("/app/").context["page"]) == min(n, 25)
        assert len(plain) <= len(queries)
        return len(queries)

    assert count(3 * 2) == count(30 * 2)


def test_my_onboardings_lists_only_the_signed_in_csms():
    shop = Shop()
    shop.onboarding("Mine one", owner="casey")
    shop.onboarding("Theirs", owner="drew")
    shop.onboarding("Nobody's", owner=None)
    shop.onboarding("Mine two", owner="casey", start=-1)
    response = shop.client("casey").get("/app/my/")
    assert response.status_code == 200
    assert names(response) == ["Mine two", "Mine one"]
    assert 'id="id_csm"' not in response.text  # nothing to choose: it is you
    assert names(shop.client("drew").get("/app/my/")) == ["Theirs"]
    # The other filters still apply; a csm parameter cannot widen it to someone else's.
    drew = shop.users["drew"].pk
    assert names(shop.client("casey").get(f"/app/my/?q=two&csm={drew}")) == ["Mine two"]


# --- Everything overdue -----------------------------------------------------------------------


def test_overdue_lists_open_past_due_tasks_across_onboardings():
    shop = Shop()
    acme = shop.onboarding(
        "Acme",
        tasks=(("not_started", -5), ("blocked", -1), ("complete", -9), ("in_progress", 0)),
    )
    shop.onboarding("Beta", owner="drew", tasks=(("in_progress", -2), ("not_started", 3)))
    shop.onboarding("Closed Co", status="closed", tasks=(("not_started", -4),))
    client = shop.client("viewer")
    response = client.get("/app/overdue/")
    assert response.status_code == 200
    rows = [(t.title, t.days_overdue) for t in response.context["page"]]
    # Most overdue first; complete tasks, tasks due today and closed onboardings are not listed.
    assert rows == [("Acme task 0", 5), ("Beta task 0", 2), ("Acme task 1", 1)]
    assert f'href="/app/onboardings/{acme.pk}/"' in response.text
    assert "Closed Co" not in response.text and "Acme task 2" not in response.text
    mine = shop.client("drew").get("/app/overdue/?mine=1")
    assert [t.title for t in mine.context["page"]] == ["Beta task 0"]


def test_overdue_queries_do_not_grow_with_the_tasks():
    def count(n: int) -> int:
        shop = Shop(f"late{n}")
        for i in range(n):
            shop.onboarding(f"C{i}", owner="casey" if i % 2 else "drew", tasks=(("blocked", -2),))
        client = shop.client("casey")
        client.get("/app/overdue/")
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/app/overdue/")
        assert len(response.context["page"]) == n
        return len(queries)

    assert count(3) == count(30)


# --- One onboarding: overview and activity -----------------------------------------------------


def test_overview_shows_summary_checklist_health_engagement_and_plan(tenant_a: World):
    shop_day = tenant_a.tenant.local_today()
    ensure_formula(tenant_a.tenant)
    with tenant_context(tenant_a.tenant):
        HealthScore.objects.create(
            onboarding=tenant_a.onboarding,
            formula=ensure_formula(tenant_a.tenant),
            kind="daily",
            for_date=shop_day,
            usage=1,
            support=1,
            engagement=1,
            training=1,
            on_time=1,
            milestones=1,
            score=33.0,
            band="red",
        )
    response = client_for(tenant_a, tenant_a.csm).get(f"/app/onboardings/{tenant_a.onboarding.pk}/")
    assert response.status_code == 200
    html = response.text
    assert 'aria-current="page">Overview' in html
    for anchor in ('id="summary"', 'id="checklist"', 'id="health"', 'id="engagement"'):
        assert anchor in html
    assert 'id="training"' in html and "Mutual action plan" in html
    assert "Red · 33" in html
    summary = html.split('id="summary"')[1].split("</section>")[0]
    assert "tasks complete" in summary and tenant_a.csm.get_full_name() in summary
    # The five phases, each item either from the data or with a tick form (a CSM is signed in).
    checklist = html.split('id="checklist"')[1].split('id="health"')[0]
    for phase in ("Pre-kickoff", "Kickoff", "Setup", "Training", "Go-live and close"):
        assert phase in checklist
    assert "from the data" in checklist
    assert post_forms(checklist) == [
        f"/app/onboardings/{tenant_a.onboarding.pk}/checklist/{key}/"
        for key in ("timeline-agreed", "kb-access-confirmed")
    ]


def test_activity_lists_entries_newest_first_with_actor_names(tenant_a: World):
    with tenant_context(tenant_a.tenant):
        first = activity.record(tenant_a.onboarding, tenant_a.csm, 'Moved "Kickoff" to Dec 12')
        second = activity.record(tenant_a.onboarding, None, "Reminder digest sent")
        third = activity.record(tenant_a.onboarding, tenant_a.admin, "Renamed the onboarding")
        ActivityEntry.objects.filter(pk=first.pk).update(
            created_at=dt.datetime(2026, 1, 1, 15, tzinfo=dt.UTC)
        )
    response = client_for(tenant_a, tenant_a.viewer).get(
        f"/app/onboardings/{tenant_a.onboarding.pk}/activity/"
    )
    assert response.status_code == 200
    assert [e.pk for e in response.context["page"]] == [third.pk, second.pk, first.pk]
    html = response.text
    assert 'aria-current="page">Activity' in html
    items = re.findall(r"<li>(.*?)</li>", html.split('class="activity-log"')[1], re.S)
    assert "Renamed the onboarding" in items[0] and tenant_a.admin.get_full_name() in items[0]
    assert "System" in items[1]
    assert tenant_a.csm.get_full_name() in items[2] and "Moved &quot;Kickoff&quot;" in items[2]
    assert "Jan 1, 2026 10:00" in items[2]  # New York time


def test_a_viewer_reads_everything_and_can_change_nothing(tenant_a: World):
    viewer = client_for(tenant_a, tenant_a.viewer)
    pk = tenant_a.onboarding.pk
    for path in ("/app/", "/app/my/", "/app/overdue/", f"/app/onboardings/{pk}/activity/"):
        response = viewer.get(path)
        assert response.status_code == 200, path
        assert post_forms(response.text) == [], path
    overview = viewer.get(f"/app/onboardings/{pk}/")
    assert overview.status_code == 200 and post_forms(overview.text) == []
    assert "ticked by hand" in overview.text  # the manual items are shown, not offered
    assert tenant_a.marker in viewer.get("/app/").text
    got = viewer.post(f"/app/onboardings/{pk}/checklist/timeline-agreed/", {"done": "1"})
    assert got.status_code == 404
    with tenant_context(tenant_a.tenant):
        assert not tenant_a.onboarding.ticks.exists()
        assert not ActivityEntry.objects.exists()


def test_another_tenants_onboarding_answers_like_a_missing_one(tenant_a, tenant_b):
    client = client_for(tenant_a, tenant_a.admin)
    for suffix in ("", "activity/"):
        foreign = client.get(f"/app/onboardings/{tenant_b.onboarding.pk}/{suffix}")
        missing = client.get(f"/app/onboardings/999999999/{suffix}")
        assert foreign.status_code == missing.status_code == 404
        assert foreign.content == missing.content
    foreign = client.post(f"/app/onboardings/{tenant_b.onboarding.pk}/checklist/timeline-agreed/")
    missing = client.post("/app/onboardings/999999999/checklist/timeline-agreed/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.content == missing.content
    assert tenant_b.marker not in client.get("/app/").text
    assert tenant_b.marker not in client.get("/app/overdue/").text


def test_overview_queries_do_not_grow_with_the_plan(db):
    def count(tasks: int) -> int:
        world = build_world(f"plan{tasks}", tasks=tasks)
        client = client_for(world, world.csm)
        url = f"/app/onboardings/{world.onboarding.pk}/"
        client.get(url)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200
        assert response.text.count('<tr class="status-') == tasks
        return len(queries)

    assert count(5) == count(60)
