from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from onboarding.models import Task
from portal.tenancy.context import tenant_context
from tests.conftest import client_for
from tests.factories import build_world


def portal_queries(world) -> tuple[int, str]:
    client = client_for(world, world.client)
    url = f"/portal/o/{world.onboarding.pk}/"
    client.get(url)  # warm the session
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.text


@pytest.mark.django_db
def test_portal_query_count_does_not_grow_with_tasks():
    small, small_html = portal_queries(build_world("small", tasks=10))
    large, large_html = portal_queries(build_world("large", tasks=200))
    assert small == large
    assert small_html.count('class="status-') == 10
    assert large_html.count('class="status-') == 200


def test_portal_shows_the_branded_plan_with_one_next_step(tenant_a):
    tenant = tenant_a.tenant
    tenant.primary_color = "#ffe600"  # light: text on it must be dark
    tenant.portal_name = "Alpha Onboarding Hub"
    tenant.welcome_message = "Welcome, <script>alert(1)</script> friends"
    tenant.save()
    count, html = portal_queries(tenant_a)
    assert "Alpha Onboarding Hub" in html
    assert "--brand: #ffe600; --brand-text: #000000" in html
    assert "<script>alert(1)" not in html and "Welcome," in html
    assert tenant_a.marker in html
    with tenant_context(tenant):
        first = (
            Task.objects.filter(onboarding=tenant_a.onboarding, owner_side="customer")
            .order_by("due_date", "position", "id")
            .first()
        )
    assert 'data-testid="next-step"' in html
    next_step = html.split('data-testid="next-step"')[1].split("</div>")[0]
    assert first.title in next_step
    for section in ("Timeline", "Mutual action plan", "Training", "Key contacts"):
        assert section in html
    assert f"{tenant_a.marker} question?" in html  # FAQ
    assert f"{tenant_a.marker} guide" in html  # training resource


def test_next_step_moves_on_when_the_client_task_is_done(tenant_a):
    with tenant_context(tenant_a.tenant):
        customer_tasks = list(
            Task.objects.filter(onboarding=tenant_a.onboarding, owner_side="customer").order_by(
                "due_date", "position", "id"
            )
        )
        Task.objects.filter(pk=customer_tasks[0].pk).update(status="complete")
    _, html = portal_queries(tenant_a)
    next_step = html.split('data-testid="next-step"')[1].split("</div>")[0]
    assert customer_tasks[1].title in next_step


def test_client_sees_only_invited_onboardings(tenant_a):
    from onboarding.models import Customer, Playbook
    from onboarding.services.playbooks import start_onboarding

    with tenant_context(tenant_a.tenant):
        other = start_onboarding(
            customer=Customer.objects.create(name="OtherCustomerOfAlpha"),
            playbook=Playbook.objects.get(model="low", is_default=True),
            start_date=tenant_a.onboarding.start_date,
            name="Other customer's rollout",
        )
    client = client_for(tenant_a, tenant_a.client)
    assert client.get(f"/portal/o/{other.pk}/").status_code == 404
    index = client.get("/portal/", follow=True)
    assert "OtherCustomerOfAlpha" not in index.text
    assert client.get("/app/").status_code == 404  # clients are not members
    assert client.get("/api/v1/onboardings/").status_code == 403


def test_workspace_lists_onboardings_with_progress_in_fixed_queries(db):
    world = build_world("busy")
    client = client_for(world, world.csm)
    client.get("/app/")
    with CaptureQueriesContext(connection) as few:
        response = client.get("/app/")
    assert response.status_code == 200 and world.marker in response.text
    with tenant_context(world.tenant):
        from onboarding.models import Customer, Playbook
        from onboarding.services.playbooks import start_onboarding

        for i in range(15):
            start_onboarding(
                customer=Customer.objects.create(name=f"Extra {i}"),
                playbook=Playbook.objects.get(model="mid", is_default=True),
                start_date=world.onboarding.start_date,
                name=f"Extra {i}",
                owner=world.csm,
            )
    with CaptureQueriesContext(connection) as many:
        response = client.get("/app/")
    assert len(few) == len(many)
    assert response.text.count("/app/onboardings/") == 16
    detail = client.get(f"/app/onboardings/{world.onboarding.pk}/")
    assert detail.status_code == 200 and "Mutual action plan" in detail.text


def test_viewers_and_clients_cannot_write_through_the_api(tenant_a):
    for user in (tenant_a.viewer, tenant_a.client):
        client = client_for(tenant_a, user)
        response = client.patch(
            f"/api/v1/tasks/{tenant_a.task.pk}/",
            {"title": "nope"},
            content_type="application/json",
        )
        assert response.status_code == 403
