from __future__ import annotations

import pytest
from django.test import Client

from portal import celery_app
from portal.tenancy.context import no_tenant
from tests.browser import CHROMIUM
from tests.factories import World, build_world


@pytest.fixture(autouse=True)
def _eager_celery(request):
    """Run tasks in-process unless a test starts a real worker."""
    if request.node.get_closest_marker("worker"):
        yield
        return
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _no_dns_beyond_loopback(settings):
    """Domain verification asks a closed port on loopback unless a test starts a DNS server
    (tests.live.dns_server): nothing leaves the machine, and a lookup fails at once."""
    settings.DOMAIN_VERIFICATION_NAMESERVERS = ["127.0.0.1:9"]
    settings.DOMAIN_VERIFICATION_TIMEOUT = 2


@pytest.fixture(autouse=True)
def _no_scope_leaks_between_tests():
    with no_tenant():
        yield


@pytest.fixture
def tenant_a(db) -> World:
    return build_world("alpha")


@pytest.fixture
def tenant_b(db) -> World:
    return build_world("bravo")


def client_for(world: World, user=None) -> Client:
    client = Client(HTTP_HOST=world.host)
    if user is not None:
        client.force_login(user)
        # force_login bypasses the login view; bind the session as a real sign-in would.
        session = client.session
        session["_tenant_binding"] = str(world.tenant.pk)
        session.save()
    return client


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def sync_api():
    """Playwright's sync API for the browser tests; they skip where Chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    return pytest.importorskip("playwright.sync_api")
