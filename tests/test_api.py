from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import client_for
from tests.factories import build_world


def test_schema_is_served(tenant_a):
    response = client_for(tenant_a).get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert "/api/v1/tasks/{task_id}/" in response.text
    assert "/api/v1/onboardings/{onboarding_id}/" in response.text


def test_create_and_update_a_task_with_version_check(tenant_a):
    client = client_for(tenant_a, tenant_a.csm)
    created = client.post(
        "/api/v1/tasks/",
        {
            "onboarding": tenant_a.onboarding.pk,
            "title": "Send the ERP export",
            "owner_side": "customer",
            "owner_contact": tenant_a.contact.pk,
            "due_date": "2026-12-10",
            "depends_on": [tenant_a.task.pk],
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    task = created.json()
    assert task["version"] == 1 and task["depends_on"] == [tenant_a.task.pk]
    url = f"/api/v1/tasks/{task['id']}/"
    first = client.patch(
        url, {"status": "in_progress", "version": 1}, content_type="application/json"
    )
    assert first.status_code == 200 and first.json()["version"] == 2
    stale = client.patch(url, {"title": "Overwrite", "version": 1}, content_type="application/json")
    assert stale.status_code == 409
    assert stale.json()["current"]["status"] == "in_progress"
    assert client.get(url).json()["title"] == "Send the ERP export"


def test_blocked_needs_a_reason(tenant_a):
    client = client_for(tenant_a, tenant_a.csm)
    url = f"/api/v1/tasks/{tenant_a.task.pk}/"
    response = client.patch(url, {"status": "blocked"}, content_type="application/json")
    assert response.status_code == 400
    assert "blocked_reason" in response.json()
    ok = client.patch(
        url,
        {"status": "blocked", "blocked_reason": "Waiting on IT"},
        content_type="application/json",
    )
    assert ok.status_code == 200 and ok.json()["blocked_reason"] == "Waiting on IT"
    done = client.patch(url, {"status": "complete"}, content_type="application/json")
    assert done.json()["blocked_reason"] == "" and done.json()["completed_at"]


def test_task_list_query_count_is_flat(db):
    small, large = build_world("few", tasks=5), build_world("lots", tasks=120)
    counts = []
    for world in (small, large):
        client = client_for(world, world.csm)
        client.get("/api/v1/tasks/")
        with CaptureQueriesContext(connection) as queries:
            response = client.get(f"/api/v1/tasks/?onboarding={world.onboarding.pk}")
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_the_api_cannot_skip_the_handoff_gate_or_the_close_review(tenant_a):
    client = client_for(tenant_a, tenant_a.csm)
    url = f"/api/v1/onboardings/{tenant_a.onboarding.pk}/"
    for status in ("kickoff", "closed"):
        response = client.patch(url, {"status": status}, content_type="application/json")
        assert response.status_code == 200
        assert response.json()["status"] == "pre_kickoff"


def test_the_api_refuses_a_dependency_loop(tenant_a):
    from onboarding.models import Task
    from portal.tenancy.context import tenant_context

    client = client_for(tenant_a, tenant_a.csm)
    with tenant_context(tenant_a.tenant):
        first, second = list(tenant_a.onboarding.tasks.order_by("pk")[:2])
        Task.depends_on.through.objects.filter(task__in=[first, second]).delete()
    ok = client.patch(
        f"/api/v1/tasks/{second.pk}/", {"depends_on": [first.pk]}, content_type="application/json"
    )
    assert ok.status_code == 200
    loop = client.patch(
        f"/api/v1/tasks/{first.pk}/", {"depends_on": [second.pk]}, content_type="application/json"
    )
    assert loop.status_code == 400 and "depends_on" in loop.json()
    with tenant_context(tenant_a.tenant):
        assert not first.depends_on.filter(pk=second.pk).exists()
