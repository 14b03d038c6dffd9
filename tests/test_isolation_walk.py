"""Walk every URL pattern the project registers and prove tenant isolation on each one.

Two fully populated tenants, alpha (A) and bravo (B), built once per module. On A's host:

* every pattern that takes an object id answers B's real id exactly as it answers an id that
  exists nowhere (same status, content type, Location and Allow headers, same body), for GET,
  HEAD, OPTIONS, POST, PUT, PATCH and DELETE, as A's admin, A's client user, an anonymous visitor
  and a user who is B's admin and also one of A's invited clients; with two ids in the URL (a
  task under an onboarding), also B's child under A's own parent. No row anywhere changes, and a
  control request with A's own ids reaches the object, so the 404s are about B;
* every pattern without an object id shows nothing of B, and the pages listing A's data show it;
* a write that names one of B's objects (a task's onboarding, milestone, contact or dependency;
  an onboarding's owner or customer; a user by email at sign-in or password reset) is refused the
  way an unknown one is;
* the platform urlconf (admin) is not served on tenant hosts at all, and on the platform host a
  tenant admin (not platform staff) cannot tell B's objects from missing ones;
* a session from one host is anonymous on every other host, and unknown hosts serve nothing.

The patterns are enumerated from both urlconfs, not listed here. Each URL kwarg is filled from
OBJECT_KWARGS (a real object of a given world, or an id that exists nowhere); a kwarg in neither
OBJECT_KWARGS nor the short NOT_OBJECT_KWARGS allowlist fails test_every_url_kwarg_is_known (and
the walk of that pattern), so a new endpoint is walked as soon as it is registered.

"Identical body" means identical bytes after masking only what the caller sent or what is random
per response: the requested path (a login redirect's `next=`, DRF's browsable page), a kwarg value
quoted back as a form value (allauth's JSON form), masked CSRF tokens and CSP nonces.
"""

from __future__ import annotations

import datetime as dt
import difflib
import io
import json
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from allauth.account.models import EmailAddress
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.http import HttpResponseBase
from django.test import Client, override_settings
from django.urls import Resolver404, URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern, RoutePattern
from django.utils import timezone
from django.utils.http import int_to_base36
from PIL import Image

from accounts import services_branding as branding
from accounts.content_safety import reencode_image
from accounts.models import Membership, Role, Tenant, User
from accounts.services import SIGN_IN_CODE_LIFETIME, add_member, issue_sign_in, issue_sign_in_link
from onboarding.models import Contact, Customer, FaqEntry, Onboarding, Playbook, Task
from onboarding.services import portal as portal_services
from onboarding.services.invitations import invite_contact
from portal.tenancy.context import tenant_context
from portal.tenancy.middleware import UNKNOWN_HOST_BODY
from tests.conftest import client_for
from tests.factories import PASSWORD, World, build_world, verified_domain

TENANT_URLCONF = "portal.urls"
PLATFORM_URLCONF = "portal.urls_platform"
PLATFORM_HOST = settings.BASE_DOMAIN
UNKNOWN_PATH = "/no-such-page-anywhere/"

# --------------------------------------------------------------------------------------------
# Enumerating the URL patterns
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    urlconf: str
    segments: tuple[Any, ...]  # the RoutePattern / RegexPattern of each include level
    name: str | None  # namespaced, e.g. "workspace:onboarding"
    callback: Callable

    @property
    def route(self) -> str:
        return "".join(str(s) for s in self.segments)

    @property
    def kwargs(self) -> tuple[str, ...]:
        names: list[str] = []
        for segment in self.segments:
            names.extend(segment.regex.groupindex)
        return tuple(names)

    @property
    def label(self) -> str:
        side = "tenant" if self.urlconf == TENANT_URLCONF else "platform"
        return f"{side}:/{fill(self, {k: f'<{k}>' for k in self.kwargs})}"


def _walk(patterns, urlconf: str, prefix=(), namespaces=()) -> Iterator[Route]:
    for p in patterns:
        if isinstance(p, URLResolver):
            ns = namespaces + ((p.namespace,) if p.namespace else ())
            yield from _walk(p.url_patterns, urlconf, prefix + (p.pattern,), ns)
        elif isinstance(p, URLPattern):
            name = ":".join(namespaces + (p.name,)) if p.name else None
            yield Route(urlconf, prefix + (p.pattern,), name, p.callback)
        else:  # pragma: no cover - a new kind of pattern must be taught to the walk
            raise TypeError(f"Cannot walk {p!r}")


_ROUTE_PARAM = re.compile(r"<(?:[^>:]+:)?(?P<name>[^>]+)>")


def _fill_regex(regex: str, values: dict[str, str]) -> str:
    """A concrete path for a regex segment: anchors dropped, each named group replaced."""
    regex = regex.removeprefix("^")
    if regex.endswith("$") and not regex.endswith("\\$"):
        regex = regex[:-1]
    out, i = [], 0
    while i < len(regex):
        if regex.startswith("(?P<", i):
            name = regex[i + 4 : regex.index(">", i)]
            depth, j = 0, i
            while True:  # skip to the group's closing parenthesis
                if regex[j] == "\\":
                    j += 2
                    continue
                depth += {"(": 1, ")": -1}.get(regex[j], 0)
                j += 1
                if depth == 0:
                    break
            out.append(values[name])
            i = j
        elif regex[i] == "\\":
            out.append(regex[i + 1])
            i += 2
        else:
            if regex[i] in "^$()[]{}*+?|.":
                raise AssertionError(f"Cannot build a path from the regex {regex!r}")
            out.append(regex[i])
            i += 1
    return "".join(out)


def fill(route: Route, values: dict[str, str]) -> str:
    parts = []
    for segment in route.segments:
        if isinstance(segment, RoutePattern):
            parts.append(_ROUTE_PARAM.sub(lambda m: values[m["name"]], str(segment)))
        elif isinstance(segment, RegexPattern):
            parts.append(_fill_regex(segment._regex, values))
        else:  # pragma: no cover
            raise TypeError(f"Cannot fill {segment!r}")
    return "".join(parts)


def url_for(route: Route, values: dict[str, str]) -> str:
    """The path of `route` with `values`, checked to resolve back to that very pattern."""
    path = "/" + fill(route, values)
    match = resolve(path, route.urlconf)
    assert match.func is route.callback, f"{path} resolves to {match.func}, not {route.label}"
    assert {k: str(v) for k, v in match.kwargs.items()} == values, (path, match.kwargs)
    return path


ROUTES = [
    *_walk(get_resolver(TENANT_URLCONF).url_patterns, TENANT_URLCONF),
    *_walk(get_resolver(PLATFORM_URLCONF).url_patterns, PLATFORM_URLCONF),
]
TENANT_ROUTES = [r for r in ROUTES if r.urlconf == TENANT_URLCONF]
PLATFORM_ROUTES = [r for r in ROUTES if r.urlconf == PLATFORM_URLCONF]
# Platform patterns also served on tenant hosts (healthz, allauth) are walked as tenant patterns.
_TENANT_CALLBACKS = {r.callback for r in TENANT_ROUTES}
PLATFORM_ONLY_ROUTES = [r for r in PLATFORM_ROUTES if r.callback not in _TENANT_CALLBACKS]

# --------------------------------------------------------------------------------------------
# The two worlds, and the registry of URL kwargs
# --------------------------------------------------------------------------------------------


@dataclass
class Side:
    """A world plus the few extra real objects the URL kwargs and admin pages need."""

    world: World
    sign_in_token: str
    membership_pk: int
    playbook_pk: int
    group_pk: int
    email_address_pk: int
    other_task_pk: int  # another task of the same onboarding that depends on nothing
    customer_task_pk: int  # a customer-side task: the portal's task pages show only those
    key_contact_pk: int
    faq_pk: int
    domain_pk: int
    attachment_pk: int
    resource_pk: int
    requirement_pk: int
    delivery: dict[str, int]  # training group/session, portal access, playbook parts
    dual: User | None = None  # on A: B's admin, invited to A's portal as a client

    @property
    def host(self) -> str:
        return self.world.host

    @property
    def slug(self) -> str:
        return self.world.tenant.slug


def _png() -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "#1f4e79").save(out, "PNG")
    return SimpleUploadedFile("photo.png", out.getvalue(), content_type="image/png")


def _populate(world: World) -> Side:
    """Give the world one of each object a URL can name, made through the product's services."""
    tenant, marker = world.tenant, world.marker
    link = issue_sign_in_link(tenant, world.client)
    token = resolve(urlsplit(link).path, TENANT_URLCONF).kwargs["token"]
    # Users, groups and email addresses are global; make one per world so the admin walk has a
    # real object of each registered model to point at.
    group = Group.objects.create(name=f"{tenant.slug} group")
    address = EmailAddress.objects.create(
        user=world.admin, email=world.admin.email, verified=True, primary=True
    )
    key_contact = branding.add_key_contact(
        tenant, name=f"{marker} key contact", role="CSM lead", photo=reencode_image(_png())
    )
    domain = verified_domain(tenant, f"portal.{tenant.slug}-corp.com")
    with tenant_context(tenant):
        customer_task = world.onboarding.tasks.filter(owner_side="customer").order_by("pk")[0]
        attachment = portal_services.add_attachment(
            world.client, customer_task, SimpleUploadedFile(f"{marker}.txt", b"notes")
        )
        return Side(
            world=world,
            sign_in_token=token,
            membership_pk=Membership.objects.get(user=world.admin).pk,
            playbook_pk=Playbook.objects.filter(is_default=True).order_by("pk").first().pk,
            group_pk=group.pk,
            email_address_pk=address.pk,
            other_task_pk=Task.objects.create(  # depends on nothing: a prerequisite without a loop
                onboarding=world.onboarding,
                title=f"{marker} standalone prerequisite",
                owner_side="vendor",
                due_date=world.onboarding.start_date,
            ).pk,
            customer_task_pk=customer_task.pk,
            key_contact_pk=key_contact.pk,
            faq_pk=FaqEntry.objects.order_by("pk")[0].pk,
            domain_pk=domain.pk,
            attachment_pk=attachment.pk,
            resource_pk=world.onboarding.training_resources.order_by("pk")[0].pk,
            requirement_pk=_steps_objects(world),
            delivery=_delivery_objects(world),
        )


def _delivery_objects(world: World) -> dict[str, int]:
    """A training group with a session, the client's portal access, and a playbook's parts."""
    from onboarding.models import (
        NpsRequest,
        PlaybookResource,
        PortalAccess,
        ReminderDigest,
        TrainingGroup,
        TrainingSession,
    )

    group = TrainingGroup.objects.create(
        onboarding=world.onboarding, name="Finance team", size=12, sophistication="medium"
    )
    session = TrainingSession.objects.create(
        group=group,
        title="Finance workflows",
        scheduled_at=timezone.now() + dt.timedelta(days=7),
    )
    playbook = Playbook.objects.filter(is_default=True).order_by("pk").first()
    resource = PlaybookResource.objects.create(
        playbook=playbook, title="Quick-start", kind="guide", url="https://example.com/q"
    )
    return {
        "group_id": group.pk,
        "session_id": session.pk,
        "access_id": PortalAccess.objects.get(user=world.client).pk,
        "playbook_id": playbook.pk,
        "playbook_milestone_id": playbook.milestones.order_by("pk")[0].pk,
        "playbook_task_id": playbook.tasks.order_by("pk")[0].pk,
        "playbook_resource_id": resource.pk,
        "digest_id": ReminderDigest.objects.create(
            recipient=world.client.email,
            for_date=world.tenant.local_today(),
            state=ReminderDigest.State.FAILED,
            last_error=f"{world.marker} refused",
        ).pk,
        "request_id": NpsRequest.objects.create(
            onboarding=world.onboarding,
            user=world.client,
            state=NpsRequest.State.FAILED,
            last_error=f"{world.marker} refused",
        ).pk,
    }


def _steps_objects(world: World) -> int:
    """A scheduled kickoff (both sides attend) and one requirement item; returns the item's pk."""
    from onboarding.models import RequirementItem
    from onboarding.services import kickoff as kickoff_services

    vendor = Contact.objects.create(
        onboarding=world.onboarding, side="vendor", name="Vendor CSM", email=world.csm.email
    )
    kickoff_services.schedule_kickoff(
        world.onboarding,
        {
            "date": world.tenant.local_today() + dt.timedelta(days=10),
            "time": dt.time(10),
            "duration_minutes": 60,
            "location": "",
            "attendees": [world.contact.pk, vendor.pk],
        },
        None,
        world.csm,
    )
    return RequirementItem.objects.create(
        onboarding=world.onboarding, category="integration", title="ERP export"
    ).pk


def _dual_role_user(*, client_of: Side, admin_of: Side) -> User:
    """One person, B's admin and an invited client of A: rights in B must not follow to A."""
    user = User.objects.create_user("dual@neutral.example", PASSWORD, full_name="Dual Role")
    add_member(admin_of.world.tenant, user, Role.ADMIN)
    with tenant_context(client_of.world.tenant):
        contact = Contact.objects.create(
            onboarding=client_of.world.onboarding,
            side="customer",
            name="Dual Role",
            email=user.email,
        )
        invite_contact(client_of.world.tenant, contact, send_email=False)
    return user


@pytest.fixture(scope="module")
def worlds(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[tuple[Side, Side]]:
    """Build A and B once for the module; each test still runs in its own rolled-back savepoint."""
    media = tmp_path_factory.mktemp("media")
    fast = override_settings(  # as conftest's per-test fixture does, or passwords won't match
        MEDIA_ROOT=media, PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]
    )
    with django_db_blocker.unblock(), transaction.atomic(), fast:
        a = _populate(build_world("alpha"))
        b = _populate(build_world("bravo"))
        a.dual = _dual_role_user(client_of=a, admin_of=b)
        yield a, b
        transaction.set_rollback(True)


@pytest.fixture
def ab(worlds, db) -> tuple[Side, Side]:
    return worlds


# The real object of each model registered in the platform admin. A model registered later
# without an entry here fails test_every_url_kwarg_is_known.
ADMIN_OBJECTS: dict[type, Callable[[Side], int]] = {
    Tenant: lambda s: s.world.tenant.pk,
    User: lambda s: s.world.admin.pk,
    Membership: lambda s: s.membership_pk,
    Customer: lambda s: s.world.customer.pk,
    Onboarding: lambda s: s.world.onboarding.pk,
    Task: lambda s: s.world.task.pk,
    Playbook: lambda s: s.playbook_pk,
    Group: lambda s: s.group_pk,
    EmailAddress: lambda s: s.email_address_pk,
}


def _admin_model(route: Route) -> type:
    model_admin = getattr(route.callback, "model_admin", None)
    if model_admin is not None:
        return model_admin.model
    if route.name == "admin:view_on_site":  # /admin/r/<content_type_id>/<object_id>/
        return Onboarding
    raise AssertionError(f"No idea which model object_id names in {route.label}")


@dataclass(frozen=True)
class ObjectKwarg:
    what: str
    real: Callable[[Side, Route], str]  # an existing object of that side's tenant
    unknown: str | Callable[[], str]  # an id that exists in no tenant


def _reminders():
    from onboarding.services import reminders

    return reminders


UNKNOWN_INT = "999999999"
# Where the signed-out are sent: the team's password sign-in, or the customers' code sign-in.
SIGN_IN_PAGES = ("/accounts/login/", "/sign-in/")
UNKNOWN_TOKEN = secrets.token_urlsafe(32)

OBJECT_KWARGS: dict[str, ObjectKwarg] = {
    "onboarding_id": ObjectKwarg(
        "Onboarding pk", lambda s, r: str(s.world.onboarding.pk), UNKNOWN_INT
    ),
    # A customer-side task, so the portal's task pages (customer tasks only) reach it too.
    "task_id": ObjectKwarg("Task pk", lambda s, r: str(s.customer_task_pk), UNKNOWN_INT),
    "attachment_id": ObjectKwarg(
        "TaskAttachment pk", lambda s, r: str(s.attachment_pk), UNKNOWN_INT
    ),
    "resource_id": ObjectKwarg("TrainingResource pk", lambda s, r: str(s.resource_pk), UNKNOWN_INT),
    "contact_id": ObjectKwarg(
        "Contact pk (a stakeholder of the onboarding)",
        lambda s, r: str(s.world.contact.pk),
        UNKNOWN_INT,
    ),
    "requirement_id": ObjectKwarg(
        "RequirementItem pk", lambda s, r: str(s.requirement_pk), UNKNOWN_INT
    ),
    "milestone_id": ObjectKwarg(
        "Milestone pk", lambda s, r: str(s.world.milestone.pk), UNKNOWN_INT
    ),
    **{
        name: ObjectKwarg(what, lambda s, r, name=name: str(s.delivery[name]), UNKNOWN_INT)
        for name, what in (
            ("group_id", "TrainingGroup pk"),
            ("session_id", "TrainingSession pk"),
            ("access_id", "PortalAccess pk (a stakeholder's invitation)"),
            ("playbook_id", "Playbook pk"),
            ("playbook_milestone_id", "PlaybookMilestone pk"),
            ("playbook_task_id", "PlaybookTask pk"),
            ("playbook_resource_id", "PlaybookResource pk"),
            ("digest_id", "ReminderDigest pk (a failed one: delivery problems)"),
            ("request_id", "NpsRequest pk (a failed one: delivery problems)"),
        )
    },
    "key_contact_id": ObjectKwarg(
        "KeyContact pk (tenant settings)", lambda s, r: str(s.key_contact_pk), UNKNOWN_INT
    ),
    "faq_id": ObjectKwarg("FaqEntry pk", lambda s, r: str(s.faq_pk), UNKNOWN_INT),
    "domain_id": ObjectKwarg("TenantDomain pk", lambda s, r: str(s.domain_pk), UNKNOWN_INT),
    # A signed (tenant, email) pair: the unknown one is validly signed for a tenant that does
    # not exist, so it gets as far as B's does.
    "unsubscribe_token": ObjectKwarg(
        "reminder unsubscribe token (services.reminders.unsubscribe_token)",
        lambda s, r: _reminders().unsubscribe_token(s.world.tenant, s.world.client.email),
        lambda: _reminders().unsubscribe_token(
            Tenant(pk=int(UNKNOWN_INT)), "nobody@nowhere.example"
        ),
    ),
    "token": ObjectKwarg(
        "client sign-in link token (accounts.services.issue_sign_in_link)",
        lambda s, r: s.sign_in_token,
        UNKNOWN_TOKEN,
    ),
    "uidb36": ObjectKwarg(
        "allauth password reset: a User pk in base 36",
        lambda s, r: int_to_base36(s.world.admin.pk),
        int_to_base36(int(UNKNOWN_INT)),
    ),
    "object_id": ObjectKwarg(
        "admin: pk of the ModelAdmin's model (ADMIN_OBJECTS)",
        lambda s, r: str(ADMIN_OBJECTS[_admin_model(r)](s)),
        UNKNOWN_INT,
    ),
    "content_type_id": ObjectKwarg(
        "admin view_on_site: the ContentType of the object_id",
        lambda s, r: str(ContentType.objects.get_for_model(_admin_model(r)).pk),
        UNKNOWN_INT,
    ),
}

# Kwargs that do not name an object. Keep this short; every entry says why it is not an id.
NOT_OBJECT_KWARGS: dict[str, tuple[str, str]] = {
    # allauth email confirmation (HMAC of an EmailAddress) and password-reset token: secrets
    # that prove possession of a mailbox, not ids; the reset's user id is `uidb36` above. The same
    # bogus key is sent with the foreign and the unknown user id.
    "key": ("0-bogus-key", "allauth secret key"),
    # a phase-checklist item key from onboarding/checklists.py: a fixed vocabulary, not an id.
    "item_key": ("timeline-agreed", "phase-checklist item key"),
    # admin app index: one of the fixed app labels in the pattern's regex.
    "app_label": ("onboarding", "admin app label"),
    # admin catch-all for unknown admin URLs: an arbitrary path.
    "url": ("no-such-admin-page/", "admin catch-all path"),
}


def values_for(route: Route, side: Side | None) -> dict[str, str]:
    """Real ids of `side`'s objects, or (side None) ids that exist nowhere."""
    values = {}
    for kwarg in route.kwargs:
        if kwarg in OBJECT_KWARGS:
            entry = OBJECT_KWARGS[kwarg]
            if side is not None:
                values[kwarg] = entry.real(side, route)
            else:
                values[kwarg] = entry.unknown() if callable(entry.unknown) else entry.unknown
        elif kwarg in NOT_OBJECT_KWARGS:
            values[kwarg] = NOT_OBJECT_KWARGS[kwarg][0]
        else:
            pytest.fail(f"{route.label}: add {kwarg!r} to OBJECT_KWARGS (or NOT_OBJECT_KWARGS)")
    return values


def has_object_kwargs(route: Route) -> bool:
    """Unknown kwargs count as object ids until the registry says otherwise."""
    return any(k not in NOT_OBJECT_KWARGS for k in route.kwargs)


def only_object_kwargs(route: Route) -> bool:
    return all(k in OBJECT_KWARGS for k in route.kwargs)


# --------------------------------------------------------------------------------------------
# Requests and answers
# --------------------------------------------------------------------------------------------

METHODS = ("get", "head", "options", "post", "put", "patch", "delete")
ACCEPTS = ("application/json", "text/html")  # DRF and allauth answer both, differently


def accepts_for(method: str) -> tuple[str, ...]:
    # Reads in both renderings (DRF's browsable page renders forms and choices); writes and HEAD
    # in JSON only: their HTML is the same page as GET's, and the walk stays fast.
    return ACCEPTS if method in ("get", "options") else ACCEPTS[:1]


# On A's host: A's admin (most privileged), A's client user, an anonymous visitor, and B's admin
# who is also one of A's invited clients (signed in on A's host).
TENANT_ACTORS = ("admin", "client", "anonymous", "dual")
_MASKED_CSRF = re.compile(rb"\b[A-Za-z0-9]{64}\b")
_NONCE = re.compile(rb'(nonce=\\?")[^"\\]+')


def actor_client(side: Side, actor: str) -> Client:
    if actor == "anonymous":
        return Client(HTTP_HOST=side.host)
    if actor == "dual":
        assert side.dual is not None
        return client_for(side.world, side.dual)
    return client_for(side.world, getattr(side.world, actor))


def send(client: Client, method: str, path: str, accept: str = "application/json", **extra):
    if method in ("post", "put", "patch"):
        return getattr(client, method)(
            path,
            data=json.dumps({"title": "x"}),
            content_type="application/json",
            HTTP_ACCEPT=accept,
            **extra,
        )
    return getattr(client, method)(path, HTTP_ACCEPT=accept, **extra)


def body_of(response: HttpResponseBase) -> bytes:
    if response.streaming:
        return b"".join(response.streaming_content)
    return response.content


def normalise(data: bytes | str, path: str | None, echoes: tuple[str, ...] = ()) -> bytes:
    """Mask what the caller sent (the path; a kwarg value quoted back) and CSRF masks."""
    if isinstance(data, str):
        data = data.encode()
    if path:
        for form in {path, quote(path), quote(path, safe="")}:
            data = data.replace(form.encode(), b"<PATH>")
    for value in echoes:  # allauth's JSON form quotes the field back: {"value": "5", ...}
        data = data.replace(f'"value": "{value}"'.encode(), b'"value": "<ECHO>"')
    data = _NONCE.sub(rb"\1<NONCE>", data)  # CSP nonces: random per response
    return _MASKED_CSRF.sub(b"<CSRF>", data)


def answer(
    response: HttpResponseBase, path: str | None, echoes: tuple[str, ...] = ()
) -> dict[str, Any]:
    """What a caller can observe, with only the caller's own input and CSRF masks normalised."""
    return {
        "status": response.status_code,
        "content-type": response.get("Content-Type"),
        "location": normalise(response.get("Location", ""), path, echoes),
        "allow": response.get("Allow"),
        "body": normalise(body_of(response), path, echoes),
    }


def differences(seen: dict[str, Any], other: dict[str, Any]) -> str:
    """A readable diff of two answers, for failure messages."""
    out = []
    for key in seen:
        if seen[key] == other[key]:
            continue
        if key != "body":
            out.append(f"{key}: {seen[key]!r} != {other[key]!r}")
            continue
        lines = [re.split(rb"(?<=>)|\n", x) for x in (seen[key], other[key])]
        diff = difflib.unified_diff(
            [x.decode("utf-8", "replace") for x in lines[0]],
            [x.decode("utf-8", "replace") for x in lines[1]],
            "foreign",
            "unknown",
            n=1,
            lineterm="",
        )
        out.append("body:\n" + "\n".join(list(diff)[:40]))
    return "\n".join(out)


def fingerprint_changes(before: dict, after: dict) -> str:
    out = []
    for label in before:
        old, new = before[label], after[label]
        if old != new:
            gone = [r for r in old if r not in new]
            added = [r for r in new if r not in old]
            out.append(f"{label}: before {gone!r}, after {added!r}")
    return "\n".join(out)


def assert_nothing_of(other: Side, data: bytes, where: str) -> None:
    text = data.decode("utf-8", "replace")
    assert other.world.marker not in text, f"{where} shows {other.slug}'s marker"
    assert other.world.client.email not in text, f"{where} shows {other.slug}'s client email"
    assert other.slug not in text.lower(), f"{where} mentions {other.slug!r}"


def fingerprint() -> dict[str, list[dict]]:
    """Every row of every table (sessions aside), read without any tenant filter."""
    return {
        model._meta.label: list(model._base_manager.order_by("pk").values())
        for model in apps.get_models()
        if model is not Session
    }


# --------------------------------------------------------------------------------------------
# The registry is complete, and the walk sees what it should
# --------------------------------------------------------------------------------------------


def test_every_url_kwarg_is_known():
    unknown = {
        (route.label, kwarg)
        for route in ROUTES
        for kwarg in route.kwargs
        if kwarg not in OBJECT_KWARGS and kwarg not in NOT_OBJECT_KWARGS
    }
    assert not unknown, (
        "URL kwargs with no entry in OBJECT_KWARGS (add how to get a real object of a world) "
        f"or NOT_OBJECT_KWARGS (say why it is not an id): {sorted(unknown)}"
    )
    used = {kwarg for route in ROUTES for kwarg in route.kwargs}
    assert set(OBJECT_KWARGS) | set(NOT_OBJECT_KWARGS) <= used, "stale registry entries"
    assert not set(OBJECT_KWARGS) & set(NOT_OBJECT_KWARGS)
    registered = set(admin.site._registry)
    assert registered <= set(ADMIN_OBJECTS), (
        f"admin models without an ADMIN_OBJECTS entry: {registered - set(ADMIN_OBJECTS)}"
    )
    for route in ROUTES:
        if "object_id" in route.kwargs:
            _admin_model(route)


def test_the_walk_sees_every_kind_of_pattern():
    names = {r.name for r in ROUTES}
    for expected in (
        "portal:onboarding",
        "portal:sign-in",
        "workspace:onboarding",
        "onboarding-detail",
        "task-detail",
        "api-schema",
        "account_login",
        "admin:onboarding_task_change",
        "admin:view_on_site",
    ):
        assert expected in names, expected
    labels = [r.label for r in ROUTES]
    assert len(labels) == len(set(labels)), "two patterns build the same URL"
    for route in PLATFORM_ROUTES:
        if route not in PLATFORM_ONLY_ROUTES:  # shared with tenant hosts: walked there
            assert any(t.route == route.route for t in TENANT_ROUTES), route.label
    for name, _actor in OWN_DATA_SHOWN:
        assert name in names, f"OWN_DATA_SHOWN names no pattern: {name}"


# --------------------------------------------------------------------------------------------
# Tenant hosts: foreign ids answer like unknown ids
# --------------------------------------------------------------------------------------------

# Pages on which A's marker must appear for that actor (GET, redirects followed).
OWN_DATA_SHOWN = {
    ("home", "admin"),
    ("home", "client"),
    ("workspace:onboardings", "admin"),
    ("workspace:onboarding", "admin"),
    ("portal:index", "client"),
    ("portal:onboarding", "client"),
    ("onboarding-list", "admin"),
    ("onboarding-detail", "admin"),
    ("settings:contacts", "admin"),
    ("settings:contact-edit", "admin"),
    ("settings:faq", "admin"),
    ("settings:faq-edit", "admin"),
}

TENANT_OBJECT_ROUTES = [r for r in TENANT_ROUTES if has_object_kwargs(r)]
TENANT_PLAIN_ROUTES = [r for r in TENANT_ROUTES if not has_object_kwargs(r)]


def id_variants(route: Route, a: Side, b: Side) -> list[tuple[str, dict, dict]]:
    """(what, values naming B's objects, the same values with those ids unknown instead).

    With more than one object id in the URL (a task under an onboarding), also each id alone
    foreign under A's own other ids: B's task under A's onboarding must be missing too.
    """
    foreign, unknown, own = values_for(route, b), values_for(route, None), values_for(route, a)
    variants = [("B's ids", foreign, unknown)]
    object_kwargs = [k for k in route.kwargs if k in OBJECT_KWARGS]
    if len(object_kwargs) > 1:
        for k in object_kwargs:
            variants.append((f"A's ids, B's {k}", {**own, k: foreign[k]}, {**own, k: unknown[k]}))
    return variants


@pytest.mark.parametrize("route", TENANT_OBJECT_ROUTES, ids=lambda r: r.label)
def test_foreign_ids_answer_like_unknown_ids(ab, route):
    a, b = ab
    own = url_for(route, values_for(route, a))
    clients = {actor: actor_client(a, actor) for actor in TENANT_ACTORS}

    reached = dict.fromkeys(clients, True)
    if only_object_kwargs(route):
        # Control: A's own ids reach the object for someone, so the 404s below are about B.
        for actor, client in clients.items():
            got = client.get(own, HTTP_ACCEPT="application/json")
            if got.status_code == 405:  # a POST-only view: post an empty form instead
                got = client.post(own, HTTP_ACCEPT="application/json")
            assert got.status_code < 500, f"{actor} GET {own}: {got.status_code}"
            assert_nothing_of(b, body_of(got), f"{actor} GET {own}")
            if (route.name, actor) in OWN_DATA_SHOWN:
                assert a.world.marker in body_of(got).decode(), f"{actor} GET {own}"
            to_login = got.get("Location", "").startswith(SIGN_IN_PAGES)
            reached[actor] = got.status_code < 400 and not to_login and actor != "anonymous"
        assert any(reached.values()), f"no signed-in actor reaches {own}"

    before = fingerprint()
    for i, (what, foreign_values, unknown_values) in enumerate(id_variants(route, a, b)):
        foreign, unknown = url_for(route, foreign_values), url_for(route, unknown_values)
        assert len({foreign, unknown, own}) == 3
        echo_foreign = tuple(v for k, v in foreign_values.items() if v != unknown_values[k])
        echo_unknown = tuple(v for k, v in unknown_values.items() if v != foreign_values[k])
        for actor, client in clients.items():
            if i > 0 and not reached[actor]:
                continue  # B's child under A's parent: only for who gets past the parent
            for method in METHODS:
                for accept in accepts_for(method):
                    where = f"{actor} {method.upper()} ({accept}) on {a.host}, {what}"
                    got_foreign = send(client, method, foreign, accept)
                    got_unknown = send(client, method, unknown, accept)
                    seen = answer(got_foreign, foreign, echo_foreign)
                    other = answer(got_unknown, unknown, echo_unknown)
                    assert seen == other, (
                        f"{where}: {foreign} answers differently from {unknown} (unknown)\n"
                        + differences(seen, other)
                    )
                    assert seen["status"] < 500, f"{where} {foreign}: {seen['status']}"
                    assert_nothing_of(b, seen["body"] + seen["location"], f"{where} {foreign}")
                    if method == "get" and only_object_kwargs(route):
                        # The admin passes every role check, so it reaches the lookup: 404
                        # (405 from a POST-only view). Others may be stopped earlier (login
                        # redirect, 403, 404), alike for both ids.
                        expected = {404, 405} if actor == "admin" else {302, 403, 404, 405}
                        assert seen["status"] in expected, f"{where} {foreign}: {seen['status']}"

    after = fingerprint()
    assert after == before, "a request naming B's or an unknown object changed data:\n" + (
        fingerprint_changes(before, after)
    )
    with tenant_context(b.world.tenant):
        task = Task.objects.get(pk=b.world.task.pk)
        assert task.title != "x" and task.version == 1
        assert Onboarding.objects.filter(pk=b.world.onboarding.pk).exists()


@pytest.mark.parametrize("route", TENANT_PLAIN_ROUTES, ids=lambda r: r.label)
def test_pages_without_ids_show_nothing_of_the_other_tenant(ab, route):
    a, b = ab
    path = url_for(route, values_for(route, a))
    for actor in TENANT_ACTORS:
        client = actor_client(a, actor)
        for accept in ACCEPTS:
            where = f"{actor} GET {path} ({accept}) on {a.host}"
            got = client.get(path, HTTP_ACCEPT=accept, follow=True)
            assert got.status_code < 500, where
            body = normalise(body_of(got), None)
            assert_nothing_of(b, body, where)
            if (route.name, actor) in OWN_DATA_SHOWN:
                assert a.world.marker.encode() in body, f"{where} does not show A's data"


def test_query_string_ids_answer_like_unknown_ids(ab):
    a, b = ab
    client = actor_client(a, "admin")
    for accept in ACCEPTS:
        got_foreign = client.get(
            f"/api/v1/tasks/?onboarding={b.world.onboarding.pk}", HTTP_ACCEPT=accept
        )
        got_unknown = client.get(f"/api/v1/tasks/?onboarding={UNKNOWN_INT}", HTTP_ACCEPT=accept)
        strip = re.compile(rb"onboarding=\d+")
        assert strip.sub(b"", normalise(body_of(got_foreign), None)) == strip.sub(
            b"", normalise(body_of(got_unknown), None)
        )
        assert got_foreign.status_code == got_unknown.status_code == 200
        assert_nothing_of(b, body_of(got_foreign), "task list filtered to B's onboarding")
    own = client.get(f"/api/v1/tasks/?onboarding={a.world.onboarding.pk}").json()
    assert own["count"] > 0


# --------------------------------------------------------------------------------------------
# API writes naming another tenant's object
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Write:
    method: str
    path: Callable[[Side], str]
    payload: Callable[[Side, Any], dict]  # A's side and the value under test
    field: str
    value: Callable[[Side], Any]  # the object's id in a given world


def _new_task(a: Side, **changes) -> dict:
    return {
        "onboarding": a.world.onboarding.pk,
        "title": "Probe task",
        "owner_side": "vendor",
        "due_date": "2026-12-01",
        **changes,
    }


def _new_onboarding(a: Side, **changes) -> dict:
    return {
        "name": "Probe onboarding",
        "customer": a.world.customer.pk,
        "model": "high",
        "start_date": "2026-11-16",
        **changes,
    }


def _task_url(s: Side) -> str:
    return f"/api/v1/tasks/{s.world.task.pk}/"


def _onboarding_url(s: Side) -> str:
    return f"/api/v1/onboardings/{s.world.onboarding.pk}/"


WRITES = {
    "create-task/onboarding": Write(
        "post",
        lambda a: "/api/v1/tasks/",
        lambda a, v: _new_task(a, onboarding=v),
        "onboarding",
        lambda s: s.world.onboarding.pk,
    ),
    "create-task/milestone": Write(
        "post",
        lambda a: "/api/v1/tasks/",
        lambda a, v: _new_task(a, milestone=v),
        "milestone",
        lambda s: s.world.milestone.pk,
    ),
    "create-task/owner_contact": Write(
        "post",
        lambda a: "/api/v1/tasks/",
        lambda a, v: _new_task(a, owner_side="customer", owner_contact=v),
        "owner_contact",
        lambda s: s.world.contact.pk,
    ),
    "create-task/depends_on": Write(
        "post",
        lambda a: "/api/v1/tasks/",
        lambda a, v: _new_task(a, depends_on=[v]),
        "depends_on",
        lambda s: s.world.task.pk,
    ),
    "update-task/onboarding": Write(
        "patch",
        _task_url,
        lambda a, v: {"onboarding": v},
        "onboarding",
        lambda s: s.world.onboarding.pk,
    ),
    "update-task/milestone": Write(
        "patch",
        _task_url,
        lambda a, v: {"milestone": v},
        "milestone",
        lambda s: s.world.milestone.pk,
    ),
    "update-task/owner_contact": Write(
        "patch",
        _task_url,
        lambda a, v: {"owner_side": "customer", "owner_contact": v},
        "owner_contact",
        lambda s: s.world.contact.pk,
    ),
    "update-task/depends_on": Write(
        "patch",
        _task_url,
        lambda a, v: {"depends_on": [v]},
        "depends_on",
        lambda s: s.other_task_pk,
    ),
    "replace-task/onboarding": Write(
        "put",
        _task_url,
        lambda a, v: _new_task(a, onboarding=v),
        "onboarding",
        lambda s: s.world.onboarding.pk,
    ),
    "create-onboarding/customer": Write(
        "post",
        lambda a: "/api/v1/onboardings/",
        lambda a, v: _new_onboarding(a, customer=v),
        "customer",
        lambda s: s.world.customer.pk,
    ),
    "create-onboarding/owner": Write(
        "post",
        lambda a: "/api/v1/onboardings/",
        lambda a, v: _new_onboarding(a, owner=v),
        "owner",
        lambda s: s.world.csm.pk,
    ),
    "update-onboarding/customer": Write(
        "patch",
        _onboarding_url,
        lambda a, v: {"customer": v},
        "customer",
        lambda s: s.world.customer.pk,
    ),
    "update-onboarding/owner": Write(
        "patch", _onboarding_url, lambda a, v: {"owner": v}, "owner", lambda s: s.world.csm.pk
    ),
}


def _errors(response, value) -> bytes:
    # DRF quotes the rejected pk in its message ('Invalid pk "7" - object does not exist.').
    return response.content.replace(f'"{value}"'.encode(), b'"<ID>"').replace(
        f'\\"{value}\\"'.encode(), b'\\"<ID>\\"'
    )


@pytest.mark.parametrize("case", sorted(WRITES))
def test_writes_naming_a_foreign_object_are_refused_like_unknown_ids(ab, case):
    a, b = ab
    write = WRITES[case]
    client = actor_client(a, "admin")
    path = write.path(a)
    foreign_value, unknown_value = write.value(b), int(UNKNOWN_INT)
    before = fingerprint()

    def attempt(value):
        return getattr(client, write.method)(
            path, data=json.dumps(write.payload(a, value)), content_type="application/json"
        )

    got_foreign, got_unknown = attempt(foreign_value), attempt(unknown_value)
    assert got_foreign.status_code == 400, got_foreign.content
    assert got_unknown.status_code == 400, got_unknown.content
    assert write.field in got_foreign.json(), got_foreign.content
    assert _errors(got_foreign, foreign_value) == _errors(got_unknown, unknown_value)
    assert_nothing_of(b, got_foreign.content, f"{case} with B's id")
    after = fingerprint()
    assert after == before, f"{case}: a refused write changed data\n" + (
        fingerprint_changes(before, after)
    )

    # Control: the same write with A's own object goes through, so the 400 is about B's id.
    got_own = attempt(write.value(a))
    assert got_own.status_code in (200, 201), got_own.content


def test_sign_in_forms_treat_another_tenants_client_like_a_stranger(
    ab, django_capture_on_commit_callbacks
):
    """The code sign-in names a user by email: B's client's email on A's host is nobody."""
    a, b = ab
    stranger = "nobody@nowhere.example"
    b_code = issue_sign_in(b.world.tenant, b.world.client, SIGN_IN_CODE_LIFETIME).code

    def attempt(path: str, email: str, **fields) -> tuple[dict[str, Any], int]:
        client = Client(HTTP_HOST=a.host)
        with django_capture_on_commit_callbacks() as queued:
            got = client.post(path, {"email": email, **fields})
        seen = answer(got, None)
        seen["body"] = seen["body"].replace(email.encode(), b"<EMAIL>")  # the form echoes it
        assert "_auth_user_id" not in client.session
        return seen, len(queued)

    before = fingerprint()
    for path, fields in (("/sign-in/", {}), ("/sign-in/code/", {"code": b_code})):
        foreign, foreign_queued = attempt(path, b.world.client.email, **fields)
        unknown, unknown_queued = attempt(path, stranger, **fields)
        assert foreign == unknown, f"POST {path}\n" + differences(foreign, unknown)
        assert foreign_queued == unknown_queued == 0, f"POST {path} queued work for B's client"
        assert_nothing_of(b, foreign["body"] + foreign["location"], f"POST {path}")
    after = fingerprint()
    assert after == before, fingerprint_changes(before, after)

    # Control: A's own client does get a code, so the silence above is about B.
    _, own_queued = attempt("/sign-in/", a.world.client.email)
    assert own_queued == 1


def test_staff_sign_in_treats_another_tenants_user_like_a_stranger(ab):
    """B's admin's real password on A's host fails exactly like an unknown email."""
    a, b = ab
    answers = []
    for email in (b.world.admin.email, "nobody@nowhere.example"):
        client = Client(HTTP_HOST=a.host)
        got = client.post("/accounts/login/", {"login": email, "password": PASSWORD})
        seen = answer(got, None)
        seen["body"] = seen["body"].replace(email.encode(), b"<EMAIL>")  # the form echoes it
        assert "_auth_user_id" not in client.session, email
        answers.append(seen)
    assert answers[0] == answers[1], differences(*answers)
    assert answers[0]["status"] == 200
    # Control: the same password signs B's admin in on B's own host.
    got = Client(HTTP_HOST=b.host).post(
        "/accounts/login/", {"login": b.world.admin.email, "password": PASSWORD}
    )
    assert got.status_code == 302, re.findall(r"errorlist.*?</ul>", got.text, re.S)


RESET_LINK = re.compile(r"https?://\S+/accounts/password/reset/key/\S+")


@pytest.mark.parametrize("via", ["subdomain", "custom domain"])
def test_password_reset_treats_another_tenants_user_like_a_stranger(ab, via):
    """A password reset asked on A's host for B's admin (not a member of A) must go the way one
    for an unknown email goes: no working reset link in anybody's mailbox. A's own admin gets a
    link to A's platform subdomain: never to the Host header, and never to A's custom domain,
    even its primary one (that is DNS A controls, and a reset key works on every tenant's host)."""
    a, b = ab
    host = a.host
    if via == "custom domain":
        domain = a.world.tenant.domains.get()
        branding.set_primary_domain(a.world.tenant, domain.pk)
        a.world.tenant.refresh_from_db()
        assert a.world.tenant.canonical_host == domain.domain  # other emails do link there
        host = domain.domain
    stranger = "nobody@nowhere.example"
    answers, mails = [], {}
    for email in (b.world.admin.email, stranger, a.world.admin.email):
        mail.outbox.clear()
        got = Client(HTTP_HOST=host).post("/accounts/password/reset/", {"email": email})
        answers.append(answer(got, None))
        mails[email] = [(m.to, m.subject, m.body) for m in mail.outbox]
    # What the requester sees is the same either way...
    assert answers[0] == answers[1], differences(answers[0], answers[1])
    # ...A's own admin does get a link (so the flow under test works), on A's stored host...
    own_links = [x for _, _, body in mails[a.world.admin.email] for x in RESET_LINK.findall(body)]
    assert own_links
    assert all(link.startswith(a.world.tenant.subdomain_url("/")) for link in own_links), own_links
    assert not any(RESET_LINK.search(body) for _, _, body in mails[stranger])
    # ...but B's admin must not be sent a working reset link for A's host.
    links = [RESET_LINK.findall(body) for _, _, body in mails[b.world.admin.email]]
    assert not any(links), (
        f"{host} sent {b.world.admin.email} (a member of {b.slug} only) a working password-"
        f"reset link: {links}. An unknown email gets "
        f"{[subject for _, subject, _ in mails[stranger]]} instead."
    )


# --------------------------------------------------------------------------------------------
# The platform urlconf (admin)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", PLATFORM_ONLY_ROUTES, ids=lambda r: r.label)
def test_platform_urls_are_not_served_on_tenant_hosts(ab, route):
    a, b = ab
    paths = {url_for(route, values_for(route, side)) for side in (a, b, None)}
    for path in paths:
        with pytest.raises(Resolver404):
            resolve(path, TENANT_URLCONF)
    for actor in ("admin", "anonymous"):
        client = actor_client(a, actor)
        for method in ("get", "post"):
            expected = answer(send(client, method, UNKNOWN_PATH), UNKNOWN_PATH)
            assert expected["status"] == 404
            for path in paths:
                assert answer(send(client, method, path), path) == expected, (
                    f"{actor} {method.upper()} {path} on {a.host} is not a plain 404"
                )


PLATFORM_OBJECT_ROUTES = [r for r in PLATFORM_ONLY_ROUTES if has_object_kwargs(r)]
PLATFORM_PLAIN_ROUTES = [r for r in PLATFORM_ONLY_ROUTES if not has_object_kwargs(r)]


def platform_client(user: User | None) -> Client:
    client = Client(HTTP_HOST=PLATFORM_HOST)
    if user is not None:
        client.force_login(user)  # binds the session to the platform host
    return client


@pytest.mark.parametrize("route", PLATFORM_OBJECT_ROUTES, ids=lambda r: r.label)
def test_platform_admin_foreign_ids_answer_like_unknown_ids(ab, route):
    a, b = ab
    assert not a.world.admin.is_staff
    foreign = url_for(route, values_for(route, b))
    unknown = url_for(route, values_for(route, None))
    clients = {"A's admin": platform_client(a.world.admin), "anonymous": platform_client(None)}
    before = fingerprint()
    for actor, client in clients.items():
        for method in ("get", "post"):
            where = f"{actor} {method.upper()} on the platform host"
            seen = answer(send(client, method, foreign), foreign)
            other = answer(send(client, method, unknown), unknown)
            assert seen == other, (
                f"{where}: {foreign} (B's) answers differently from {unknown} (unknown)\n"
                + differences(seen, other)
            )
            assert seen["status"] == 302, f"{where} {foreign}: {seen['status']}"
            assert seen["location"].startswith(b"/admin/login/"), (where, seen["location"])
            assert_nothing_of(b, seen["body"], f"{where} {foreign}")
    after = fingerprint()
    assert after == before, fingerprint_changes(before, after)

    if route.name and route.name.endswith(("_change", "_history", "_delete")):
        # Control: for platform staff the value is a real object (and the unknown one is not).
        staff = User.objects.create_superuser("staff@platform.example", PASSWORD)
        client = platform_client(staff)
        assert client.get(foreign).status_code == 200, foreign
        assert client.get(unknown).status_code != 200, unknown


@pytest.mark.parametrize("route", PLATFORM_PLAIN_ROUTES, ids=lambda r: r.label)
def test_platform_pages_turn_tenant_admins_away(ab, route):
    a, b = ab
    path = url_for(route, values_for(route, None))
    for user in (a.world.admin, None):
        got = platform_client(user).get(path)
        # The login page itself (200), the logout redirect, or a login redirect for the rest.
        assert got.status_code in (200, 302, 404, 405), (path, got.status_code)
        if got.status_code == 302:
            assert got["Location"].startswith("/admin/"), got["Location"]
        if route.name not in ("admin:login", "admin:logout"):
            assert got.status_code != 200, f"{path} served to a tenant admin"
        assert_nothing_of(b, body_of(got), f"GET {path} on the platform host")


# --------------------------------------------------------------------------------------------
# Sessions and hosts
# --------------------------------------------------------------------------------------------


def _with_cookie_of(source: Client, host: str) -> Client:
    other = Client(HTTP_HOST=host)
    name = settings.SESSION_COOKIE_NAME
    other.cookies[name] = source.cookies[name].value
    return other


@pytest.mark.parametrize("actor", ["admin", "client", "dual"])
def test_a_session_from_one_host_is_anonymous_on_every_other(ab, actor):
    """A's cookie on B's hosts (subdomain and custom domain) and on the platform host is nobody's,
    even for `dual`, who really is B's admin: rights come from signing in on that host."""
    a, b = ab
    source = actor_client(a, actor)
    home = source.get("/", follow=True)
    assert home.status_code == 200 and a.world.marker.encode() in home.content  # works on A

    b_hosts = [b.host, *b.world.tenant.domains.values_list("domain", flat=True)]
    assert len(b_hosts) == 2
    for host in b_hosts:
        on_b = _with_cookie_of(source, host)
        for path in ("/app/", "/portal/", f"/app/onboardings/{b.world.onboarding.pk}/"):
            got = on_b.get(path)
            assert got.status_code == 302, (host, path, got.status_code)
            assert got["Location"].startswith(SIGN_IN_PAGES), got["Location"]
        for path in ("/api/v1/onboardings/", f"/api/v1/tasks/{b.world.task.pk}/"):
            got = on_b.get(path)
            assert got.status_code == 403, (host, path, got.status_code)
        got = on_b.get("/", follow=True)
        assert b.world.marker.encode() not in got.content

    on_platform = _with_cookie_of(source, PLATFORM_HOST)
    got = on_platform.get("/admin/")
    assert got.status_code == 302 and got["Location"].startswith("/admin/login/")

    # The cookie is still good on its own host: B's refusal did not depend on a broken session.
    again = _with_cookie_of(source, a.host).get("/", follow=True)
    assert normalise(again.content, None) == normalise(home.content, None)


def test_a_platform_session_is_anonymous_on_tenant_hosts(ab):
    a, b = ab
    staff = User.objects.create_superuser("staff@platform.example", PASSWORD)
    source = platform_client(staff)
    assert source.get("/admin/").status_code == 200
    on_a = _with_cookie_of(source, a.host)
    got = on_a.get("/app/")
    assert got.status_code == 302 and got["Location"].startswith("/accounts/login/")
    assert on_a.get("/api/v1/onboardings/").status_code == 403


def test_forwarded_host_headers_do_not_pick_the_tenant(ab):
    a, b = ab
    client = actor_client(a, "admin")
    got = client.get("/app/", HTTP_X_FORWARDED_HOST=b.host, HTTP_FORWARDED=f"host={b.host}")
    assert got.status_code == 200
    assert a.world.marker.encode() in got.content
    assert_nothing_of(b, got.content, "/app/ with X-Forwarded-Host of B")


UNKNOWN_HOSTS = [
    "nosuch.localhost",
    "alpha.bravo.localhost",
    "alpha.localhost.evil.example",
    "bravo.localhost.evil.example",
    "evil.example",
    "127.0.0.1",
    ".localhost",
]


@pytest.mark.parametrize("host", UNKNOWN_HOSTS)
def test_unknown_hosts_serve_nothing(ab, host):
    a, b = ab
    signed_in = actor_client(a, "admin")
    paths = [
        "/",
        "/app/",
        "/portal/",
        "/api/v1/onboardings/",
        f"/app/onboardings/{a.world.onboarding.pk}/",
        f"/api/v1/tasks/{b.world.task.pk}/",
        "/admin/",
        "/healthz",
    ]
    for client in (Client(HTTP_HOST=host), _with_cookie_of(signed_in, host)):
        for path in paths:
            got = client.get(path)
            assert got.status_code == 404, (host, path, got.status_code)
            assert got.content == UNKNOWN_HOST_BODY.encode(), (host, path)


def test_the_worlds_are_what_the_walk_assumes(ab):
    a, b = ab
    assert a.world.tenant.pk != b.world.tenant.pk
    with tenant_context(b.world.tenant):
        assert Task.objects.filter(pk=b.world.task.pk).exists()
    with tenant_context(a.world.tenant):
        assert not Task.objects.filter(pk=b.world.task.pk).exists()
    for model in (Task, Onboarding, Customer, User):
        assert not model._base_manager.filter(pk=int(UNKNOWN_INT)).exists()
    assert b.world.onboarding.start_date == dt.date(2026, 11, 16)
    # B's custom domain serves B (so the session test's second host of B is a real one).
    [custom] = b.world.tenant.domains.values_list("domain", flat=True)
    login_page = Client(HTTP_HOST=custom).get("/accounts/login/")
    assert login_page.status_code == 200 and b.world.tenant.name in login_page.text
