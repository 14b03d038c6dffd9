"""Step 2: the kickoff: schedule it (with an .ics invitation), cancel it, record its outcome."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.access import member_required
from onboarding import calendar_ics
from onboarding.form_handling import apply_errors
from onboarding.models import Contact, Kickoff, KickoffAttendee, Onboarding
from onboarding.services import kickoff as kickoff_services
from onboarding.workspace.forms_steps import NextStepFormSet, OutcomeForm, ScheduleForm
from onboarding.workspace.steps_common import (
    GET_POST,
    RUN,
    can_write,
    plain_contacts,
    refuse_write,
    step_onboarding,
    tab_url,
)
from portal.tenancy.context import current_tenant


def _schedule_initial(kickoff: Kickoff | None, attendee_ids: set[int]) -> dict:
    if kickoff is None or kickoff.scheduled_at is None:
        return {"version": kickoff.version if kickoff else None}
    local = timezone.localtime(kickoff.scheduled_at, current_tenant().tz)
    return {
        "version": kickoff.version,
        "date": local.date(),
        "time": local.time(),
        "duration_minutes": kickoff.duration_minutes,
        "location": kickoff.location,
        "attendees": [str(pk) for pk in attendee_ids],
    }


def _outcome_initial(kickoff: Kickoff) -> dict:
    initial = {
        name: getattr(kickoff, name)
        for name in (
            "version",
            "goals_confirmed",
            *kickoff_services.OUTCOME_TEXT_FIELDS,
            *kickoff_services.OUTCOME_LINE_FIELDS,
        )
    }
    initial["vendor_escalation"] = str(kickoff.vendor_escalation_id or "")
    initial["customer_escalation"] = str(kickoff.customer_escalation_id or "")
    return initial


def _kickoff_page(
    request: HttpRequest,
    onboarding: Onboarding,
    *,
    kickoff: Kickoff | None = None,
    contacts: list[Contact] | None = None,
    schedule: ScheduleForm | None = None,
    outcome: OutcomeForm | None = None,
    steps=None,
    steps_error: str = "",
    status: int = 200,
) -> HttpResponse:
    kickoff = kickoff or getattr(onboarding, "kickoff", None)
    contacts = contacts if contacts is not None else plain_contacts(onboarding)
    by_id = {c.pk: c for c in contacts}
    attendee_ids = set()
    if kickoff is not None:
        attendee_ids = set(
            KickoffAttendee.objects.filter(kickoff=kickoff).values_list("contact_id", flat=True)
        )
    can_run = can_write(request, onboarding, RUN)
    scheduled = kickoff is not None and kickoff.scheduled_at is not None
    live = scheduled and kickoff.cancelled_at is None
    if can_run:
        if kickoff is None or kickoff.held_at is None:
            schedule = schedule or ScheduleForm(
                initial=_schedule_initial(kickoff, attendee_ids), contacts=contacts
            )
        else:
            schedule = None
        if live:
            outcome = outcome or OutcomeForm(initial=_outcome_initial(kickoff), contacts=contacts)
            steps = steps or NextStepFormSet(prefix="step", form_kwargs={"contacts": contacts})
    context = {
        "onboarding": onboarding,
        "current_tab": "kickoff",
        "kickoff": kickoff,
        "scheduled": scheduled,
        "live": live,
        "attendees": [
            by_id[pk] for pk in sorted(attendee_ids, key=lambda p: by_id[p].name) if pk in by_id
        ],
        "vendor_escalation": by_id.get(kickoff.vendor_escalation_id) if kickoff else None,
        "customer_escalation": by_id.get(kickoff.customer_escalation_id) if kickoff else None,
        "time_zone": current_tenant().tz.key,
        "schedule_form": schedule if can_run else None,
        "outcome_form": outcome if can_run and live else None,
        "steps": steps if can_run and live else None,
        "steps_error": steps_error,
        "can_run": can_run,
    }
    return render(request, "workspace/kickoff.html", context, status=status)


@member_required()
@GET_POST
def kickoff(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = step_onboarding(onboarding_id)
    if request.method == "GET":
        return _kickoff_page(request, onboarding)
    if refused := refuse_write(request, onboarding, RUN, tab_url("kickoff", onboarding)):
        return refused
    if request.POST.get("form") == "outcome":
        return _record_outcome(request, onboarding)
    return _schedule(request, onboarding)


def _schedule(request: HttpRequest, onboarding: Onboarding) -> HttpResponse:
    contacts = plain_contacts(onboarding)
    form = ScheduleForm(request.POST, contacts=contacts)
    if form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version")
        try:
            kickoff_services.schedule_kickoff(onboarding, data, version, request.user)
        except kickoff_services.StaleKickoff as stale:
            return _stale_kickoff(request, onboarding, stale, contacts)
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Kickoff scheduled. Send the attendees the calendar file.")
            return redirect("workspace:kickoff", onboarding_id=onboarding.pk)
    return _kickoff_page(request, onboarding, contacts=contacts, schedule=form)


def _stale_kickoff(request, onboarding, stale, contacts, *, steps=None) -> HttpResponse:
    messages.error(
        request,
        "Someone else changed this kickoff while you were editing. Nothing of yours was saved: "
        "this is the newer version; make your changes again.",
    )
    return _kickoff_page(
        request, onboarding, kickoff=stale.current, contacts=contacts, steps=steps, status=409
    )


def _record_outcome(request: HttpRequest, onboarding: Onboarding) -> HttpResponse:
    kickoff = getattr(onboarding, "kickoff", None)
    if kickoff is None or kickoff.scheduled_at is None or kickoff.cancelled_at is not None:
        messages.error(request, "Schedule the kickoff before recording its outcome.")
        return redirect("workspace:kickoff", onboarding_id=onboarding.pk)
    contacts = plain_contacts(onboarding)
    form = OutcomeForm(request.POST, contacts=contacts)
    steps = NextStepFormSet(request.POST, prefix="step", form_kwargs={"contacts": contacts})
    valid = form.is_valid()
    valid = steps.is_valid() and valid  # both run, so every error shows at once
    steps_error = ""
    if valid:
        rows = [(i, f.cleaned_data) for i, f in enumerate(steps.forms) if f.cleaned_data]
        next_steps = [
            kickoff_services.NextStep(d["title"], int(d["owner"]), d["due_date"]) for _, d in rows
        ]
        data = {k: v for k, v in form.cleaned_data.items() if k != "version"}
        try:
            kickoff_services.record_outcome(
                kickoff, data, next_steps, form.cleaned_data["version"], request.user
            )
        except kickoff_services.StaleKickoff as stale:
            return _stale_kickoff(request, onboarding, stale, contacts, steps=steps)
        except ValidationError as exc:
            for key, errors in getattr(exc, "message_dict", {"": exc.messages}).items():
                if key.startswith("next_steps."):
                    _, index, field = key.split(".")
                    steps.forms[rows[int(index)][0]].add_error(field, errors)
                elif key == "next_steps":
                    steps_error = " ".join(errors)
                else:
                    form.add_error(key if key in form.fields else None, errors)
        else:
            count = len(next_steps)
            messages.success(
                request,
                f"Kickoff outcome saved; {count} next step{'s' if count != 1 else ''} added "
                "to the plan.",
            )
            return redirect("workspace:kickoff", onboarding_id=onboarding.pk)
    return _kickoff_page(
        request,
        onboarding,
        contacts=contacts,
        outcome=form,
        steps=steps,
        steps_error=steps_error,
    )


@member_required(*RUN)
@require_POST
def kickoff_cancel(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = step_onboarding(onboarding_id)
    kickoff = getattr(onboarding, "kickoff", None)
    if kickoff is None:
        raise Http404
    back = redirect("workspace:kickoff", onboarding_id=onboarding.pk)
    if refused := refuse_write(request, onboarding, RUN, tab_url("kickoff", onboarding)):
        return refused
    try:  # no blind cancels: the form carries the version the person saw
        version = int(request.POST.get("version", ""))
    except ValueError:
        messages.error(request, "The form was incomplete; reload the page and try again.")
        return back
    try:
        kickoff_services.cancel_kickoff(kickoff, version, request.user)
    except kickoff_services.StaleKickoff:
        messages.error(request, "The kickoff changed since you loaded it; check it and try again.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, "Kickoff cancelled. The calendar file now removes it from calendars."
        )
    return back


@member_required()
@require_GET
def kickoff_ics(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = step_onboarding(onboarding_id)
    kickoff = getattr(onboarding, "kickoff", None)
    if kickoff is None or kickoff.scheduled_at is None:
        raise Http404
    people = [calendar_ics.Person(c.name, c.email) for c in kickoff_services.attendees_of(kickoff)]
    body = calendar_ics.kickoff_ics(kickoff, request.tenant, people)
    method = "CANCEL" if kickoff.cancelled_at else "REQUEST"
    response = HttpResponse(body, content_type=f"text/calendar; charset=utf-8; method={method}")
    response["Content-Disposition"] = f'attachment; filename="kickoff-{onboarding.pk}.ics"'
    response["Cache-Control"] = "private, no-cache"
    return response
