"""Who may see what on the current tenant's host.

Anyone without access gets the same 404 a missing page gets, so a page's existence is not a hint.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse

from .models import Membership, Role

STAFF_ROLES = {Role.ADMIN, Role.CSM, Role.AE, Role.VIEWER}


def membership_of(request: HttpRequest) -> Membership | None:
    if not hasattr(request, "_membership"):
        user = request.user
        request._membership = (
            Membership.objects.filter(user=user).first() if user.is_authenticated else None
        )
    return request._membership


def member_required(*roles: str) -> Callable:
    allowed = set(roles) or STAFF_ROLES

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            membership = membership_of(request)
            if membership is None or membership.role not in allowed:
                raise Http404
            request.membership = membership
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def client_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed-in users of the portal; the signed-out go to the customer sign-in (by code)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("sign-in-request"))
        return view(request, *args, **kwargs)

    return wrapper
