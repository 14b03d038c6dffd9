from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseNotFound
from django.utils import timezone

from .context import cross_tenant, tenant_context
from .hosts import resolve_host
from .sessions import replace_with_fresh_session, session_is_foreign

UNKNOWN_HOST_BODY = "<!doctype html><title>Not found</title><h1>Not found</h1>"


class TenantMiddleware:
    """Resolve the tenant from the Host header and run the whole request inside its scope.

    The scope covers rendering too: a TemplateResponse renders before this middleware returns, so
    lazy querysets in templates still run filtered to the tenant. The tenant's time zone is
    active for the request, so templates show its local times.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        match = resolve_host(request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", ""))
        if match is None:
            return HttpResponseNotFound(UNKNOWN_HOST_BODY)
        request.tenant = match.tenant
        if match.is_platform:
            request.urlconf = "portal.urls_platform"
            with cross_tenant("platform host: admin site for platform staff"):
                return self.get_response(request)
        # Times on every page are the tenant's local times, as its dates are.
        with tenant_context(match.tenant), timezone.override(match.tenant.tz):
            return self.get_response(request)


class TenantSessionMiddleware:
    """After authentication: a session created on another host counts as anonymous here."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if session_is_foreign(request):
            replace_with_fresh_session(request)
        return self.get_response(request)
