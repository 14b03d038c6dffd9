from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import TenantDomain
from tests.conftest import client_for
from tests.factories import PASSWORD


def test_unknown_hosts_get_404_and_no_tenant(tenant_a):
    for host in (
        "unknown.localhost",
        "evil.example",
        "alpha.localhost.evil.example",
        "a.b.localhost",
    ):
        response = Client(HTTP_HOST=host).get("/")
        assert response.status_code == 404, host
        assert tenant_a.marker.encode() not in response.content


def test_subdomain_and_custom_domain_resolve_to_the_tenant(tenant_a):
    TenantDomain.objects.create(
        tenant=tenant_a.tenant, domain="Onboarding.Alpha-Corp.example", verified_at=timezone.now()
    )
    for host in ("alpha.localhost", "alpha.localhost:8000", "onboarding.alpha-corp.example"):
        client = client_for(tenant_a, tenant_a.csm)
        client.defaults["HTTP_HOST"] = host
        response = client.get("/app/")
        # The session was bound on alpha.localhost: the custom domain is a different host name
        # but the same tenant, so the binding (by tenant) holds.
        assert response.status_code == 200, host
        assert tenant_a.marker in response.text


def test_a_domain_can_belong_to_one_tenant_only(tenant_a, tenant_b):
    import pytest
    from django.db import IntegrityError, transaction

    TenantDomain.objects.create(
        tenant=tenant_a.tenant, domain="portal.shared.example", verified_at=timezone.now()
    )
    # Another tenant may claim it (and fail to verify it), never hold it verified too.
    claim = TenantDomain.objects.create(tenant=tenant_b.tenant, domain="PORTAL.shared.example")
    with pytest.raises(IntegrityError), transaction.atomic():
        TenantDomain.objects.filter(pk=claim.pk).update(verified_at=timezone.now())
    page = Client(HTTP_HOST="portal.shared.example").get("/accounts/login/")
    assert tenant_a.tenant.name in page.text and tenant_b.tenant.name not in page.text


def test_healthz_answers_when_the_database_is_reachable(tenant_a):
    response = Client(HTTP_HOST="alpha.localhost").get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert Client(HTTP_HOST="localhost").get("/healthz").status_code == 200


def test_cookies_are_host_only(tenant_a):
    client = Client(HTTP_HOST=tenant_a.host)
    response = client.post("/accounts/login/", {"login": tenant_a.csm.email, "password": PASSWORD})
    assert response.status_code == 302
    session_cookie = response.cookies["sessionid"]
    assert session_cookie["domain"] == ""
    assert session_cookie["httponly"]
    csrf = client.get("/accounts/login/").cookies.get("csrftoken")
    assert csrf is None or csrf["domain"] == ""


def test_a_session_from_one_tenant_is_anonymous_on_another(tenant_a, tenant_b):
    # A user who is a member of both tenants signs in on A.
    from accounts.services import add_member

    add_member(tenant_b.tenant, tenant_a.csm, "csm")
    client = Client(HTTP_HOST=tenant_a.host)
    client.post("/accounts/login/", {"login": tenant_a.csm.email, "password": PASSWORD})
    assert client.get("/app/").status_code == 200
    # The same cookie, copied to B's host (a browser would never send it there).
    thief = Client(HTTP_HOST=tenant_b.host)
    thief.cookies["sessionid"] = client.cookies["sessionid"].value
    response = thief.get("/app/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert thief.get("/api/v1/onboardings/").status_code == 403
    assert client.get("/app/").status_code == 200  # still signed in where it was created


def test_password_sign_in_is_refused_on_a_tenant_the_user_is_not_a_member_of(tenant_a, tenant_b):
    client = Client(HTTP_HOST=tenant_b.host)
    response = client.post("/accounts/login/", {"login": tenant_a.csm.email, "password": PASSWORD})
    assert response.status_code == 200  # the form again, with an error
    assert "_auth_user_id" not in client.session
    wrong = Client(HTTP_HOST=tenant_b.host).post(
        "/accounts/login/", {"login": tenant_a.csm.email, "password": "wrong-password"}
    )
    assert wrong.status_code == 200


def test_host_resolution_costs_one_query(tenant_a):
    client = Client(HTTP_HOST=tenant_a.host)
    with CaptureQueriesContext(connection) as queries:
        client.get("/healthz")
    assert len(queries) == 2  # the tenant lookup and SELECT 1


def test_the_sign_in_page_offers_no_sign_up(tenant_a):
    """Accounts come from invitations; open sign-up is off, so the page must not offer it."""
    html = client_for(tenant_a).get("/accounts/login/").text
    assert "Sign in to Alpha Corp" in html
    assert "sign up" not in html.lower() and "/accounts/signup/" not in html
    assert 'name="login"' in html and 'name="password"' in html
    assert "/accounts/password/reset/" in html
    assert "the sign up is currently closed" in client_for(tenant_a).get("/accounts/signup/").text


def test_nobody_changes_their_own_email_address(tenant_a, tenant_b):
    """Users are shared across tenants and invitations attach to the account that has the
    address: a user who could take a not-yet-invited address would be handed that person's
    portal access in another tenant when it is invited."""
    from accounts.models import User

    client = client_for(tenant_b, tenant_b.admin)
    target = "new.stakeholder@alpha-customer.example"
    for data in ({"action_add": "", "email": target}, {"action_primary": "", "email": target}):
        assert client.post("/accounts/email/", data).status_code == 404
    assert client.get("/accounts/email/").status_code == 404
    assert client.get("/accounts/confirm-email/some-key/").status_code == 404
    assert not User.objects.filter(email=target).exists()
    assert User.objects.get(pk=tenant_b.admin.pk).email == tenant_b.admin.email
