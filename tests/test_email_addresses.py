"""One spelling per address, compared exactly.

PostgreSQL's case-insensitive comparison (`UPPER(a) = UPPER(b)`, Django's `iexact`) folds Unicode:
the dotless ı of a look-alike domain becomes I. Lookups by address must not, or a domain someone
can register takes over another person's invitations. On SQLite `UPPER` only folds ASCII, so the
collision itself shows on PostgreSQL; the rest holds on both.
"""

from __future__ import annotations

import re

from django.core import mail
from django.db import connection

from accounts.addresses import normalize_email
from accounts.models import User
from accounts.services import get_or_create_user
from onboarding.models import Contact, PortalAccess
from onboarding.services.invitations import invite_contact
from portal.tenancy.context import tenant_context
from tests.conftest import client_for

REAL = "jane@acmi.example"
LOOK_ALIKE = "jane@acm\u0131.example"  # dotless ı: a different domain


def test_the_database_folds_the_look_alike_when_it_can(db):
    """Shows what the exact lookups guard against: PostgreSQL with a UTF-8 character type
    folds the dotless ı (a C locale or SQLite folds only ASCII)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT UPPER(%s) = UPPER(%s)", [REAL, LOOK_ALIKE])
        folded = bool(cursor.fetchone()[0])
        utf8 = False
        if connection.vendor == "postgresql":
            cursor.execute("SHOW lc_ctype")
            utf8 = "utf" in cursor.fetchone()[0].lower()
    assert folded == utf8


def test_look_alike_addresses_are_two_people(db):
    planted = get_or_create_user(LOOK_ALIKE, "Planted")
    real = get_or_create_user(REAL, "Jane")
    assert planted.pk != real.pk
    assert real.email == REAL
    assert get_or_create_user(" Jane@ACMI.example ").pk == real.pk


def test_an_invitation_never_goes_to_a_look_alike_account(
    tenant_a, tenant_b, django_capture_on_commit_callbacks
):
    with tenant_context(tenant_b.tenant):
        planted = Contact.objects.create(
            onboarding=tenant_b.onboarding, side="customer", name="Planted", email=LOOK_ALIKE
        )
        invite_contact(tenant_b.tenant, planted, send_email=False)
    with tenant_context(tenant_a.tenant):
        jane = Contact.objects.create(
            onboarding=tenant_a.onboarding, side="customer", name="Jane Roe", email=REAL
        )
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            access = invite_contact(tenant_a.tenant, jane)
        access = PortalAccess.objects.select_related("user").get(pk=access.pk)
    assert access.user.email == REAL
    assert [m.to for m in mail.outbox] == [[REAL]]


def test_a_sign_in_code_asked_for_a_look_alike_goes_nowhere(
    tenant_a, django_capture_on_commit_callbacks
):
    with tenant_context(tenant_a.tenant):
        jane = Contact.objects.create(
            onboarding=tenant_a.onboarding, side="customer", name="Jane", email=REAL
        )
        invite_contact(tenant_a.tenant, jane, send_email=False)
    mail.outbox.clear()
    client = client_for(tenant_a, None)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/sign-in/", {"email": LOOK_ALIKE})
    assert mail.outbox == []
    # Control: the real address does get its code.
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/sign-in/", {"email": REAL.upper()})
    assert [m.to for m in mail.outbox] == [[REAL]]
    assert re.search(r"\b\d{8}\b", mail.outbox[0].body)


def test_every_path_stores_one_spelling(tenant_a):
    user = User(email="  Mixed.Case@Example.COM ")
    user.save()
    assert User.objects.get(pk=user.pk).email == "mixed.case@example.com"
    with tenant_context(tenant_a.tenant):
        contact = Contact.objects.create(
            onboarding=tenant_a.onboarding, side="customer", name="X", email="X.Y@Example.com"
        )
        assert Contact.objects.get(pk=contact.pk).email == "x.y@example.com"
    assert normalize_email(" A@B.C ") == "a@b.c"


def test_no_code_compares_addresses_case_insensitively_in_the_database():
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for package in ("accounts", "onboarding", "portal")
        for path in (root / package).rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "email__iexact" in line
    ]
    assert offenders == []


def test_the_platform_admin_refuses_a_second_spelling_of_an_address(db):
    from django.contrib.admin.sites import site
    from django.test import RequestFactory

    User.objects.create_user("jane@example.com")
    request = RequestFactory().post("/admin/")
    request.user = User(is_staff=True, is_superuser=True)
    form_class = site._registry[User].get_form(request, None)
    form = form_class(data={"email": " Jane@Example.COM ", "date_joined_0": "2026-01-01",
                            "date_joined_1": "00:00:00", "is_active": "on"})  # fmt: skip
    assert not form.is_valid()
    assert "already exists" in str(form.errors["email"])
    form = form_class(data={"email": "Other@Example.com", "date_joined_0": "2026-01-01",
                            "date_joined_1": "00:00:00", "is_active": "on"})  # fmt: skip
    assert form.is_valid(), form.errors
    assert form.save().email == "other@example.com"
