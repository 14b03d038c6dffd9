"""A person invited by two tenants: each tenant names them its own way, and neither sees the
other's name for them (a CSM's label such as "CFO, churn risk" must not travel)."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.services import issue_sign_in_link
from onboarding.models import Contact, Task
from onboarding.services.comments import add_client_comment
from onboarding.services.invitations import invite_contact
from portal.tenancy.context import tenant_context
from tests.conftest import client_for

EMAIL = "jane@shared-customer.example"
LABEL_A = "Jane (CFO, churn risk)"


def _invite(world, name: str):
    with tenant_context(world.tenant):
        contact = Contact.objects.create(
            onboarding=world.onboarding, side="customer", name=name, email=EMAIL
        )
        invite_contact(world.tenant, contact, send_email=False)


def test_each_tenant_shows_its_own_name_for_a_shared_person(tenant_a, tenant_b):
    _invite(tenant_a, LABEL_A)
    _invite(tenant_b, "Jane Roe")
    jane = User.objects.get(email=EMAIL)
    assert jane.full_name == ""  # no tenant's label in the shared account

    with tenant_context(tenant_b.tenant):
        task = Task.objects.create(
            onboarding=tenant_b.onboarding,
            title="Upload the CSV",
            owner_side="customer",
            due_date=tenant_b.onboarding.start_date,
        )
        add_client_comment(jane, task, "Uploaded.")
    portal = Client(HTTP_HOST=tenant_b.host)
    assert portal.post(urlsplit(issue_sign_in_link(tenant_b.tenant, jane)).path).status_code == 302
    pages = [
        portal.get(f"/portal/o/{tenant_b.onboarding.pk}/").text,
        portal.get(
            reverse(
                "portal:task",
                kwargs={"onboarding_id": tenant_b.onboarding.pk, "task_id": task.pk},
            ),
            HTTP_HOST=tenant_b.host,
        ).text,
        client_for(tenant_b, tenant_b.csm)
        .get(f"/app/onboardings/{tenant_b.onboarding.pk}/plan/tasks/{task.pk}/comments/")
        .text,
    ]
    for page in pages:
        assert LABEL_A not in page
    assert '<span class="who">Jane Roe</span>' in pages[0]  # the portal's header
    assert "Jane Roe" in pages[1] and "Jane Roe" in pages[2]  # the comment's author
    # ...named on the comment itself, not only in the header, on both sides.
    assert '<p class="comment-meta"><strong>Jane Roe</strong>' in pages[1]
    assert '<p class="comment-meta"><strong>Jane Roe</strong>' in pages[2]
    activity = (
        client_for(tenant_b, tenant_b.csm)
        .get(f"/app/onboardings/{tenant_b.onboarding.pk}/activity/")
        .text
    )
    assert "Jane Roe commented on" in activity and EMAIL not in activity


def test_the_first_tenant_still_sees_its_own_name(tenant_a, tenant_b):
    _invite(tenant_a, LABEL_A)
    _invite(tenant_b, "Jane Roe")
    jane = User.objects.get(email=EMAIL)
    portal = Client(HTTP_HOST=tenant_a.host)
    assert portal.post(urlsplit(issue_sign_in_link(tenant_a.tenant, jane)).path).status_code == 302
    page = portal.get(f"/portal/o/{tenant_a.onboarding.pk}/").text
    assert f'<span class="who">{LABEL_A}</span>' in page and "Jane Roe" not in page
