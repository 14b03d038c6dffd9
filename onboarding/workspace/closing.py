"""Step 6 of an onboarding in the workspace: the close review, the only way to close.

Thin views over onboarding.services.close_review. Every member reads; admins and CSMs change things
(others get 403). Once closed the review is read-only (the QBR date aside).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts.access import member_required
from onboarding.form_handling import apply_errors
from onboarding.models import CloseReview, Kickoff
from onboarding.services import close_review as close_services

from . import forms_delivery as f
from .common import (
    GET_POST,
    can_run,
    in_tenant_time,
    is_closed,
    onboarding_or_404,
    page,
    refuse_if_closed,
    require_runner,
    url,
)


@member_required()
@GET_POST
@in_tenant_time
def close(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = onboarding_or_404(onboarding_id)
    here = url("close", onboarding_id=onboarding.pk)
    review = (
        CloseReview.objects.select_related("ongoing_csm", "reviewed_by")
        .filter(onboarding=onboarding)
        .first()
    )
    review_form = qbr_form = None
    if review is None and not is_closed(onboarding):
        review_form = f.CloseReviewForm(initial=close_services.close_defaults(onboarding))
    if review is not None:
        qbr_form = f.QbrForm(initial={"qbr_date": review.qbr_date})
    status = 200
    if request.method == "POST":
        require_runner(request)
        which = request.POST.get("form")
        if which == "review":
            if refused := refuse_if_closed(request, onboarding, here):
                return refused
            review_form = f.CloseReviewForm(request.POST)
            if review_form.is_valid():
                try:
                    close_services.submit_close_review(
                        onboarding, review_form.cleaned_data, request.user
                    )
                except ValidationError as exc:
                    apply_errors(review_form, exc)
                else:
                    messages.success(
                        request, "Close review saved; the onboarding is closed and read-only."
                    )
                    return redirect(here)
        elif which == "qbr" and review is not None:
            qbr_form = f.QbrForm(request.POST)
            if qbr_form.is_valid():
                try:
                    close_services.reschedule_qbr(
                        review, qbr_form.cleaned_data["qbr_date"], request.user
                    )
                except ValidationError as exc:
                    apply_errors(qbr_form, exc)
                else:
                    messages.success(request, "QBR moved. Download the updated invitation.")
                    return redirect(here)
        else:
            messages.error(request, "Nothing to save here.")
            return redirect(here)
        status = 400
    kickoff = Kickoff.objects.filter(onboarding=onboarding).only("criteria_day90").first()
    context = {
        "review": review,
        "review_form": review_form,
        "qbr_form": qbr_form,
        "can_move_qbr": can_run(request) and review is not None,
        "criteria_day90": kickoff.criteria_day90 if kickoff else "",
        "open_items": review.open_items.splitlines() if review else [],
    }
    return page(request, "workspace/close.html", onboarding, "close", context, status)
