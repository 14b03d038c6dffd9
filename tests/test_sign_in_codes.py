"""Client sign-in by emailed code: single use, limited guesses, no hint who is invited."""

from __future__ import annotations

import re

from django.core import mail
from django.test import Client

from accounts.services import MAX_CODE_ATTEMPTS, SIGN_IN_CODE_LIFETIME, issue_sign_in
from tests.factories import build_world

CODE = SIGN_IN_CODE_LIFETIME  # a sign-in as the code email issues it


def request_code(host: str, email: str, capture) -> Client:
    client = Client(HTTP_HOST=host)
    with capture(execute=True):
        response = client.post("/sign-in/", {"email": email})
    assert response.status_code == 302 and response["Location"] == "/sign-in/code/"
    return client


def test_a_code_signs_an_invited_client_in_once(tenant_a, django_capture_on_commit_callbacks):
    client = request_code(tenant_a.host, tenant_a.client.email, django_capture_on_commit_callbacks)
    [message] = mail.outbox
    assert message.to == [tenant_a.client.email]
    code = re.search(r"\b(\d{8})\b", message.body).group(1)
    assert "http://alpha.localhost:8000/portal/sign-in/" in message.body
    assert message.alternatives and code in message.alternatives[0][0]
    response = client.post("/sign-in/code/", {"email": tenant_a.client.email, "code": code})
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert client.get("/portal/", follow=True).status_code == 200
    again = Client(HTTP_HOST=tenant_a.host).post(
        "/sign-in/code/", {"email": tenant_a.client.email, "code": code}
    )
    assert again.status_code == 200 and "wrong or has expired" in again.text


def test_unknown_and_known_emails_get_the_same_answer(tenant_a, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    known = request_code(tenant_a.host, tenant_a.client.email, capture)
    unknown = request_code(tenant_a.host, "nobody@nowhere.example", capture)
    member = request_code(tenant_a.host, tenant_a.csm.email, capture)
    pages = [c.get("/sign-in/code/").text for c in (known, unknown, member)]
    # Only the prefilled email differs.
    volatile = r'value="[^"]*@[^"]*"|name="csrfmiddlewaretoken" value="[^"]+"|nonce="[^"]+"'
    normalised = [re.sub(volatile, "", p) for p in pages]
    assert normalised[0] == normalised[1] == normalised[2]
    assert [m.to for m in mail.outbox] == [[tenant_a.client.email]]  # only the invited client


def test_wrong_codes_are_limited(tenant_a):
    sign_in = issue_sign_in(tenant_a.tenant, tenant_a.client, CODE)
    client = Client(HTTP_HOST=tenant_a.host)
    wrong = "00000000" if sign_in.code != "00000000" else "11111111"
    for _ in range(MAX_CODE_ATTEMPTS):
        response = client.post("/sign-in/code/", {"email": tenant_a.client.email, "code": wrong})
        assert response.status_code == 200 and "wrong or has expired" in response.text
    # The right code no longer works: the guesses spent it.
    response = client.post("/sign-in/code/", {"email": tenant_a.client.email, "code": sign_in.code})
    assert "wrong or has expired" in response.text
    assert "_auth_user_id" not in client.session


def test_a_code_from_one_tenant_does_not_work_on_another(tenant_a, db):
    tenant_b = build_world("bravo")
    sign_in = issue_sign_in(tenant_a.tenant, tenant_a.client, CODE)
    response = Client(HTTP_HOST=tenant_b.host).post(
        "/sign-in/code/", {"email": tenant_a.client.email, "code": sign_in.code}
    )
    assert "wrong or has expired" in response.text
    # And the link itself is 404 on the other tenant's host.
    path = sign_in.url.split(":8000", 1)[1]
    assert Client(HTTP_HOST=tenant_b.host).get(path).status_code == 404
    assert Client(HTTP_HOST=tenant_a.host).get(path).status_code == 200


def test_malformed_input_is_explained_next_to_the_field(tenant_a):
    response = Client(HTTP_HOST=tenant_a.host).post("/sign-in/", {"email": "not an email"})
    assert response.status_code == 200 and "valid email" in response.text
    response = Client(HTTP_HOST=tenant_a.host).post(
        "/sign-in/code/", {"email": tenant_a.client.email, "code": "12ab"}
    )
    assert "Enter the eight digits" in response.text


def test_code_requests_are_rate_limited(tenant_a, django_capture_on_commit_callbacks):
    for _ in range(8):
        request_code(tenant_a.host, tenant_a.client.email, django_capture_on_commit_callbacks)
    assert len(mail.outbox) == 5


def test_a_code_sign_in_counts_as_engagement(tenant_a):
    from onboarding.models import EngagementEvent, PortalAccess
    from portal.tenancy.context import tenant_context

    sign_in = issue_sign_in(tenant_a.tenant, tenant_a.client, CODE)
    Client(HTTP_HOST=tenant_a.host).post(
        "/sign-in/code/", {"email": tenant_a.client.email, "code": sign_in.code}
    )
    with tenant_context(tenant_a.tenant):
        assert EngagementEvent.objects.filter(user=tenant_a.client, kind="sign_in").count() == 1
        assert PortalAccess.objects.get(user=tenant_a.client).accepted_at is not None


def test_codes_have_eight_digits_typed_with_or_without_a_space(tenant_a):
    """10^8 codes: someone guessing across many invited addresses at 5 guesses per code and 5
    codes per address an hour has about one chance in 10^8 per guess, not 10^6."""
    codes = {issue_sign_in(tenant_a.tenant, tenant_a.client, CODE).code for _ in range(20)}
    assert all(re.fullmatch(r"\d{8}", c) for c in codes) and len(codes) > 1
    sign_in = issue_sign_in(tenant_a.tenant, tenant_a.client, CODE)
    client = Client(HTTP_HOST=tenant_a.host)
    typed = f" {sign_in.code[:4]} {sign_in.code[4:]} "
    client.post("/sign-in/code/", {"email": tenant_a.client.email, "code": typed})
    assert client.session["_auth_user_id"] == str(tenant_a.client.pk)


def test_a_six_digit_code_emailed_before_codes_grew_still_works(tenant_a):
    from accounts.models import SignInLink
    from accounts.services import _code_hash
    from portal.tenancy.context import tenant_context

    issue_sign_in(tenant_a.tenant, tenant_a.client, CODE)
    with tenant_context(tenant_a.tenant):
        SignInLink.objects.update(code_hash=_code_hash(tenant_a.client.email, "123456"))
    client = Client(HTTP_HOST=tenant_a.host)
    client.post("/sign-in/code/", {"email": tenant_a.client.email, "code": "123456"})
    assert client.session["_auth_user_id"] == str(tenant_a.client.pk)


def test_an_invitations_week_long_link_carries_no_code(tenant_a):
    """Nobody is shown a code with an invitation, so none exists to be guessed for a week, nor
    to shadow the code the client did ask for (only the newest open code is checked)."""
    from accounts.models import SignInLink
    from portal.tenancy.context import tenant_context

    asked = issue_sign_in(tenant_a.tenant, tenant_a.client, CODE)
    invitation = issue_sign_in(tenant_a.tenant, tenant_a.client)  # re-sent afterwards
    assert invitation.code == "" and invitation.url
    client = Client(HTTP_HOST=tenant_a.host)
    client.post("/sign-in/code/", {"email": tenant_a.client.email, "code": asked.code})
    assert client.session["_auth_user_id"] == str(tenant_a.client.pk)
    with tenant_context(tenant_a.tenant):
        assert SignInLink.objects.filter(code_hash="").count() == 1


def test_a_code_on_an_old_long_lived_link_is_dead_after_the_code_lifetime(tenant_a):
    """Invitation links issued before they stopped carrying codes kept a six-digit one for a
    week; a code works only within SIGN_IN_CODE_LIFETIME of its issue, whatever the link's."""
    import datetime as dt

    from django.utils import timezone

    from accounts.models import SignInLink
    from accounts.services import _code_hash
    from portal.tenancy.context import tenant_context

    issue_sign_in(tenant_a.tenant, tenant_a.client)
    with tenant_context(tenant_a.tenant):
        SignInLink.objects.update(
            code_hash=_code_hash(tenant_a.client.email, "123456"),
            created_at=timezone.now() - CODE - dt.timedelta(minutes=1),
        )
    client = Client(HTTP_HOST=tenant_a.host)
    response = client.post("/sign-in/code/", {"email": tenant_a.client.email, "code": "123456"})
    assert "wrong or has expired" in response.text and "_auth_user_id" not in client.session


def test_digits_of_other_scripts_are_refused_at_the_form_without_spending_a_guess(tenant_a):
    from accounts.models import SignInLink
    from portal.tenancy.context import tenant_context

    sign_in = issue_sign_in(tenant_a.tenant, tenant_a.client, CODE)
    arabic = "".join(chr(0x0660 + int(d)) for d in sign_in.code)
    response = Client(HTTP_HOST=tenant_a.host).post(
        "/sign-in/code/", {"email": tenant_a.client.email, "code": arabic}
    )
    assert "Enter the eight digits" in response.text
    with tenant_context(tenant_a.tenant):
        assert SignInLink.objects.get().failed_attempts == 0
