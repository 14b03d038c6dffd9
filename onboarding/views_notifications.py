"""Reminder preferences, one-click unsubscribe (no sign-in needed) and delivery problems."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from accounts.access import client_required, member_required
from onboarding.models import NpsRequest, ReminderDigest, ReminderKind
from onboarding.services import reminders
from onboarding.services.closing import Resend, problem_nps_requests, send_nps_again


class PreferencesForm(forms.Form):
    kinds = forms.MultipleChoiceField(
        label="Remind me about",
        choices=ReminderKind.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )


@client_required
def preferences(request: HttpRequest) -> HttpResponse:
    email = request.user.email
    if request.method == "POST":
        form = PreferencesForm(request.POST)
        if form.is_valid():
            kinds = set(form.cleaned_data["kinds"])
            reminders.set_preferences(email, kinds)
            messages.success(
                request,
                "Saved. Your daily reminder email will contain only what is ticked."
                if kinds
                else "Saved. You will get no reminder emails.",
            )
            return redirect("notification-preferences")
    else:
        off = reminders.opted_out_kinds(email)
        enabled = [] if "all" in off else [k for k in ReminderKind.values if k not in off]
        form = PreferencesForm(initial={"kinds": enabled})
    return render(request, "notifications/preferences.html", {"form": form})


# A mail client's one-click unsubscribe (RFC 8058) POSTs without a CSRF token or a session; the
# signed token is the credential.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, unsubscribe_token: str) -> HttpResponse:
    target = reminders.read_unsubscribe_token(request.tenant, unsubscribe_token)
    if target is None:
        raise Http404
    email, kind = target
    if request.method == "POST":
        reminders.unsubscribe(email, kind)
        return render(request, "notifications/unsubscribed.html", {"email": email})
    return render(request, "notifications/unsubscribe.html", {"email": email})


@member_required("admin", "csm")
def delivery_problems(request: HttpRequest) -> HttpResponse:
    context = {
        "digests": list(reminders.problem_digests()),
        "nps_requests": list(problem_nps_requests()),
    }
    return render(request, "notifications/problems.html", context)


@member_required("admin", "csm")
@require_http_methods(["POST"])
def send_digest_again(request: HttpRequest, digest_id: int) -> HttpResponse:
    try:
        put_back = reminders.send_again(request.tenant, digest_id, request.user)
    except ReminderDigest.DoesNotExist:
        raise Http404 from None
    if put_back:
        messages.success(request, "The digest will be sent again within a few minutes.")
    else:  # a second click, or a stale page
        messages.info(request, "That digest is already on its way or sent; nothing was changed.")
    return redirect("delivery-problems")


@member_required("admin", "csm")
@require_http_methods(["POST"])
def send_nps_request_again(request: HttpRequest, request_id: int) -> HttpResponse:
    try:
        outcome = send_nps_again(request.tenant, request_id, request.user)
    except NpsRequest.DoesNotExist:
        raise Http404 from None
    if outcome == Resend.QUEUED:
        messages.success(request, "The NPS question will be sent again within a few minutes.")
    elif outcome == Resend.UNREACHABLE:
        messages.error(
            request,
            "Not sent: that person no longer has access to this onboarding's portal, or has "
            "answered there already. Nothing was changed.",
        )
    else:
        messages.info(
            request, "That NPS question is already on its way or sent; nothing was changed."
        )
    return redirect("delivery-problems")
