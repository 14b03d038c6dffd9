"""Client users sign in with a code sent by email (the fallback when a link is lost).

Every answer is the same whether or not the email is invited here, so the form cannot be used to
find out who the tenant's customers are.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth import login
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.addresses import normalize_email
from accounts.forms_signin import CodeEntryForm, CodeRequestForm
from accounts.models import SignInLink, User
from accounts.services import redeem_sign_in_code
from onboarding.models import PortalAccess
from onboarding.services.portal import record_sign_in

CODES_PER_HOUR = 5
SESSION_EMAIL = "sign_in_email"


def request_code(request: HttpRequest) -> HttpResponse:
    form = CodeRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        email = normalize_email(form.cleaned_data["email"])
        user = User.objects.filter(email=email, is_active=True).first()
        invited = (
            user is not None
            and PortalAccess.objects.filter(user=user, revoked_at__isnull=True).exists()
        )
        recent = SignInLink.objects.filter(
            email=email, created_at__gt=timezone.now() - dt.timedelta(hours=1)
        ).count()
        if invited and recent < CODES_PER_HOUR:
            from onboarding.tasks import send_sign_in_code

            tenant_id, user_id = request.tenant.pk, user.pk
            transaction.on_commit(
                lambda: send_sign_in_code.delay(tenant_id=tenant_id, user_id=user_id)
            )
        request.session[SESSION_EMAIL] = email
        return redirect("sign-in-code")
    return render(request, "signin/request_code.html", {"form": form})


def enter_code(request: HttpRequest) -> HttpResponse:
    initial = {"email": request.session.get(SESSION_EMAIL, "")}
    form = CodeEntryForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        user = redeem_sign_in_code(form.cleaned_data["email"], form.cleaned_data["code"])
        if user is not None:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            record_sign_in(user)
            return redirect("portal:index")
        form.add_error("code", "That code is wrong or has expired. Request a new one below.")
    return render(request, "signin/enter_code.html", {"form": form})
