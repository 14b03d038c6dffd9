"""A session belongs to the host it was created on.

Cookies are host-only, so browsers do not send one tenant's cookie to another. A copied cookie is
still refused: the session records the tenant it signed in on, and any other host treats it as
anonymous and gives the request an empty session of its own.
"""

from __future__ import annotations

from importlib import import_module

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest

BINDING_KEY = "_tenant_binding"
PLATFORM = "platform"


def binding_for(request: HttpRequest) -> str:
    tenant = getattr(request, "tenant", None)
    return str(tenant.pk) if tenant is not None else PLATFORM


def bind_session_to_tenant(request: HttpRequest) -> None:
    request.session[BINDING_KEY] = binding_for(request)


def session_is_foreign(request: HttpRequest) -> bool:
    session = request.session
    if SESSION_KEY not in session and BINDING_KEY not in session:
        return False
    return session.get(BINDING_KEY) != binding_for(request)


def replace_with_fresh_session(request: HttpRequest) -> None:
    engine = import_module(settings.SESSION_ENGINE)
    request.session = engine.SessionStore()
    request.user = AnonymousUser()

    async def auser():
        return AnonymousUser()

    request.auser = auser
