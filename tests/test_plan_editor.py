"""Step 4: the mutual action plan editor in the workspace.

Each rule is proved through the pages (plain forms and htmx requests) and, where it matters, the
service directly: CRUD and order of tasks and milestones, dependency loops and foreign ids refused
next to the field, due-date moves with and without shifting the (transitive) dependents, milestones
achieved and reopened, blocked needs a reason, version conflicts, read-only for closed plans and
for viewers, fragments for htmx and redirects otherwise, and a fixed number of queries.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from onboarding.models import (
    ActivityEntry,
    CalendarTombstone,
    Customer,
    Milestone,
    Onboarding,
    Playbook,
    Task,
    TaskComment,
    TaskDependency,
)
from onboarding.services import plan
from onboarding.services.playbooks import start_onboarding
from portal.tenancy.context import tenant_context
from tests.conftest import client_for
from tests.factories import build_world

HX = {"HTTP_HX_REQUEST": "true"}
CONFLICT = "This task changed since you opened it"


# --- Helpers ------------------------------------------------------------------------------------


def url(world, name: str, **kwargs) -> str:
    return reverse(f"workspace:{name}", kwargs={"onboarding_id": world.onboarding.pk, **kwargs})


def new_task(world, title, *, due=dt.date(2026, 12, 1), depends_on=(), **fields) -> Task:
    fields.setdefault("owner_side", "vendor")
    with tenant_context(world.tenant):
        task = Task.objects.create(onboarding=world.onboarding, title=title, due_date=due, **fields)
        for prerequisite in depends_on:
            TaskDependency.objects.create(task=task, depends_on=prerequisite)
    return task


def new_milestone(world, name="Pilot live", due=dt.date(2026, 12, 20)) -> Milestone:
    with tenant_context(world.tenant):
        return Milestone.objects.create(
            onboarding=world.onboarding, name=name, due_date=due, position=99
        )


def fresh(world, obj):
    with tenant_context(world.tenant):
        return type(obj).objects.get(pk=obj.pk)


def prerequisites(world, task) -> set[int]:
    with tenant_context(world.tenant):
        return set(TaskDependency.objects.filter(task=task).values_list("depends_on_id", flat=True))


def form_data(world, task: Task, **changes) -> dict:
    task = fresh(world, task)
    data = {
        "title": task.title,
        "description": task.description,
        "milestone": task.milestone_id or "",
        "owner_side": task.owner_side,
        "owner_contact": task.owner_contact_id or "",
        "due_date": task.due_date.isoformat(),
        "status": task.status,
        "blocked_reason": task.blocked_reason,
        "depends_on": sorted(prerequisites(world, task)),
        "version": task.version,
    }
    data.update(changes)
    return data


def field_error(html: str, field_id: str) -> str:
    """The error paragraph rendered next to a field (templates/signin/_field.html markup)."""
    match = re.search(rf'<p class="error" id="{re.escape(field_id)}-error"[^>]*>(.*?)</p>', html)
    assert match, f"no error next to #{field_id}"
    return match.group(1)


def activity(world) -> list[str]:
    with tenant_context(world.tenant):
        return list(
            ActivityEntry.objects.filter(onboarding=world.onboarding).values_list("text", flat=True)
        )


def snapshot(world) -> list[tuple]:
    with tenant_context(world.tenant):
        return [
            list(Task.objects.order_by("pk").values_list()),
            list(Milestone.objects.order_by("pk").values_list()),
            list(TaskDependency.objects.order_by("pk").values_list()),
            list(TaskComment.objects.order_by("pk").values_list()),
        ]


@pytest.fixture
def world(tenant_a):
    return tenant_a


@pytest.fixture
def csm(world):
    return client_for(world, world.csm)


# --- The page -----------------------------------------------------------------------------------


def test_plan_page_shows_milestones_tasks_and_the_editor(world, csm):
    response = csm.get(url(world, "plan"))
    assert response.status_code == 200
    html = response.text
    with tenant_context(world.tenant):
        milestones = list(world.onboarding.milestones.order_by("position"))
        tasks = list(world.onboarding.tasks.all())
    for milestone in milestones:
        assert f'id="milestone-{milestone.pk}-head"' in html
    for task in tasks:
        assert f'id="task-{task.pk}"' in html
    assert 'aria-current="page">4 Plan<' in html  # the step tab
    assert 'name="htmx-config"' in html and "vendor/htmx.min.js" in html
    assert "Add a task" in html and "Add a milestone" in html
    assert url(world, "task-edit", task_id=world.task.pk) in html
    assert " style=" not in html.split("<body>")[1]  # CSP: no inline styles
    assert "hx-on" not in html  # it would need eval


def test_plan_page_query_count_is_the_same_for_10_and_100_tasks(db):
    def queries(world) -> int:
        with tenant_context(world.tenant):
            tasks = list(world.onboarding.tasks.order_by("pk"))
            milestones = list(world.onboarding.milestones.order_by("pk"))
            for i, task in enumerate(tasks):
                task.milestone = milestones[i % len(milestones)]
                task.owner_contact = world.contact if task.owner_side == "customer" else None
            Task.objects.bulk_update(tasks, ["milestone", "owner_contact"])
            TaskDependency.objects.bulk_create(
                TaskDependency(task=b, depends_on=a) for a, b in zip(tasks, tasks[1:], strict=False)
            )
            TaskComment.objects.bulk_create(
                TaskComment(task=t, author=world.csm, body="note") for t in tasks
            )
        client = client_for(world, world.csm)
        client.get(url(world, "plan"))
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url(world, "plan"))
        assert response.status_code == 200
        assert response.text.count('class="task-row status-') == len(tasks)
        return len(captured)

    small = queries(build_world("small", tasks=10))
    large = queries(build_world("large", tasks=100))
    assert small == large


# --- Tasks: add, edit, order, delete ------------------------------------------------------------


def test_add_task_without_javascript_redirects_to_the_new_row(world, csm):
    milestone = new_milestone(world)
    existing = new_task(world, "Existing", milestone=milestone, position=4)
    response = csm.post(
        url(world, "task-add"),
        {
            "title": "  Configure SSO  ",
            "milestone": milestone.pk,
            "owner_side": "customer",
            "owner_contact": world.contact.pk,
            "due_date": "2026-12-12",
            "status": "not_started",
            "depends_on": [existing.pk],
        },
    )
    assert response.status_code == 302
    with tenant_context(world.tenant):
        task = Task.objects.get(title="Configure SSO")
    assert response["Location"] == url(world, "plan") + f"#task-{task.pk}"
    assert task.milestone_id == milestone.pk and task.owner_contact_id == world.contact.pk
    assert task.position == 5  # at the end of its milestone's list
    assert prerequisites(world, task) == {existing.pk}
    assert any("added “Configure SSO” (due Dec 12)" in t for t in activity(world))
    page = csm.get(response["Location"])
    assert "Added “Configure SSO”." in page.text  # the flash message


def test_add_task_by_htmx_answers_with_the_plan_body(world, csm):
    response = csm.post(
        url(world, "task-add"),
        {
            "title": "Kick the tyres",
            "owner_side": "vendor",
            "due_date": "2026-12-03",
            "status": "not_started",
        },
        **HX,
    )
    assert response.status_code == 200
    assert response["HX-Retarget"] == "#plan-body" and response["HX-Reswap"] == "outerHTML"
    assert response.text.startswith('<div id="plan-body"')
    assert "<html" not in response.text and "Kick the tyres" in response.text
    assert 'id="plan-status" class="plan-status" role="status" hx-swap-oob="true"' in response.text


def test_bad_task_input_is_refused_next_to_each_field_and_nothing_is_saved(world, csm, tenant_b):
    with tenant_context(tenant_b.tenant):
        foreign_milestone = tenant_b.milestone.pk
    before = snapshot(world)
    response = csm.post(
        url(world, "task-add"),
        {
            "title": "",
            "owner_side": "customer",
            "due_date": "2026-02-31",
            "status": "blocked",
            "blocked_reason": "  ",
            "milestone": foreign_milestone,
            "depends_on": ["999999"],
        },
    )
    assert response.status_code == 400
    html = response.text
    assert "required" in field_error(html, "add-task-title")
    assert "valid date" in field_error(html, "add-task-due_date")
    assert field_error(html, "add-task-blocked_reason") == "Say what blocks the task."
    assert "valid choice" in field_error(html, "add-task-milestone")
    assert "valid choice" in field_error(html, "add-task-depends_on")
    assert snapshot(world) == before


def test_owner_person_must_sit_on_the_owner_side(world, csm):
    task = new_task(world, "Vendor work", owner_side="vendor")
    response = csm.post(
        url(world, "task-edit", task_id=task.pk),
        form_data(world, task, owner_contact=world.contact.pk),  # a customer contact
    )
    assert response.status_code == 400
    assert "on the vendor side" in field_error(response.text, f"edit-task-{task.pk}-owner_contact")
    assert fresh(world, task).owner_contact_id is None


def test_edit_task_in_place_returns_the_row_and_the_milestone_header(world, csm):
    milestone = new_milestone(world)
    task = new_task(world, "Load users", milestone=milestone)
    form = csm.get(url(world, "task-edit", task_id=task.pk), **HX)
    assert form.status_code == 200
    assert form.text.lstrip().startswith('<article class="task-row editing"')
    assert "<html" not in form.text and 'name="version" value="1"' in form.text

    response = csm.post(
        url(world, "task-edit", task_id=task.pk),
        form_data(world, task, status="in_progress", description="All 40 seats"),
        **HX,
    )
    assert response.status_code == 200
    html = response.text
    assert re.match(rf'<article class="task-row status-in_progress[^"]*" id="task-{task.pk}"', html)
    assert 'data-testid="status">In progress<' in html
    assert f'id="milestone-{milestone.pk}-head" hx-swap-oob="true"' in html
    saved = fresh(world, task)
    assert (saved.status, saved.description, saved.version) == ("in_progress", "All 40 seats", 2)
    assert any(
        "changed “Load users”: status In progress, description" in t for t in activity(world)
    )


def test_edit_task_without_javascript_redirects(world, csm):
    task = new_task(world, "Load users")
    response = csm.post(
        url(world, "task-edit", task_id=task.pk), form_data(world, task, title="Load all users")
    )
    assert response.status_code == 302
    assert response["Location"] == url(world, "plan") + f"#task-{task.pk}"
    assert fresh(world, task).title == "Load all users"
    page = csm.get(url(world, "task-edit", task_id=task.pk))  # the no-JS edit page
    assert page.status_code == 200 and "<html" in page.text and "← Back to the plan" in page.text


def test_blocked_needs_a_reason(world, csm):
    task = new_task(world, "Import data")
    response = csm.post(
        url(world, "task-edit", task_id=task.pk), form_data(world, task, status="blocked"), **HX
    )
    assert response.status_code == 400
    assert field_error(response.text, f"edit-task-{task.pk}-blocked_reason") == (
        "Say what blocks the task."
    )
    assert fresh(world, task).status == "not_started" and fresh(world, task).version == 1

    response = csm.post(
        url(world, "task-edit", task_id=task.pk),
        form_data(world, task, status="blocked", blocked_reason="Waiting for the CSV export"),
        **HX,
    )
    assert response.status_code == 200
    saved = fresh(world, task)
    assert (saved.status, saved.blocked_reason) == ("blocked", "Waiting for the CSV export")
    assert saved.blocked_on is not None
    # And the service says the same to any other caller.
    with tenant_context(world.tenant), pytest.raises(ValidationError) as caught:
        plan.edit_task(
            saved, {"status": "blocked", "blocked_reason": ""}, expected_version=None, by=None
        )
    assert caught.value.message_dict == {"blocked_reason": ["Say what blocks the task."]}


def test_reorder_tasks_within_their_milestone(world, csm):
    milestone = new_milestone(world)
    a, b, c = (new_task(world, t, milestone=milestone, position=7) for t in "ABC")

    def order():
        with tenant_context(world.tenant):
            return list(
                Task.objects.filter(milestone=milestone)
                .order_by("position", "id")
                .values_list("title", flat=True)
            )

    assert order() == ["A", "B", "C"]
    response = csm.post(url(world, "task-move", task_id=c.pk), {"direction": "up"})
    assert response.status_code == 302 and response["Location"].endswith(f"#task-{c.pk}")
    assert order() == ["A", "C", "B"]
    response = csm.post(url(world, "task-move", task_id=a.pk), {"direction": "down"}, **HX)
    assert response.status_code == 200 and response["HX-Retarget"] == "#plan-body"
    assert order() == ["C", "A", "B"]
    csm.post(url(world, "task-move", task_id=c.pk), {"direction": "up"})  # already first
    assert order() == ["C", "A", "B"]
    assert fresh(world, a).version == 1  # order is not content: open forms stay valid
    assert csm.get(url(world, "task-move", task_id=a.pk)).status_code == 405


def test_delete_task_names_its_dependents_first_and_removes_the_dependency_rows(world, csm):
    a = new_task(world, "Provision tenant")
    b = new_task(world, "Configure SSO", depends_on=[a])
    new_task(world, "Go live", depends_on=[b])
    ask = csm.get(url(world, "task-delete", task_id=b.pk), **HX)
    assert ask.status_code == 200 and "1 task depends on it" in ask.text and "Go live" in ask.text
    # A POST without the confirmation deletes nothing.
    refused = csm.post(url(world, "task-delete", task_id=b.pk), {})
    assert refused.status_code == 400 and "Nothing was deleted" in refused.text
    assert fresh(world, b)
    response = csm.post(url(world, "task-delete", task_id=b.pk), {"confirm": "True"})
    assert response.status_code == 302 and response["Location"] == url(world, "plan")
    with tenant_context(world.tenant):
        assert not Task.objects.filter(pk=b.pk).exists()
        assert not TaskDependency.objects.filter(task_id=b.pk).exists()
        assert not TaskDependency.objects.filter(depends_on_id=b.pk).exists()
        assert Task.objects.filter(title="Go live").exists()
        # The service refuses without confirmation when others depend on the task.
        with pytest.raises(ValidationError, match="depends on this task"):
            b2 = new_task(world, "Pilot", depends_on=[a])
            plan.delete_task(fresh(world, a), by=world.csm)
        assert Task.objects.filter(pk=b2.pk).exists()
    assert any("deleted “Configure SSO” (1 task depended on it)" in t for t in activity(world))


# --- Dependencies -------------------------------------------------------------------------------


def test_a_dependency_loop_is_refused_next_to_the_field(world, csm):
    a = new_task(world, "A")
    b = new_task(world, "B", depends_on=[a])
    c = new_task(world, "C", depends_on=[b])
    before = snapshot(world)
    response = csm.post(
        url(world, "task-edit", task_id=a.pk),
        form_data(world, a, depends_on=[c.pk], title="A renamed"),
        **HX,
    )
    assert response.status_code == 400
    message = field_error(response.text, f"edit-task-{a.pk}-depends_on")
    assert "That would make a loop: “A” → “C” → “B” → “A”." in message
    fieldset = response.text.split('<fieldset class="wide field checklist has-error"')[1]
    assert message in fieldset.split("</fieldset>")[0]  # next to the field it is about
    assert snapshot(world) == before  # not even the title changed

    with tenant_context(world.tenant):
        with pytest.raises(ValidationError, match="loop"):
            plan.set_dependencies(fresh(world, a), [c], by=world.csm)
        with pytest.raises(ValidationError, match="cannot depend on itself"):
            plan.set_dependencies(fresh(world, a), [a], by=world.csm)
        # A harmless change goes through and is recorded.
        d = new_task(world, "D")
        plan.set_dependencies(fresh(world, c), [b, d], by=world.csm)
    assert prerequisites(world, c) == {b.pk, d.pk}
    assert fresh(world, c).version == 2
    assert any("“C” now depends on “D”" in t for t in activity(world))


def test_another_onboardings_task_is_refused_like_an_unknown_id(world, csm, tenant_b):
    with tenant_context(world.tenant):
        other = start_onboarding(
            customer=Customer.objects.create(name="Other customer"),
            playbook=Playbook.objects.get(model="low", is_default=True),
            start_date=world.onboarding.start_date,
            name="Other rollout",
        )
        other_task = other.tasks.order_by("pk").first()
    with tenant_context(tenant_b.tenant):
        foreign_task = tenant_b.task.pk
    a = new_task(world, "A")
    answers = {}
    for label, bad_id in (("other", other_task.pk), ("foreign", foreign_task), ("none", 999999)):
        response = csm.post(
            url(world, "task-edit", task_id=a.pk), form_data(world, a, depends_on=[bad_id]), **HX
        )
        assert response.status_code == 400
        answers[label] = field_error(response.text, f"edit-task-{a.pk}-depends_on").replace(
            str(bad_id), "<ID>"
        )
    assert answers["other"] == answers["foreign"] == answers["none"]
    assert prerequisites(world, a) == set() and fresh(world, a).version == 1
    with tenant_context(world.tenant), pytest.raises(ValidationError) as caught:
        plan.set_dependencies(fresh(world, a), [other_task.pk], by=None)
    assert caught.value.message_dict == {"depends_on": [plan.UNKNOWN_TASK]}
    # The other onboarding's task is not reachable under this onboarding's URL either.
    assert csm.get(url(world, "task-edit", task_id=other_task.pk)).status_code == 404


# --- Due dates ----------------------------------------------------------------------------------


def chain(world):
    """A <- B <- C (C waits for B, B for A), D alone, E (complete) waits for A."""
    a = new_task(world, "A", due=dt.date(2026, 12, 1))
    b = new_task(world, "B", due=dt.date(2026, 12, 5), depends_on=[a])
    c = new_task(world, "C", due=dt.date(2026, 12, 9), depends_on=[b])
    d = new_task(world, "D", due=dt.date(2026, 12, 2))
    e = new_task(world, "E", due=dt.date(2026, 12, 3), depends_on=[a], status="complete")
    return a, b, c, d, e


def test_moving_a_due_date_shifts_transitive_dependents_by_the_same_delta(world, csm):
    a, b, c, d, e = chain(world)
    form = csm.get(url(world, "task-date", task_id=a.pk), **HX)
    assert form.status_code == 200
    # The choice is shown before anything is saved, naming the open tasks it would move.
    assert "Also shift the 2 open tasks that depend on it" in form.text
    listed = form.text.split('data-testid="dependents"')[1].split("</ul>")[0]
    assert "B" in listed and "C" in listed and ">E " not in listed

    with CaptureQueriesContext(connection) as captured:
        response = csm.post(
            url(world, "task-date", task_id=a.pk),
            {"due_date": "2026-12-04", "shift_dependents": "on", "version": 1},
            **HX,
        )
    assert response.status_code == 200 and response["HX-Retarget"] == "#plan-body"
    updates = [q["sql"] for q in captured if q["sql"].startswith('UPDATE "onboarding_task"')]
    assert len(updates) == 2  # the task itself, then every dependent in one statement
    dates = {t.title: fresh(world, t).due_date for t in (a, b, c, d, e)}
    assert dates == {
        "A": dt.date(2026, 12, 4),
        "B": dt.date(2026, 12, 8),
        "C": dt.date(2026, 12, 12),
        "D": dt.date(2026, 12, 2),  # unrelated
        "E": dt.date(2026, 12, 3),  # complete: its date is a record
    }
    # The shifted tasks changed: forms opened on them before the move are stale now.
    assert fresh(world, b).version == 2 and fresh(world, c).version == 2
    assert any(
        "moved “A” from Dec 1 to Dec 4, and 2 dependent tasks by +3 days" in t
        for t in activity(world)
    )


def test_moving_a_due_date_without_shifting_moves_only_the_task(world, csm):
    a, b, c, d, e = chain(world)
    response = csm.post(
        url(world, "task-date", task_id=a.pk), {"due_date": "2026-11-28", "version": 1}
    )
    assert response.status_code == 302 and response["Location"].endswith(f"#task-{a.pk}")
    assert fresh(world, a).due_date == dt.date(2026, 11, 28)
    assert fresh(world, b).due_date == dt.date(2026, 12, 5)
    assert fresh(world, c).due_date == dt.date(2026, 12, 9)
    # Earlier works the same way when asked to shift: by the same (negative) delta.
    with tenant_context(world.tenant):
        plan.move_due_date(
            fresh(world, b),
            dt.date(2026, 12, 1),
            shift_dependents=True,
            expected_version=1,
            by=None,
        )
    assert fresh(world, c).due_date == dt.date(2026, 12, 5)


def test_the_edit_form_offers_the_same_shift(world, csm):
    a, b, c, *_ = chain(world)
    form = csm.get(url(world, "task-edit", task_id=a.pk))
    assert "also shift the 2 open tasks that depend on it" in form.text
    csm.post(
        url(world, "task-edit", task_id=a.pk),
        form_data(world, a, due_date="2026-12-11", shift_dependents="on"),
    )
    assert fresh(world, c).due_date == dt.date(2026, 12, 19)


def test_a_bad_date_is_refused_next_to_the_field(world, csm):
    a, *_ = chain(world)
    response = csm.post(url(world, "task-date", task_id=a.pk), {"due_date": "soon", "version": 1})
    assert response.status_code == 400
    assert "valid date" in field_error(response.text, f"date-task-{a.pk}-due_date")
    assert fresh(world, a).due_date == dt.date(2026, 12, 1)


# --- Milestones ---------------------------------------------------------------------------------


def test_milestone_is_achieved_when_its_tasks_are_done_and_reopened_when_one_reopens(world, csm):
    milestone = new_milestone(world)
    one = new_task(world, "One", milestone=milestone)
    two = new_task(world, "Two", milestone=milestone, status="complete")
    response = csm.post(
        url(world, "task-edit", task_id=one.pk), form_data(world, one, status="complete"), **HX
    )
    assert response.status_code == 200
    assert fresh(world, milestone).achieved_at is not None
    assert 'data-testid="achieved"' in response.text  # the header, out of band
    assert "2 of 2 tasks done" in response.text
    assert any("Milestone “Pilot live” achieved" in t for t in activity(world))

    csm.post(url(world, "task-edit", task_id=two.pk), form_data(world, two, status="in_progress"))
    assert fresh(world, milestone).achieved_at is None
    # Adding an open task to an achieved milestone reopens it too.
    with tenant_context(world.tenant):
        plan.edit_task(fresh(world, two), {"status": "complete"}, expected_version=None, by=None)
        assert plan.refresh_milestone(milestone) is None  # idempotent
    assert fresh(world, milestone).achieved_at is not None
    csm.post(
        url(world, "task-add"),
        {
            "title": "Three",
            "owner_side": "vendor",
            "due_date": "2026-12-10",
            "status": "not_started",
            "milestone": milestone.pk,
        },
    )
    assert fresh(world, milestone).achieved_at is None


def test_milestone_crud_and_order(world, csm):
    response = csm.post(url(world, "milestone-add"), {"name": " ", "due_date": ""})
    assert response.status_code == 400
    assert "required" in field_error(response.text, "add-milestone-name")
    assert "required" in field_error(response.text, "add-milestone-due_date")

    response = csm.post(
        url(world, "milestone-add"),
        {"name": "Pilot live", "due_date": "2026-12-20", "success_criteria": "20 users active"},
    )
    assert response.status_code == 302
    with tenant_context(world.tenant):
        milestone = Milestone.objects.get(name="Pilot live")
        last = world.onboarding.milestones.order_by("-position", "-id").first()
    assert last.pk == milestone.pk and milestone.success_criteria == "20 users active"

    edit = url(world, "milestone-edit", milestone_id=milestone.pk)
    response = csm.post(edit, {"name": "Pilot live", "due_date": "2026-12-27", "sequence": 0}, **HX)
    assert response.status_code == 200 and response["HX-Retarget"] == "#plan-body"
    saved = fresh(world, milestone)
    assert saved.due_date == dt.date(2026, 12, 27) and saved.ics_sequence == 1  # calendars update
    # A second editor who opened the form before that save is told, and sees the newer date.
    response = csm.post(edit, {"name": "Pilot", "due_date": "2026-12-21", "sequence": 0}, **HX)
    assert response.status_code == 409
    assert "This milestone changed since you opened it" in response.text
    assert 'value="2026-12-27"' in response.text
    assert fresh(world, milestone).name == "Pilot live"

    response = csm.post(
        url(world, "milestone-move", milestone_id=milestone.pk), {"direction": "up"}
    )
    assert response.status_code == 302
    with tenant_context(world.tenant):
        order = list(world.onboarding.milestones.order_by("position", "id"))
    assert order[-2].pk == milestone.pk

    task = new_task(world, "Pilot task", milestone=milestone)
    ask = csm.get(url(world, "milestone-delete", milestone_id=milestone.pk))
    assert ask.status_code == 200 and "Its 1 task stays in the plan" in ask.text
    response = csm.post(
        url(world, "milestone-delete", milestone_id=milestone.pk), {"confirm": "True"}
    )
    assert response.status_code == 302
    assert fresh(world, task).milestone_id is None
    with tenant_context(world.tenant):
        assert not Milestone.objects.filter(pk=milestone.pk).exists()
        tombstone = CalendarTombstone.objects.get(uid__startswith=f"milestone-{milestone.pk}@")
    assert tombstone.sequence == 2 and tombstone.starts_on == dt.date(2026, 12, 27)
    texts = activity(world)
    assert any("moved it from Dec 20 to Dec 27" in t for t in texts)
    assert any("deleted the milestone “Pilot live”; its 1 task stay" in t for t in texts)


# --- Two editors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
def test_the_second_save_is_told_the_task_changed_and_sees_the_newer_version(world, htmx):
    task = new_task(world, "Configure SSO", due=dt.date(2026, 12, 12))
    extra = HX if htmx else {}
    first, second = client_for(world, world.csm), client_for(world, world.admin)
    opened = form_data(world, task)  # both opened the form at version 1
    response = first.post(
        url(world, "task-edit", task_id=task.pk),
        {**opened, "status": "in_progress", "due_date": "2026-12-14"},
        **extra,
    )
    assert response.status_code == (200 if htmx else 302)

    response = second.post(
        url(world, "task-edit", task_id=task.pk),
        {**opened, "title": "Configure SAML SSO", "status": "complete"},
        **extra,
    )
    assert response.status_code == 409
    html = response.text
    assert CONFLICT in html
    # The newer values are in the form, with the newer version to save against.
    assert 'value="in_progress" selected' in html and 'value="2026-12-14"' in html
    assert 'name="version" value="2"' in html
    # What the second editor had typed is listed so it is not lost.
    assert "Configure SAML SSO" in html.split('data-testid="conflict"')[1].split("</div>")[0]
    saved = fresh(world, task)
    assert (saved.title, saved.status, saved.version) == ("Configure SSO", "in_progress", 2)

    stale_date = second.post(
        url(world, "task-date", task_id=task.pk), {"due_date": "2026-12-31", "version": 1}, **extra
    )
    assert stale_date.status_code == 409 and CONFLICT in stale_date.text
    assert fresh(world, task).due_date == dt.date(2026, 12, 14)


# --- Who may edit, and when -----------------------------------------------------------------------


def write_requests(world, task, milestone):
    return [
        (
            "task-add",
            {},
            {
                "title": "New",
                "owner_side": "vendor",
                "due_date": "2026-12-01",
                "status": "not_started",
            },
        ),
        ("task-edit", {"task_id": task.pk}, form_data(world, task, title="Changed")),
        ("task-date", {"task_id": task.pk}, {"due_date": "2026-12-30", "version": 1}),
        ("task-move", {"task_id": task.pk}, {"direction": "up"}),
        ("task-delete", {"task_id": task.pk}, {"confirm": "True"}),
        ("task-comments", {"task_id": task.pk}, {"body": "Hello"}),
        ("milestone-add", {}, {"name": "M", "due_date": "2026-12-01"}),
        (
            "milestone-edit",
            {"milestone_id": milestone.pk},
            {"name": "X", "due_date": "2026-12-01", "sequence": 0},
        ),
        ("milestone-move", {"milestone_id": milestone.pk}, {"direction": "up"}),
        ("milestone-delete", {"milestone_id": milestone.pk}, {"confirm": "True"}),
    ]


def test_a_closed_onboarding_is_read_only(world, csm):
    milestone = new_milestone(world)
    task = new_task(world, "Late task", milestone=milestone, position=3)
    new_task(world, "Earlier", milestone=milestone, position=1)
    with tenant_context(world.tenant):
        Onboarding.objects.filter(pk=world.onboarding.pk).update(status="closed")
    page = csm.get(url(world, "plan"))
    assert page.status_code == 200 and "closed; its plan is read-only" in page.text
    assert (
        "Add a task" not in page.text and url(world, "task-edit", task_id=task.pk) not in page.text
    )
    before = snapshot(world)
    for name, kwargs, data in write_requests(world, task, milestone):
        plain = csm.post(url(world, name, **kwargs), data)
        assert plain.status_code == 302 and plain["Location"] == url(world, "plan"), name
        hx = csm.post(url(world, name, **kwargs), data, **HX)
        assert hx.status_code == 403 and "read-only" in hx.text, name
    assert snapshot(world) == before
    with tenant_context(world.tenant):
        closed = Onboarding.objects.get(pk=world.onboarding.pk)
        with pytest.raises(ValidationError, match="read-only"):
            plan.add_task(
                closed,
                {"title": "x", "owner_side": "vendor", "due_date": dt.date(2026, 12, 1)},
                by=None,
            )
        with pytest.raises(ValidationError, match="read-only"):
            plan.move_due_date(
                fresh(world, task),
                dt.date(2027, 1, 1),
                shift_dependents=True,
                expected_version=None,
                by=None,
            )


def test_viewers_read_the_plan_but_cannot_change_it(world):
    milestone = new_milestone(world)
    task = new_task(world, "Task", milestone=milestone)
    viewer = client_for(world, world.viewer)
    page = viewer.get(url(world, "plan"))
    assert page.status_code == 200 and "Task" in page.text
    assert (
        "Add a task" not in page.text and url(world, "task-edit", task_id=task.pk) not in page.text
    )
    assert viewer.get(url(world, "task-comments", task_id=task.pk)).status_code == 200
    before = snapshot(world)
    for name, kwargs, data in write_requests(world, task, milestone):
        assert viewer.post(url(world, name, **kwargs), data).status_code == 404, name
        if name != "task-comments":
            assert viewer.get(url(world, name, **kwargs)).status_code in (404, 405), name
    assert snapshot(world) == before
    # Client users and strangers do not get in at all.
    assert client_for(world, world.client).get(url(world, "plan")).status_code == 404
    assert client_for(world).get(url(world, "plan")).status_code == 302


def test_htmx_requests_get_fragments_and_plain_requests_get_pages_or_redirects(world, csm):
    milestone = new_milestone(world)
    task = new_task(world, "Task", milestone=milestone)
    for name, kwargs in (
        ("task-edit", {"task_id": task.pk}),
        ("task-date", {"task_id": task.pk}),
        ("task-delete", {"task_id": task.pk}),
        ("task-comments", {"task_id": task.pk}),
        ("task-add", {}),
        ("milestone-edit", {"milestone_id": milestone.pk}),
        ("milestone-delete", {"milestone_id": milestone.pk}),
        ("milestone-add", {}),
    ):
        fragment = csm.get(url(world, name, **kwargs), **HX)
        page = csm.get(url(world, name, **kwargs))
        assert fragment.status_code == page.status_code == 200, name
        assert "<html" not in fragment.text and "<html" in page.text, name
        assert "HX-Request" in fragment["Vary"], name
    body = csm.get(url(world, "plan"), **HX)  # Cancel / Close put a row back from it
    assert body.text.startswith('<div id="plan-body"') and "<style" not in body.text
    for name, kwargs, data in (
        ("task-move", {"task_id": task.pk}, {"direction": "down"}),
        ("milestone-move", {"milestone_id": milestone.pk}, {"direction": "up"}),
    ):
        hx = csm.post(url(world, name, **kwargs), data, **HX)
        assert hx.status_code == 200 and hx.text.startswith('<div id="plan-body"'), name
        plain = csm.post(url(world, name, **kwargs), data)
        assert plain.status_code == 302 and plain["Location"].startswith(url(world, "plan")), name


def test_ids_of_another_onboarding_answer_404(world, csm):
    with tenant_context(world.tenant):
        other = start_onboarding(
            customer=Customer.objects.create(name="Other customer"),
            playbook=Playbook.objects.get(model="low", is_default=True),
            start_date=world.onboarding.start_date,
            name="Other rollout",
        )
        other_task = other.tasks.order_by("pk").first()
        other_milestone = other.milestones.order_by("pk").first()
    before = snapshot(world)
    for name, kwargs in (
        ("task-edit", {"task_id": other_task.pk}),
        ("task-date", {"task_id": other_task.pk}),
        ("task-delete", {"task_id": other_task.pk}),
        ("task-move", {"task_id": other_task.pk}),
        ("task-comments", {"task_id": other_task.pk}),
        ("milestone-edit", {"milestone_id": other_milestone.pk}),
        ("milestone-delete", {"milestone_id": other_milestone.pk}),
        ("milestone-move", {"milestone_id": other_milestone.pk}),
    ):
        assert csm.post(url(world, name, **kwargs), {"confirm": "True"}).status_code == 404, name
    assert snapshot(world) == before


# --- Two editors at the same moment -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_dependency_edits_cannot_make_a_loop_together():
    """A waits for B in one request, B for A in another, at the same moment: each check alone
    sees no loop. The onboarding row lock makes the second check see the first one's edge."""
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serialises writers on its own)")
    import threading
    import time
    from unittest import mock

    from django.db import connections

    world = build_world("race")
    a, b = new_task(world, "A"), new_task(world, "B")
    real_edges = plan.dependency_edges

    def slow_edges(onboarding):  # widen the window between reading the graph and writing
        edges = real_edges(onboarding)
        time.sleep(0.5)
        return edges

    outcomes: dict[str, str] = {}

    def edit(name, task, prerequisite, delay):
        time.sleep(delay)
        try:
            with tenant_context(world.tenant):
                plan.set_dependencies(fresh(world, task), [prerequisite], by=None)
            outcomes[name] = "saved"
        except ValidationError as exc:
            outcomes[name] = " ".join(exc.messages)
        finally:
            connections.close_all()

    with mock.patch.object(plan, "dependency_edges", slow_edges):
        threads = [
            threading.Thread(target=edit, args=("first", a, b.pk, 0)),
            threading.Thread(target=edit, args=("second", b, a.pk, 0.1)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
    assert outcomes["first"] == "saved"
    assert "loop" in outcomes["second"]
    with tenant_context(world.tenant):
        edges = TaskDependency.objects.filter(task__in=[a, b]).values_list("task", "depends_on")
        assert list(edges) == [(a.pk, b.pk)]
