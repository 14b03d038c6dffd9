"""Step 6, the formal close: the close review, then the close itself.

`submit_close_review` is the only way the workspace closes an onboarding: it validates the review,
saves it and calls `closing.close_onboarding` (status closed, NPS emails after commit) in one
transaction, so there is never a closed onboarding without its review, nor a review of an
onboarding that stayed open.

The QBR date is the one thing that may still move after the close: the QBR is the first meeting of
the steady state that follows, owned by the ongoing CSM. `reschedule_qbr` moves it and bumps the
calendar SEQUENCE so calendar clients update the event; everything else stays read-only.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, QuerySet

from accounts.models import User
from onboarding.models import CloseReview, HealthScore, Onboarding, Task
from onboarding.services import closing
from onboarding.services.activity import record
from onboarding.services.onboardings import possible_owners
from portal.tenancy.context import current_tenant

QBR_WITHIN_DAYS = 183  # the *first* quarterly review: within about two quarters
MAX_OPEN_ITEMS = 50
MAX_TEXT = 5000
ALREADY_CLOSED = closing.ALREADY_CLOSED


def _name(by: User) -> str:
    return by.get_full_name()


def _day(value: dt.date) -> str:
    return f"{value:%b} {value.day}, {value.year}"


def ongoing_csm_choices() -> QuerySet[User]:
    """Members of the tenant in scope who can own an onboarding (services.onboardings)."""
    return possible_owners(current_tenant()).order_by("full_name", "email")


def close_defaults(onboarding: Onboarding) -> dict[str, Any]:
    """What the form starts with: the latest health score, open tasks as open items, the owner."""
    latest = (
        HealthScore.objects.filter(onboarding=onboarding)
        .order_by("-for_date", "-id")
        .values_list("score", flat=True)
        .first()
    )
    open_titles = (
        onboarding.tasks.exclude(status=Task.Status.COMPLETE)
        .order_by("due_date", "position", "id")
        .values_list("title", flat=True)
    )
    return {
        "health_at_close": round(latest, 1) if latest is not None else None,
        "open_items": "\n".join(open_titles[:MAX_OPEN_ITEMS]),
        "ongoing_csm": onboarding.owner_id,
    }


def _text(data: dict[str, Any], name: str, errors: dict[str, str], required: str = "") -> str:
    value = (data.get(name) or "").strip()
    if required and not value:
        errors[name] = required
    elif len(value) > MAX_TEXT:
        errors[name] = f"At most {MAX_TEXT:,} characters."
    return value


def clean_close_review(
    onboarding: Onboarding, data: dict[str, Any], *, today: dt.date | None = None
) -> dict[str, Any]:
    """The review's values, or ValidationError keyed by field for everything wrong at once."""
    today = today or current_tenant().local_today()
    errors: dict[str, str] = {}
    met = data.get("day90_criteria_met") or ""
    if met not in CloseReview.Met.values:
        errors["day90_criteria_met"] = "Say whether the day-90 success criteria were met."
    usage = _text(
        data,
        "usage_at_close",
        errors,
        required="Describe usage at close, e.g. 180 of 200 seats active weekly.",
    )
    health = data.get("health_at_close")
    if health is not None and (
        isinstance(health, bool) or not isinstance(health, int | float) or not 0 <= health <= 100
    ):
        errors["health_at_close"] = "A health score is between 0 and 100."
    open_items = _text(data, "open_items", errors)
    lines = [line.strip() for line in open_items.splitlines() if line.strip()]
    if "open_items" not in errors and len(lines) > MAX_OPEN_ITEMS:
        errors["open_items"] = f"At most {MAX_OPEN_ITEMS} open items, one per line."
    goals = _text(
        data,
        "next_quarter_goals",
        errors,
        required="Write down the goals for the next quarter.",
    )
    csm = data.get("ongoing_csm")
    csm_id = csm.pk if isinstance(csm, User) else csm
    ongoing = None
    if isinstance(csm_id, int) and not isinstance(csm_id, bool):
        ongoing = ongoing_csm_choices().filter(pk=csm_id).first()
    if ongoing is None:
        errors["ongoing_csm"] = "Choose the ongoing CSM from your team's CSMs and admins."
    introduced = bool(data.get("ongoing_csm_introduced"))
    if ongoing is not None and ongoing.pk != onboarding.owner_id and not introduced:
        errors["ongoing_csm_introduced"] = (
            f"Introduce {ongoing.get_full_name()} to the customer before closing, then tick this."
        )
    qbr = data.get("qbr_date")
    qbr_error = check_qbr_date(qbr, today)
    if qbr_error:
        errors["qbr_date"] = qbr_error
    if errors:
        raise ValidationError(errors)
    return {
        "day90_criteria_met": met,
        "usage_at_close": usage,
        "health_at_close": float(health) if health is not None else None,
        "open_items": "\n".join(lines),
        "next_quarter_goals": goals,
        "ongoing_csm": ongoing,
        "ongoing_csm_introduced": introduced,
        "qbr_date": qbr,
    }


def check_qbr_date(value: Any, today: dt.date) -> str:
    """'' when the date is a valid first QBR date, else the message to show next to it."""
    if not isinstance(value, dt.date) or isinstance(value, dt.datetime):
        return "Schedule the first QBR: pick a date."
    if value <= today:
        return f"The first QBR must be after today ({_day(today)})."
    latest = today + dt.timedelta(days=QBR_WITHIN_DAYS)
    if value > latest:
        return f"Schedule the first QBR within six months, by {_day(latest)}."
    return ""


def submit_close_review(onboarding: Onboarding, data: dict[str, Any], by: User) -> CloseReview:
    """Validate and save the close review, then close the onboarding; all or nothing.

    Raises ValidationError (by field) for a bad review or an onboarding already closed, and
    PermissionDenied (from closing) when `by` may not close onboardings.
    """
    with transaction.atomic():
        # Lock the row: of two people closing at once, the second sees it closed.
        current = Onboarding.objects.select_for_update().get(pk=onboarding.pk)
        if current.status == Onboarding.Status.CLOSED:
            raise ValidationError(ALREADY_CLOSED)
        values = clean_close_review(current, data)
        review = CloseReview.objects.create(onboarding=current, reviewed_by=by, **values)
        ongoing = values["ongoing_csm"]
        met = review.get_day90_criteria_met_display().lower()
        record(
            current,
            by,
            f"{_name(by)} held the close review (day-90 criteria {met}); ongoing CSM "
            f"{ongoing.get_full_name()}; first QBR on {_day(review.qbr_date)}",
        )
        closing.close_onboarding(current, by)
        record(current, by, f"{_name(by)} closed the onboarding")
    onboarding.status = current.status
    return review


@transaction.atomic
def reschedule_qbr(
    review: CloseReview, new_date: Any, by: User, *, today: dt.date | None = None
) -> CloseReview:
    """Move the first QBR; its calendar SEQUENCE grows so calendar clients update the event."""
    today = today or current_tenant().local_today()
    error = check_qbr_date(new_date, today)
    if error:
        raise ValidationError({"qbr_date": error})
    if new_date == review.qbr_date:
        raise ValidationError({"qbr_date": f"The QBR is already on {_day(new_date)}."})
    old = review.qbr_date
    CloseReview.objects.filter(pk=review.pk).update(
        qbr_date=new_date, qbr_ics_sequence=F("qbr_ics_sequence") + 1
    )
    review.refresh_from_db(fields=["qbr_date", "qbr_ics_sequence"])
    record(
        review.onboarding,
        by,
        f"{_name(by)} moved the first QBR from {_day(old)} to {_day(new_date)}"
        if old
        else f"{_name(by)} scheduled the first QBR on {_day(new_date)}",
    )
    return review
