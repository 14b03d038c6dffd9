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


def test_the_api_edits_an_onboarding_within_the_rules_and_logs_it(tenant_a):
    """Owners are the tenant's admins and CSMs; a closed onboarding is read-only here as on the
    pages (its start date and owner feed the success metrics); every change is in the activity."""
    from accounts.models import Membership
    from onboarding.models import ActivityEntry, Customer, Onboarding
    from portal.tenancy.context import tenant_context

    client = client_for(tenant_a, tenant_a.csm)
    url = f"/api/v1/onboardings/{tenant_a.onboarding.pk}/"
    viewer = client.patch(url, {"owner": tenant_a.viewer.pk}, content_type="application/json")
    assert viewer.status_code == 400 and "owner" in viewer.json()
    ok = client.patch(
        url,
        {"owner": tenant_a.admin.pk, "start_date": "2026-01-05", "name": "Renamed"},
        content_type="application/json",
    )
    assert ok.status_code == 200 and ok.json()["name"] == "Renamed"
    assert ok.json()["task_count"] > 0  # read back with its progress counts
    with tenant_context(tenant_a.tenant):
        onboarding = Onboarding.objects.get(pk=tenant_a.onboarding.pk)
        assert onboarding.owner_id == tenant_a.admin.pk
        assert str(onboarding.start_date) == "2026-01-05"
        [entry] = ActivityEntry.objects.filter(onboarding=onboarding, text__contains="changed")
        assert entry.text.endswith("changed the name, start date, owner")
    # The owner leaves: the row's own round trip still saves, naming them again does not fail.
    with tenant_context(tenant_a.tenant):
        Membership.objects.filter(user=tenant_a.admin).delete()
    row = client.get(url).json()
    row["name"] = "Renamed again"
    again = client.put(url, row, content_type="application/json")
    assert again.status_code == 200 and again.json()["owner"] == tenant_a.admin.pk
    back = client.patch(url, {"owner": tenant_a.csm.pk}, content_type="application/json")
    assert back.status_code == 200
    gone = client.patch(url, {"owner": tenant_a.admin.pk}, content_type="application/json")
    assert gone.status_code == 400 and "owner" in gone.json()  # not named anew
    with tenant_context(tenant_a.tenant):
        Onboarding.objects.filter(pk=onboarding.pk).update(status="closed")
        other = Customer.objects.create(name="Other customer")
    refused = client.patch(
        url,
        {"name": "After close", "customer": other.pk, "start_date": "2020-01-01"},
        content_type="application/json",
    )
    assert refused.status_code == 400 and "closed" in str(refused.json())
    with tenant_context(tenant_a.tenant):
        after = Onboarding.objects.get(pk=onboarding.pk)
    assert (after.name, after.customer_id, str(after.start_date)) == (
        "Renamed again",
        tenant_a.onboarding.customer_id,
        "2026-01-05",
    )


def test_the_api_keeps_a_tasks_named_owner_on_its_side(tenant_a):
    from onboarding.models import Contact, Task
    from portal.tenancy.context import tenant_context

    with tenant_context(tenant_a.tenant):
        vendor = Contact.objects.create(
            onboarding=tenant_a.onboarding, side="vendor", name="Vera Vendor"
        )
        task = Task.objects.filter(onboarding=tenant_a.onboarding, owner_side="customer").first()
    client = client_for(tenant_a, tenant_a.csm)
    url = f"/api/v1/tasks/{task.pk}/"
    wrong = client.patch(url, {"owner_contact": vendor.pk}, content_type="application/json")
    assert wrong.status_code == 400
    assert wrong.json()["owner_contact"] == ["Choose a person on the customer side, or nobody."]
    created = client.post(
        "/api/v1/tasks/",
        {
            "onboarding": tenant_a.onboarding.pk,
            "title": "Vendor side",
            "owner_side": "customer",
            "owner_contact": vendor.pk,
            "due_date": "2026-12-20",
        },
        content_type="application/json",
    )
    assert created.status_code == 400 and "owner_contact" in created.json()
    both = client.patch(
        url, {"owner_side": "vendor", "owner_contact": vendor.pk}, content_type="application/json"
    )
    assert both.status_code == 200 and both.json()["owner_contact"] == vendor.pk
    # The contact moves sides later (the stakeholder editor allows it): saving the task back
    # as it is still works; only a change of owner is checked.
    with tenant_context(tenant_a.tenant):
        Contact.objects.filter(pk=vendor.pk).update(side="customer")
    row = client.get(url).json()
    row["status"] = "in_progress"
    assert client.put(url, row, content_type="application/json").status_code == 200


def test_an_onboarding_created_through_the_api_starts_from_its_playbook(tenant_a):
    """Like an import: the model's default playbook gives the plan, milestones and handoff."""
    from onboarding.models import ActivityEntry, HandoffDocument, Onboarding, Playbook
    from portal.tenancy.context import tenant_context

    client = client_for(tenant_a, tenant_a.csm)
    body = {
        "name": "Via the API",
        "customer": tenant_a.onboarding.customer_id,
        "model": "mid",
        "start_date": "2026-12-01",
        "owner": tenant_a.csm.pk,
    }
    created = client.post("/api/v1/onboardings/", body, content_type="application/json")
    assert created.status_code == 201, created.content
    with tenant_context(tenant_a.tenant):
        playbook = Playbook.objects.get(model="mid", is_default=True)
        onboarding = Onboarding.objects.get(pk=created.json()["id"])
        assert onboarding.playbook_id == playbook.pk
        assert onboarding.tasks.count() == playbook.tasks.count() > 0
        assert created.json()["task_count"] == playbook.tasks.count()
        assert onboarding.milestones.count() == playbook.milestones.count() > 0
        assert HandoffDocument.objects.filter(onboarding=onboarding).exists()
        assert ActivityEntry.objects.filter(onboarding=onboarding, text__contains=playbook.name)
        Playbook.objects.filter(model="low").update(is_default=False)
        before = Onboarding.objects.count()
    refused = client.post(
        "/api/v1/onboardings/", {**body, "model": "low"}, content_type="application/json"
    )
    assert refused.status_code == 400
    assert refused.json() == {"model": ["No default playbook for low-touch; choose one first."]}
    as_viewer = {**body, "owner": tenant_a.viewer.pk}
    viewer = client.post("/api/v1/onboardings/", as_viewer, content_type="application/json")
    assert viewer.status_code == 400 and "owner" in viewer.json()
    with tenant_context(tenant_a.tenant):
        assert Onboarding.objects.count() == before


def test_a_status_change_does_not_load_the_tasks_owner(tenant_a):
    """The owner-side rule checks only a change of owner: a status change (the portal's, every
    API PATCH) reads no contact row."""
    from onboarding.models import Task
    from onboarding.services.tasks import update_task
    from portal.tenancy.context import tenant_context

    with tenant_context(tenant_a.tenant):
        task = Task.objects.select_related("onboarding").filter(owner_contact__isnull=False).first()
        with CaptureQueriesContext(connection) as queries:
            update_task(task, {"status": "in_progress"})
    assert not [q for q in queries.captured_queries if '"onboarding_contact"' in q["sql"]]
