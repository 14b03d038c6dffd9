"""Client stakeholders: invite (through the handoff gate), re-send, revoke; accepted and last seen.

A revoked client sees nothing of the onboarding from their next request on; re-inviting restores
them. Only admins and CSMs change access; a closed onboarding is read-only.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from onboarding.models import ActivityEntry, Contact, HandoffDocument, PortalAccess
from onboarding.services import invitations
from portal.tenancy.context import tenant_context
from tests.conftest import client_for

GATED = hasattr(invitations, "share_portal")


def url(world, name: str, **kwargs) -> str:
    return reverse(f"workspace:{name}", kwargs={"onboarding_id": world.onboarding.pk, **kwargs})


def field_error(html: str, field_id: str) -> str:
    match = re.search(
        rf'<div class="error" id="{re.escape(field_id)}_error">(.*?)</div>', html, re.S
    )
    return re.sub(r"<[^>]+>", "", match.group(1)).strip() if match else ""


def complete_handoff(world) -> None:
    with tenant_context(world.tenant):
        HandoffDocument.objects.filter(onboarding=world.onboarding).update(
            goals=["Cut onboarding time in half"],
            commitments=["SSO in week 2"],
            risks=["IT bandwidth"],
            contract_value=150000,
            currency="USD",
            seats=200,
            modules=["Core"],
            renewal_date=dt.date(2027, 11, 16),
            account_executive="Avery AE",
        )
        Contact.objects.filter(pk=world.contact.pk).update(role="Sponsor")


def access_of(world, email: str) -> PortalAccess | None:
    with tenant_context(world.tenant):
        return PortalAccess.objects.select_related("user").filter(user__email=email).first()


@pytest.fixture
def csm(tenant_a):
    return client_for(tenant_a, tenant_a.csm)


def invitation_links(to: str) -> list[str]:
    return [
        re.search(r"https?://\S+/portal/sign-in/\S+/", m.body).group(0)
        for m in mail.outbox
        if m.to == [to]
    ]


@pytest.mark.skipif(not GATED, reason="the handoff gate (invitations.share_portal) is not built")
def test_the_portal_is_shared_only_once_the_handoff_is_complete(tenant_a, csm):
    page = csm.get(url(tenant_a, "stakeholders")).text
    assert 'data-testid="handoff-gate"' in page
    response = csm.post(
        url(tenant_a, "stakeholder-invite"),
        {"name": "Dana Whitfield", "email": "dana@alpha-customer.example", "role": "IT admin"},
    )
    assert response.status_code == 400
    assert "The handoff is incomplete" in response.text
    with tenant_context(tenant_a.tenant):
        assert not Contact.objects.filter(email="dana@alpha-customer.example").exists()
    assert access_of(tenant_a, "dana@alpha-customer.example") is None


def test_inviting_a_new_person_creates_the_contact_and_emails_a_sign_in_link(
    tenant_a, csm, django_capture_on_commit_callbacks
):
    complete_handoff(tenant_a)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = csm.post(
            url(tenant_a, "stakeholder-invite"),
            {"name": "Dana Whitfield", "email": "Dana@Alpha-Customer.example", "role": "IT admin"},
        )
    assert response.status_code == 302
    access = access_of(tenant_a, "dana@alpha-customer.example")
    assert access is not None and access.revoked_at is None and access.accepted_at is None
    with tenant_context(tenant_a.tenant):
        assert access.contact.side == "customer" and access.contact.role == "IT admin"
        texts = list(ActivityEntry.objects.values_list("text", flat=True))
    assert len(invitation_links("dana@alpha-customer.example")) == 1
    assert any("Dana Whitfield" in t for t in texts)
    page = csm.get(url(tenant_a, "stakeholders")).text
    row = page.split(f'id="access-{access.pk}"')[1].split("</tr>")[0]
    assert "Not accepted yet" in row and "Never" in row


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"name": "", "email": "x@y.example"}, "name", "Enter the person"),
        ({"name": "X", "email": ""}, "email", "Enter the email address"),
        ({"name": "X", "email": "not-an-email"}, "email", "valid email"),
        (
            {"name": "X", "email": "CLIENT@alpha-customer.example"},
            "email",
            "already has this email",
        ),
        ({"contact": "999999"}, "contact", "valid choice"),
    ],
)
def test_bad_invitations_are_refused_next_to_the_field(tenant_a, csm, data, field, message):
    complete_handoff(tenant_a)
    with tenant_context(tenant_a.tenant):
        contacts = Contact.objects.count()
    mail.outbox.clear()
    response = csm.post(url(tenant_a, "stakeholder-invite"), data)
    assert response.status_code == 400
    assert message in field_error(response.text, f"id_{field}")
    with tenant_context(tenant_a.tenant):
        assert Contact.objects.count() == contacts
    assert mail.outbox == []


def test_a_contact_of_another_tenant_cannot_be_invited(tenant_a, tenant_b, csm):
    complete_handoff(tenant_a)
    response = csm.post(url(tenant_a, "stakeholder-invite"), {"contact": str(tenant_b.contact.pk)})
    assert response.status_code == 400
    assert "valid choice" in field_error(response.text, "id_contact")
    with tenant_context(tenant_b.tenant):
        assert PortalAccess.objects.filter(contact=tenant_b.contact).count() == 1


def test_access_to_a_closed_onboarding_can_still_be_revoked(tenant_a, csm):
    """The closed portal stays readable by the customer's people, so someone who left the
    customer must still be taken out; nothing else on the page is offered."""
    from onboarding.models import Onboarding

    portal = f"/portal/o/{tenant_a.onboarding.pk}/"
    client = client_for(tenant_a, tenant_a.client)
    assert client.get(portal).status_code == 200
    with tenant_context(tenant_a.tenant):
        Onboarding.objects.filter(pk=tenant_a.onboarding.pk).update(status="closed")
    access = access_of(tenant_a, tenant_a.client.email)
    revoke = url(tenant_a, "stakeholder-revoke", access_id=access.pk)
    page = csm.get(url(tenant_a, "stakeholders")).text
    assert revoke in page and "stakeholder-resend" not in page and "Send invitation" not in page
    viewer = client_for(tenant_a, tenant_a.viewer)
    assert revoke not in viewer.get(url(tenant_a, "stakeholders")).text
    assert viewer.post(revoke).status_code == 403
    confirm = csm.get(revoke).text
    assert "Revoke access</button>" in confirm and "Admins and CSMs manage" not in confirm
    response = csm.post(revoke, follow=True)
    assert "no longer has access to the portal" in response.text
    assert access_of(tenant_a, tenant_a.client.email).revoked_at is not None
    assert client.get(portal).status_code == 404


def test_resend_sends_a_fresh_link_and_revoke_locks_the_client_out_at_once(
    tenant_a, csm, django_capture_on_commit_callbacks
):
    complete_handoff(tenant_a)
    portal = f"/portal/o/{tenant_a.onboarding.pk}/"
    access = access_of(tenant_a, tenant_a.client.email)
    page = csm.get(url(tenant_a, "stakeholders")).text
    row = page.split(f'id="access-{access.pk}"')[1].split("</tr>")[0]
    assert "Not accepted yet" in row and "Never" in row

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = csm.post(url(tenant_a, "stakeholder-resend", access_id=access.pk))
    assert response.status_code == 302
    [link] = invitation_links(tenant_a.client.email)
    assert f"{tenant_a.tenant.slug}.localhost" in link

    # The client follows the fresh link (a button, then signed in) and visits the portal.
    client = client_for(tenant_a)
    path = "/" + link.split("/", 3)[3]
    assert client.get(path).status_code == 200
    assert client.post(path).status_code == 302
    assert client.get(portal).status_code == 200
    access = access_of(tenant_a, tenant_a.client.email)
    assert access.accepted_at is not None and access.last_seen_at is not None
    page = csm.get(url(tenant_a, "stakeholders")).text
    row = page.split(f'id="access-{access.pk}"')[1].split("</tr>")[0]
    assert "Not accepted yet" not in row and "Never" not in row
    assert row.count("<time") == 3  # invited, accepted, last visit

    confirm = csm.get(url(tenant_a, "stakeholder-revoke", access_id=access.pk))
    assert confirm.status_code == 200 and "Revoke access" in confirm.text
    response = csm.post(url(tenant_a, "stakeholder-revoke", access_id=access.pk))
    assert response.status_code == 302
    assert client.get(portal).status_code == 404
    assert client.get(f"{portal}milestones.ics").status_code == 404
    assert tenant_a.marker not in client.get("/portal/", follow=True).text
    again = csm.post(url(tenant_a, "stakeholder-revoke", access_id=access.pk), follow=True)
    assert "already revoked" in again.text
    mail.outbox.clear()
    resend = csm.post(url(tenant_a, "stakeholder-resend", access_id=access.pk), follow=True)
    assert "invite them again" in resend.text and mail.outbox == []
    assert "Revoked" in csm.get(url(tenant_a, "stakeholders")).text

    # Invited again (the contact is offered again), the client is back.
    page = csm.get(url(tenant_a, "stakeholders")).text
    assert f'<option value="{tenant_a.contact.pk}">' in page
    response = csm.post(url(tenant_a, "stakeholder-invite"), {"contact": str(tenant_a.contact.pk)})
    assert response.status_code == 302
    assert client.get(portal).status_code == 200
    with tenant_context(tenant_a.tenant):
        texts = list(ActivityEntry.objects.values_list("text", flat=True))
    assert any("revoked alpha client's portal access" in t for t in texts)
    assert any("re-sent the portal invitation to alpha client" in t for t in texts)


def test_only_admins_and_csms_change_access(tenant_a):
    complete_handoff(tenant_a)
    access = access_of(tenant_a, tenant_a.client.email)
    viewer = client_for(tenant_a, tenant_a.viewer)
    page = viewer.get(url(tenant_a, "stakeholders"))
    assert page.status_code == 200 and tenant_a.client.email in page.text
    assert "Re-send" not in page.text and "Send invitation" not in page.text
    assert viewer.post(url(tenant_a, "stakeholder-revoke", access_id=access.pk)).status_code == 403
    assert viewer.post(url(tenant_a, "stakeholder-resend", access_id=access.pk)).status_code == 403
    response = viewer.post(
        url(tenant_a, "stakeholder-invite"), {"name": "Eve", "email": "eve@x.example"}
    )
    assert response.status_code == 403
    assert access_of(tenant_a, tenant_a.client.email).revoked_at is None
    assert access_of(tenant_a, "eve@x.example") is None
    # The client user themself is not a member: the workspace does not exist for them.
    client = client_for(tenant_a, tenant_a.client)
    assert client.get(url(tenant_a, "stakeholders")).status_code == 404


def test_another_onboardings_access_is_missing_here(tenant_a, tenant_b, csm):
    foreign = access_of(tenant_b, tenant_b.client.email)
    for name in ("stakeholder-revoke", "stakeholder-resend"):
        assert csm.post(url(tenant_a, name, access_id=foreign.pk)).status_code == 404
    assert access_of(tenant_b, tenant_b.client.email).revoked_at is None


def test_the_stakeholders_page_takes_the_same_queries_for_more_people(tenant_a, tenant_b):
    def grow(world, n):
        with tenant_context(world.tenant):
            for i in range(n):
                contact = Contact.objects.create(
                    onboarding=world.onboarding,
                    side="customer",
                    name=f"Person {i}",
                    email=f"p{i}@{world.tenant.slug}-customer.example",
                )
                invitations.invite_contact(world.tenant, contact, send_email=False)

    grow(tenant_b, 20)
    counts = []
    for world in (tenant_a, tenant_b):
        client = client_for(world, world.csm)
        client.get(url(world, "stakeholders"))
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url(world, "stakeholders"))
        assert response.status_code == 200
        counts.append(len(captured))
    assert counts[0] == counts[1], counts
