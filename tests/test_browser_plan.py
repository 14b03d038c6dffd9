"""A CSM edits the mutual action plan in place, in Chromium, with htmx from static/vendor/.

The CSM signs in with email and password, opens step 4 of an onboarding, and without leaving the
page: sets a task to blocked (first without a reason: the error appears next to the field), makes
a task depend on another, moves a due date while shifting the tasks that depend on it, and adds
an internal note. The page never navigates (one navigation entry, and a value set on `window`
survives every edit). axe-core finds no serious or critical violation in any of those states.

Every page runs under the product's CSP; a console error, an uncaught exception or a CSP
violation fails the test. Screenshots go to artifacts/ (gitignored).
"""

from __future__ import annotations

import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
from django.db import connections

from onboarding.models import Milestone, Task, TaskDependency
from portal.tenancy.context import tenant_context
from tests.browser import ARTIFACTS, DESKTOP, PHONE, REPO_ROOT, ConsoleWatch, launch, sign_in
from tests.factories import build_world

pytestmark = pytest.mark.browser

HTMX = REPO_ROOT / "static" / "vendor" / "htmx.min.js"
PLAN_PATH = re.compile(r"/app/onboardings/\d+/plan/")


@pytest.fixture
def sync_api(sync_api):
    if not HTMX.exists():
        pytest.skip(
            f"{HTMX.relative_to(REPO_ROOT)} is missing: the build copies it from npm "
            "(npm ci --no-audit --no-fund, then node_modules/htmx.org/dist/htmx.min.js)"
        )
    return sync_api


def _plan(world):
    """A milestone with a chain (sandbox <- SSO <- pilot) and two loose tasks."""
    with tenant_context(world.tenant):
        milestone = Milestone.objects.create(
            onboarding=world.onboarding,
            name="Pilot live",
            success_criteria="Twenty users work in production for a week.",
            due_date=dt.date(2026, 12, 30),
            position=50,
        )

        def task(title, due, position, depends_on=(), side="vendor"):
            t = Task.objects.create(
                onboarding=world.onboarding,
                milestone=milestone,
                title=title,
                owner_side=side,
                owner_contact=world.contact if side == "customer" else None,
                due_date=due,
                position=position,
            )
            for d in depends_on:
                TaskDependency.objects.create(task=t, depends_on=d)
            return t

        sandbox = task("Provision the sandbox", dt.date(2026, 12, 7), 1)
        sso = task("Configure SSO", dt.date(2026, 12, 10), 2, [sandbox], side="customer")
        pilot = task("Run the pilot", dt.date(2026, 12, 15), 3, [sso])
        export = task("Export legacy data", dt.date(2026, 12, 8), 4, side="customer")
        train = task("Train the admins", dt.date(2026, 12, 18), 5)
    return milestone, sandbox, sso, pilot, export, train


def _blocking(axe, page, label: str) -> list[str]:
    results = axe.run(page)
    assert results.response["passes"], f"{label}: axe ran no rule"
    return [
        f"{label}: {v['id']} ({v['impact']}) {v['help']}: "
        + "; ".join(", ".join(map(str, n["target"])) for n in v["nodes"][:5])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _db(world, read):
    """Run a read in its own thread: Playwright's sync API keeps an event loop in this one, and
    Django refuses database calls from a thread with a running loop."""

    def run():
        try:
            with tenant_context(world.tenant):
                return read()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def _fresh(world, task) -> Task:
    return _db(world, lambda: Task.objects.get(pk=task.pk))


def test_a_csm_edits_the_plan_in_place(sync_api, live_server, settings):
    port = urlsplit(live_server.url).port
    settings.PORTAL_PORT = str(port)
    world = build_world("mapco")
    milestone, sandbox, sso, pilot, export, train = _plan(world)
    base = f"http://mapco.localhost:{port}"
    plan_url = f"{base}/app/onboardings/{world.onboarding.pk}/plan/"
    console = ConsoleWatch()
    # A form refused on purpose (400 errors, 409 conflict): Chromium logs those.
    console.allow_status(PLAN_PATH, 400, 409)
    expect = sync_api.expect
    from axe_playwright_python.sync_playwright import Axe

    axe, a11y = Axe(), []

    with sync_api.sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_context(viewport=DESKTOP).new_page()
            console.attach(page)

            sign_in(page, base, world.csm.email)

            page.goto(plan_url)
            expect(page.get_by_role("heading", name="Pilot live")).to_be_visible()
            assert page.evaluate("typeof htmx") == "object", "htmx did not load"
            page.evaluate("window.__stillHere = 'plan page'")
            page.locator(f"#milestone-{milestone.pk}").scroll_into_view_if_needed()
            page.screenshot(path=ARTIFACTS / "plan-editor.png", full_page=True)
            a11y += _blocking(axe, page, "plan page")

            def same_page() -> None:
                assert page.evaluate("window.__stillHere") == "plan page", "the page reloaded"
                assert page.evaluate("performance.getEntriesByType('navigation').length") == 1
                assert page.url == plan_url

            # 1. Status in place: blocked needs a reason, said next to the field.
            row = page.locator(f"#task-{export.pk}")
            row.get_by_role("link", name=re.compile(r"^Edit")).click()
            form = page.locator(f"#task-{export.pk} form")
            expect(form.get_by_label("Status")).to_be_visible()
            form.get_by_label("Status").select_option("blocked")
            form.get_by_role("button", name="Save task").click()
            error = page.locator(f"#edit-task-{export.pk}-blocked_reason-error")
            expect(error).to_have_text("Say what blocks the task.")
            page.screenshot(path=ARTIFACTS / "plan-blocked-needs-reason.png", full_page=False)
            a11y += _blocking(axe, page, "task form refused")
            page.locator(f"#task-{export.pk} form").get_by_label(
                "If blocked: what blocks it?"
            ).fill("Waiting for the legacy vendor's export")
            page.locator(f"#task-{export.pk} form").get_by_role("button", name="Save task").click()
            expect(page.locator(f"#task-{export.pk} [data-testid=status]")).to_have_text("Blocked")
            expect(page.locator("#plan-status")).to_have_text("Saved “Export legacy data”.")
            same_page()
            assert _fresh(world, export).status == "blocked"

            # 2. A dependency: "Train the admins" waits for "Run the pilot".
            page.locator(f"#task-{train.pk}").get_by_role("link", name=re.compile(r"^Edit")).click()
            form = page.locator(f"#task-{train.pk} form")
            form.get_by_label(re.compile(r"Run the pilot")).check()
            page.screenshot(path=ARTIFACTS / "plan-edit-form.png", full_page=False)
            form.get_by_role("button", name="Save task").click()
            expect(page.locator(f"#task-{train.pk} [data-testid=depends-on]")).to_contain_text(
                "Run the pilot"
            )
            same_page()
            prerequisites = _db(
                world,
                lambda: set(
                    TaskDependency.objects.filter(task=train).values_list(
                        "depends_on_id", flat=True
                    )
                ),
            )
            assert prerequisites == {pilot.pk}

            # 3. Move the sandbox by +3 days and shift everything that waits for it.
            page.locator(f"#task-{sandbox.pk}").get_by_role(
                "link", name=re.compile(r"^Move date")
            ).click()
            form = page.locator(f"#task-{sandbox.pk} form")
            shift = form.get_by_label(re.compile(r"Also shift the 3 open tasks"))
            expect(shift).to_be_checked()
            expect(form.locator("[data-testid=dependents]")).to_contain_text("Train the admins")
            form.get_by_label("New due date").fill("2026-12-10")
            page.screenshot(path=ARTIFACTS / "plan-move-date.png", full_page=False)
            a11y += _blocking(axe, page, "date form")
            form.get_by_role("button", name="Move date").click()
            expect(page.locator("#plan-status")).to_contain_text("3 dependent tasks shifted too")
            expect(page.locator(f"#task-{sso.pk} [data-testid=due]")).to_have_text("Dec 13, 2026")
            expect(page.locator(f"#task-{pilot.pk} [data-testid=due]")).to_have_text("Dec 18, 2026")
            expect(page.locator(f"#task-{train.pk} [data-testid=due]")).to_have_text("Dec 21, 2026")
            same_page()
            assert [_fresh(world, t).due_date.day for t in (sandbox, sso, pilot, train)] == [
                10,
                13,
                18,
                21,
            ]
            assert _fresh(world, export).due_date == dt.date(2026, 12, 8)  # not a dependent
            page.locator(f"#milestone-{milestone.pk}").scroll_into_view_if_needed()
            page.screenshot(path=ARTIFACTS / "plan-after-edits.png", full_page=True)

            # 4. An internal note on a task, in place.
            page.locator(f"#task-{sso.pk}").get_by_role(
                "link", name=re.compile(r"^Comments")
            ).click()
            panel = page.locator(f"#task-{sso.pk}-comments")
            panel.get_by_label("Add a comment").fill("Their IdP admin is on leave until Monday.")
            panel.get_by_label(re.compile("Internal note")).check()
            panel.get_by_role("button", name="Post").click()
            expect(panel.locator("[data-testid=comment]")).to_contain_text("Internal note")
            expect(page.locator(f"#task-{sso.pk}-comment-count")).to_have_text("1")
            panel.scroll_into_view_if_needed()
            page.screenshot(path=ARTIFACTS / "plan-comments.png", full_page=False)
            a11y += _blocking(axe, page, "comments open")
            panel.get_by_role("link", name="Close").click()
            expect(page.locator(f"#task-{sso.pk}-comments")).to_be_empty()
            same_page()

            # Phone width: the rows fold into one column.
            page.set_viewport_size(PHONE)
            page.locator(f"#task-{sso.pk}").scroll_into_view_if_needed()
            page.screenshot(path=ARTIFACTS / "plan-phone.png", full_page=False)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"the plan scrolls sideways on a phone ({width}px)"
            a11y += _blocking(axe, page, "phone")

            # Without JavaScript the same links and forms are pages, POSTs and redirects.
            context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
            context.add_cookies(page.context.cookies())
            plain = context.new_page()
            console.attach(plain)
            plain.goto(plan_url)
            plain.locator(f"#task-{pilot.pk}").get_by_role(
                "link", name=re.compile(r"^Edit")
            ).click()
            plain.wait_for_url(re.compile(rf"/tasks/{pilot.pk}/edit/$"))
            plain.get_by_label("Status").select_option("in_progress")
            plain.screenshot(path=ARTIFACTS / "plan-no-js-edit.png", full_page=False)
            plain.get_by_role("button", name="Save task").click()
            plain.wait_for_url(plan_url + f"#task-{pilot.pk}")
            expect(plain.locator(".flash")).to_contain_text("Saved “Run the pilot”.")
            expect(plain.locator(f"#task-{pilot.pk} [data-testid=status]")).to_have_text(
                "In progress"
            )
        finally:
            browser.close()

    console.assert_clean()
    assert a11y == [], "\n".join(a11y)
