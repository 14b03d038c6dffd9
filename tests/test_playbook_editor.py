"""Admins edit the tenant's playbooks; onboardings already running keep their own plan.

Rules: offsets 0-365; prerequisites exist in the same playbook, never the task itself, never a
loop; a task others depend on is not deleted; the derived length stays in the model's typical
range; one default per model. Every bad input is refused next to its field and saves nothing.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from onboarding import playbook_defaults as defaults
from onboarding.models import (
    Customer,
    Playbook,
    PlaybookMilestone,
    PlaybookResource,
    PlaybookTask,
    TrainingResource,
)
from onboarding.services import playbook_editor as editor
from onboarding.services import playbooks as playbook_services
from portal.tenancy.context import tenant_context
from tests.conftest import client_for


def field_error(html: str, field_id: str) -> str:
    match = re.search(
        rf'<div class="error" id="{re.escape(field_id)}_error">(.*?)</div>', html, re.S
    )
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def snapshot(playbook: Playbook) -> dict:
    """Everything of a playbook, to prove a refused change saved nothing."""
    return {
        "playbook": Playbook.objects.filter(pk=playbook.pk).values().get(),
        "tasks": list(PlaybookTask.objects.filter(playbook=playbook).order_by("pk").values()),
        "milestones": list(
            PlaybookMilestone.objects.filter(playbook=playbook).order_by("pk").values()
        ),
        "resources": list(
            PlaybookResource.objects.filter(playbook=playbook).order_by("pk").values()
        ),
    }


@pytest.fixture
def admin(tenant_a):
    return client_for(tenant_a, tenant_a.admin)


@pytest.fixture
def high(tenant_a) -> Playbook:
    with tenant_context(tenant_a.tenant):
        return Playbook.objects.get(model="high", is_default=True)


@pytest.fixture
def low(tenant_a) -> Playbook:
    with tenant_context(tenant_a.tenant):
        return Playbook.objects.get(model="low", is_default=True)


def book_url(playbook: Playbook) -> str:
    return reverse("workspace:playbook", kwargs={"playbook_id": playbook.pk})


def task_data(**changes) -> dict:
    data = {
        "form": "task",
        "task-title": "Configure the data warehouse export",
        "task-description": "",
        "task-phase": "setup",
        "task-owner_side": "vendor",
        "task-due_offset_days": "40",
        "task-milestone": "",
    }
    data.update(changes)
    return data


def test_playbook_pages_are_for_admins_only(tenant_a, high):
    pages = [
        reverse("workspace:playbooks"),
        book_url(high),
    ]
    with tenant_context(tenant_a.tenant):
        task = high.tasks.order_by("pk").first()
        milestone = high.milestones.order_by("pk").first()
    pages += [
        reverse(
            "workspace:playbook-task-edit",
            kwargs={"playbook_id": high.pk, "playbook_task_id": task.pk},
        ),
        reverse(
            "workspace:playbook-milestone-edit",
            kwargs={"playbook_id": high.pk, "playbook_milestone_id": milestone.pk},
        ),
    ]
    for user in (tenant_a.csm, tenant_a.viewer, tenant_a.client):
        client = client_for(tenant_a, user)
        for page in pages:
            assert client.get(page).status_code == 404, (user, page)
            assert client.post(page, task_data()).status_code == 404, (user, page)
    admin = client_for(tenant_a, tenant_a.admin)
    for page in pages:
        assert admin.get(page).status_code == 200, page
    listing = admin.get(pages[0]).text
    for name in defaults.NAMES.values():
        assert name in listing


def test_a_new_playbook_starts_as_a_copy(tenant_a, admin, high):
    response = admin.post(
        reverse("workspace:playbooks"), {"source": str(high.pk), "name": "Enterprise + migration"}
    )
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        copy = Playbook.objects.get(name="Enterprise + migration")
        assert (copy.model, copy.length_days, copy.is_default) == ("high", 90, False)
        assert copy.tasks.count() == high.tasks.count()
        assert copy.milestones.count() == high.milestones.count()
        # Tasks point at the copy's own milestones, not the source's.
        assert not copy.tasks.filter(milestone__playbook=high).exists()
    response = admin.post(
        reverse("workspace:playbooks"), {"source": str(high.pk), "name": "enterprise + MIGRATION"}
    )
    assert response.status_code == 400
    assert "already a playbook called" in field_error(response.text, "id_name")


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"task-title": ""}, "title", "required"),
        ({"task-due_offset_days": "-1"}, "due_offset_days", "greater than or equal to 0"),
        ({"task-due_offset_days": "366"}, "due_offset_days", "less than or equal to 365"),
        ({"task-due_offset_days": "1.5"}, "due_offset_days", "whole number"),
        ({"task-phase": "closed"}, "phase", "valid choice"),
        ({"task-owner_side": "partner"}, "owner_side", "valid choice"),
        ({"task-depends_on_keys": ["no-such-task"]}, "depends_on_keys", "valid choice"),
        ({"task-due_offset_days": "120"}, "due_offset_days", "would run 120 days"),
    ],
)
def test_bad_task_input_is_refused_next_to_its_field(
    tenant_a, admin, high, changes, field, message
):
    with tenant_context(tenant_a.tenant):
        before = snapshot(high)
    response = admin.post(book_url(high), task_data(**changes))
    assert response.status_code == 400
    assert message in field_error(response.text, f"id_task-{field}")
    with tenant_context(tenant_a.tenant):
        assert snapshot(high) == before


def test_the_service_checks_offsets_prerequisites_and_loops_whatever_the_caller(tenant_a, high):
    with tenant_context(tenant_a.tenant):
        before = snapshot(high)
        kickoff = high.tasks.get(key="kickoff")
        foreign = PlaybookTask.objects.select_related("playbook").filter(playbook__model="mid")[0]
        base = {"title": "T", "phase": "setup", "owner_side": "vendor", "due_offset_days": 10}
        cases = [
            ({"due_offset_days": 400}, "due_offset_days"),
            ({"due_offset_days": True}, "due_offset_days"),
            ({"depends_on_keys": ["missing"]}, "depends_on_keys"),
            ({"milestone": PlaybookMilestone.objects.filter(playbook__model="mid").first()},
             "milestone"),
        ]  # fmt: skip
        for changes, field in cases:
            with pytest.raises(ValidationError) as refused:
                editor.save_task(high, {**base, **changes}, tenant_a.admin)
            assert field in refused.value.message_dict, changes
        # A task of another playbook is not a prerequisite here, even with a key that exists
        # there; a task is not its own prerequisite; no loops, however long.
        only_there = editor.save_task(
            foreign.playbook, {**base, "title": "Only in mid"}, tenant_a.admin
        )
        assert only_there.key == "only-in-mid"
        with pytest.raises(ValidationError) as refused:
            editor.save_task(high, {**base, "depends_on_keys": ["only-in-mid"]}, tenant_a.admin)
        assert "unknown: only-in-mid" in refused.value.message_dict["depends_on_keys"][0]
        with pytest.raises(ValidationError) as refused:
            editor.save_task(
                high,
                {**base, "title": kickoff.title, "depends_on_keys": ["kickoff"]},
                tenant_a.admin,
                kickoff,
            )
        assert "cannot depend on itself" in str(refused.value)
        # qbr depends on close-review ... on kickoff: kickoff depending on qbr closes a loop.
        with pytest.raises(ValidationError) as refused:
            editor.save_task(
                high,
                {**base, "title": kickoff.title, "depends_on_keys": ["qbr"]},
                tenant_a.admin,
                kickoff,
            )
        message = refused.value.message_dict["depends_on_keys"][0]
        assert (
            message.startswith("That would make a loop:") and "“Hold the kickoff call”" in message
        )
        assert snapshot(high) == before


def test_a_loop_is_refused_on_the_edit_page_too(tenant_a, admin, high):
    with tenant_context(tenant_a.tenant):
        handoff = high.tasks.get(key="handoff")
    edit = reverse(
        "workspace:playbook-task-edit",
        kwargs={"playbook_id": high.pk, "playbook_task_id": handoff.pk},
    )
    response = admin.post(
        edit,
        {"title": handoff.title, "phase": "pre_kickoff", "owner_side": "vendor",
         "due_offset_days": "0", "depends_on_keys": ["portal"]},
    )  # fmt: skip
    assert response.status_code == 400
    assert "That would make a loop" in field_error(response.text, "id_depends_on_keys")
    with tenant_context(tenant_a.tenant):
        assert PlaybookTask.objects.get(pk=handoff.pk).depends_on_keys == []


def test_a_task_others_depend_on_is_not_deleted(tenant_a, admin, high):
    with tenant_context(tenant_a.tenant):
        kickoff = high.tasks.get(key="kickoff")
        before = snapshot(high)
    edit = reverse(
        "workspace:playbook-task-edit",
        kwargs={"playbook_id": high.pk, "playbook_task_id": kickoff.pk},
    )
    response = admin.post(edit, {"action": "delete"}, follow=True)
    assert "depend on this task; remove those dependencies first" in response.text
    with tenant_context(tenant_a.tenant):
        assert snapshot(high) == before


def test_the_length_is_derived_and_stays_in_the_models_range(tenant_a, admin, low):
    with tenant_context(tenant_a.tenant):
        assert editor.derived_length(low) == 21
        kb = low.tasks.get(key="kb-access")
        edit = reverse(
            "workspace:playbook-task-edit",
            kwargs={"playbook_id": low.pk, "playbook_task_id": kb.pk},
        )
    data = {"title": kb.title, "phase": kb.phase, "owner_side": kb.owner_side}
    response = admin.post(edit, {**data, "due_offset_days": "28"})
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        assert Playbook.objects.get(pk=low.pk).length_days == 28
        before = snapshot(low)
    response = admin.post(edit, {**data, "due_offset_days": "31"})
    assert response.status_code == 400
    assert "a low-touch playbook runs 7–30 days" in field_error(response.text, "id_due_offset_days")
    with tenant_context(tenant_a.tenant):
        assert snapshot(low) == before
    # A 28-day playbook does not fit the high-touch model (60-90 days).
    with tenant_context(tenant_a.tenant):
        copy = editor.duplicate_playbook(Playbook.objects.get(pk=low.pk), "Short", tenant_a.admin)
    response = admin.post(
        book_url(copy), {"form": "settings", "settings-name": "Short", "settings-model": "high"}
    )
    assert response.status_code == 400
    assert "would run 28 days" in field_error(response.text, "id_settings-model")
    # Deleting what carries the last days would make it too short: refused too.
    with tenant_context(tenant_a.tenant):
        copy.tasks.update(due_offset_days=3)
        copy.milestones.update(due_offset_days=3)
        last = copy.tasks.get(key="qbr")  # nothing depends on it
        PlaybookTask.objects.filter(pk=last.pk).update(due_offset_days=10)
        before = snapshot(copy)
        with pytest.raises(ValidationError) as refused:
            editor.delete_task(last, tenant_a.admin)
        assert "would run 3 days; a low-touch playbook runs 7–30 days" in str(refused.value)
        assert snapshot(copy) == before


def test_one_default_per_model_and_defaults_are_not_deleted(tenant_a, admin, high):
    with tenant_context(tenant_a.tenant):
        copy = editor.duplicate_playbook(high, "Enterprise v2", tenant_a.admin)
    response = admin.post(
        book_url(high), {"form": "settings", "settings-name": high.name, "settings-model": "high"}
    )
    assert response.status_code == 400
    assert "make another playbook the default" in field_error(
        response.text, "id_settings-is_default"
    )
    response = admin.post(book_url(high), {"form": "delete"}, follow=True)
    assert "make another one the default first" in response.text
    response = admin.post(
        book_url(copy),
        {"form": "settings", "settings-name": "Enterprise v2", "settings-model": "high",
         "settings-is_default": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        assert list(Playbook.objects.filter(model="high", is_default=True)) == [copy]
    response = admin.post(book_url(high), {"form": "delete"})
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        assert not Playbook.objects.filter(pk=high.pk).exists()


def test_editing_a_playbook_does_not_touch_onboardings_already_running(tenant_a, admin, high):
    with tenant_context(tenant_a.tenant):
        running = tenant_a.onboarding  # started from the high-touch default
        plan_before = list(running.tasks.order_by("pk").values("title", "due_date", "owner_side"))
        milestones_before = list(running.milestones.order_by("pk").values("name", "due_date"))
        migration = high.tasks.get(key="migration")
        go_live = high.milestones.get(key="go-live")
    edit = reverse(
        "workspace:playbook-task-edit",
        kwargs={"playbook_id": high.pk, "playbook_task_id": migration.pk},
    )
    assert (
        admin.post(
            edit,
            {
                "title": "Migrate everything",
                "phase": "setup",
                "owner_side": "customer",
                "due_offset_days": "70",
            },
        ).status_code
        == 302
    )
    assert admin.post(edit, {"action": "delete"}).status_code == 302
    assert admin.post(book_url(high), task_data()).status_code == 302
    ms_edit = reverse(
        "workspace:playbook-milestone-edit",
        kwargs={"playbook_id": high.pk, "playbook_milestone_id": go_live.pk},
    )
    assert admin.post(ms_edit, {"name": "Live", "due_offset_days": "85"}).status_code == 302
    with tenant_context(tenant_a.tenant):
        assert list(running.tasks.order_by("pk").values("title", "due_date", "owner_side")) == (
            plan_before
        )
        assert list(running.milestones.order_by("pk").values("name", "due_date")) == (
            milestones_before
        )
        # A new onboarding gets the edited playbook.
        fresh = playbook_services.start_onboarding(
            customer=Customer.objects.create(name="Fresh"),
            playbook=Playbook.objects.get(pk=high.pk),
            start_date=dt.date(2027, 1, 4),
            name="Fresh rollout",
        )
        titles = set(fresh.tasks.values_list("title", flat=True))
    assert "Configure the data warehouse export" in titles
    assert "Migrate and validate data" not in titles and "Migrate everything" not in titles


def test_a_playbooks_material_is_copied_into_new_onboardings(tenant_a, admin, high):
    response = admin.post(
        book_url(high),
        {"form": "resource", "resource-title": "Admin quick-start", "resource-kind": "guide",
         "resource-url": "https://docs.example.com/qs", "resource-audience": "Administrators"},
    )  # fmt: skip
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        fresh = playbook_services.start_onboarding(
            customer=Customer.objects.create(name="Fresh"),
            playbook=Playbook.objects.get(pk=high.pk),
            start_date=dt.date(2027, 1, 4),
            name="Fresh rollout",
        )
        copied = TrainingResource.objects.get(onboarding=fresh)
        assert (copied.title, copied.kind, copied.url, copied.audience) == (
            "Admin quick-start",
            "guide",
            "https://docs.example.com/qs",
            "Administrators",
        )
        assert not TrainingResource.objects.filter(
            onboarding=tenant_a.onboarding, title="Admin quick-start"
        ).exists()


def test_resource_links_are_web_addresses(tenant_a, admin, high):
    response = admin.post(
        book_url(high),
        {"form": "resource", "resource-title": "Bad", "resource-kind": "guide",
         "resource-url": "javascript:alert(1)"},
    )  # fmt: skip
    assert response.status_code == 400
    assert "starting with https://" in field_error(response.text, "id_resource-url")
    with tenant_context(tenant_a.tenant):
        assert not PlaybookResource.objects.exists()


def test_only_one_first_value_milestone(tenant_a, admin, high):
    response = admin.post(
        book_url(high),
        {
            "form": "milestone",
            "milestone-name": "Pilot team live",
            "milestone-due_offset_days": "40",
            "milestone-is_first_value": "on",
        },
    )
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        assert list(high.milestones.filter(is_first_value=True).values_list("name", flat=True)) == [
            "Pilot team live"
        ]


def test_playbook_pages_take_the_same_queries_for_bigger_playbooks(tenant_a, admin, high):
    with tenant_context(tenant_a.tenant):
        big = editor.duplicate_playbook(high, "Big", tenant_a.admin)
        for i in range(40):
            editor.save_task(
                big,
                {"title": f"Extra {i}", "phase": "setup", "owner_side": "customer",
                 "due_offset_days": 30, "depends_on_keys": ["kickoff"],
                 "milestone": big.milestones.first()},
                tenant_a.admin,
            )  # fmt: skip
            editor.save_resource(
                big, {"title": f"R{i}", "kind": "guide", "url": ""}, tenant_a.admin
            )
    counts = []
    for book in (high, big):
        admin.get(book_url(book))
        with CaptureQueriesContext(connection) as captured:
            assert admin.get(book_url(book)).status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], counts
