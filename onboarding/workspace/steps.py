"""Steps 1-3 of one onboarding in the workspace: the handoff (with its stakeholders and the phase
gate), the kickoff (schedule, .ics, cancel, outcome) and the requirements intake.

Every page is readable by every member; writes are for the roles that own them (the handoff:
account executives, CSMs and admins; the rest: CSMs and admins). A POST from anyone else gets the
404 a missing page gets, and their pages render no forms. A closed onboarding renders no forms and
refuses every write. The forms only parse input; the rules live in the services, whose
ValidationErrors are shown next to the field they name. Every form is POST / redirect / GET and
needs no JavaScript.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef
from django.forms import formset_factory
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.access import member_required
from accounts.models import Role
from onboarding import calendar_ics
from onboarding.models import (
    Contact,
    Kickoff,
    KickoffAttendee,
    Onboarding,
    PortalAccess,
    RequirementItem,
    Side,
)
from onboarding.services import handoff as handoff_services
from onboarding.services import kickoff as kickoff_services
from onboarding.services import requirements as requirement_services
from onboarding.services.phases import MOVABLE, move_to_phase
from portal.tenancy.context import current_tenant

EDIT_HANDOFF = (Role.AE, Role.CSM, Role.ADMIN)
RUN = (Role.CSM, Role.ADMIN)
GET_POST = require_http_methods(["GET", "POST"])
CLOSED = "This onboarding is closed; it is read-only."
DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
NEXT_STEP_ROWS = 5


# --- Forms: parsing only ---------------------------------------------------------------------


class VersionedForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class HandoffForm(VersionedForm):
    goals = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    commitments = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    risks = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    contract_value = forms.DecimalField(required=False, max_digits=14, decimal_places=2)
    currency = forms.CharField(required=False, max_length=3)
    seats = forms.IntegerField(required=False)
    modules = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    renewal_date = forms.DateField(required=False, widget=DATE)
    account_executive = forms.CharField(required=False, max_length=200)

    def __init__(self, *args, required: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name in handoff_services.LABELS:
                field.label = handoff_services.LABELS[name]
                field.needed = name in required  # shown as "required before kickoff"
                if name in handoff_services.LIST_FIELDS:
                    field.help_text = "One per line."

    @staticmethod
    def initial_from(document) -> dict:
        initial = {"version": document.version}
        for name in handoff_services.DOCUMENT_FIELDS:
            value = getattr(document, name)
            initial[name] = "\n".join(value) if name in handoff_services.LIST_FIELDS else value
        return initial


class StakeholderForm(forms.Form):
    side = forms.ChoiceField(choices=Side.choices, initial=Side.CUSTOMER)
    name = forms.CharField(max_length=200)
    email = forms.EmailField(required=False)
    role = forms.CharField(max_length=200, required=False, help_text="e.g. Sponsor, Champion")
    phone = forms.CharField(max_length=40, required=False)


class PhaseForm(forms.Form):
    phase = forms.ChoiceField(choices=[(s.value, s.label) for s in MOVABLE], label="Move to")


def _contact_choices(contacts: list[Contact], side: str | None = None) -> list[tuple[str, str]]:
    return [
        (str(c.pk), f"{c.name} ({c.get_side_display()}{', ' + c.role if c.role else ''})")
        for c in contacts
        if side is None or c.side == side
    ]


class ScheduleForm(VersionedForm):
    date = forms.DateField(widget=DATE)
    time = forms.TimeField(widget=TIME, help_text="In your team's time zone.")
    duration_minutes = forms.IntegerField(label="Length (minutes)", initial=60)
    location = forms.CharField(max_length=300, required=False, label="Meeting link or room")
    attendees = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple, help_text="At least one person from each side."
    )

    def __init__(self, *args, contacts: list[Contact], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["attendees"].choices = _contact_choices(contacts)


class OutcomeForm(VersionedForm):
    goals_confirmed = forms.BooleanField(required=False, label="The customer confirmed the goals")
    criteria_day30 = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    criteria_day60 = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    criteria_day90 = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    definition_of_done = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))
    cadence = forms.CharField(max_length=200, help_text="e.g. weekly, Tuesdays 10:00")
    channel = forms.CharField(max_length=200, help_text="e.g. a shared Slack channel")
    vendor_escalation = forms.ChoiceField()
    customer_escalation = forms.ChoiceField()

    def __init__(self, *args, contacts: list[Contact], **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if name in kickoff_services.OUTCOME_LABELS:
                field.label = kickoff_services.OUTCOME_LABELS[name]
        blank = [("", "Choose…")]
        self.fields["vendor_escalation"].choices = blank + _contact_choices(contacts, Side.VENDOR)
        self.fields["customer_escalation"].choices = blank + _contact_choices(
            contacts, Side.CUSTOMER
        )


class NextStepForm(forms.Form):
    title = forms.CharField(max_length=300)
    owner = forms.ChoiceField()
    due_date = forms.DateField(widget=DATE)

    def __init__(self, *args, contacts: list[Contact], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", "Choose…")] + _contact_choices(contacts)
        # Five rows of the same fields: number the labels so each input has a unique name.
        n = int(self.prefix.rsplit("-", 1)[-1]) + 1 if self.prefix else 1
        self.fields["title"].label = f"Next step {n}"
        self.fields["owner"].label = f"Owner of step {n}"
        self.fields["due_date"].label = f"Deadline of step {n}"


NextStepFormSet = formset_factory(NextStepForm, extra=NEXT_STEP_ROWS, max_num=NEXT_STEP_ROWS)


class RequirementForm(forms.Form):
    category = forms.ChoiceField(choices=[("", "Choose…"), *RequirementItem.Category.choices])
    title = forms.CharField(max_length=300)
    details = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    sso = forms.BooleanField(required=False, label="Single sign-on (SSO)")
    ip_allowlisting = forms.BooleanField(required=False, label="IP allowlisting")
    data_residency = forms.CharField(
        max_length=100, required=False, help_text="Security items only, e.g. EU, US-East."
    )


class MakeTaskForm(forms.Form):
    owner = forms.ChoiceField(label="Owner")
    due_date = forms.DateField(widget=DATE, label="Due")

    def __init__(self, *args, contacts: list[Contact], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [
            ("", "Choose…"),
            (f"side:{Side.VENDOR}", "Our team"),
            (f"side:{Side.CUSTOMER}", "The customer's team"),
            *[(f"contact:{pk}", label) for pk, label in _contact_choices(contacts)],
        ]


# --- Helpers ----------------------------------------------------------------------------------


def _onboarding(onboarding_id: int) -> Onboarding:
    return get_object_or_404(
        Onboarding.objects.select_related("customer", "owner", "handoff", "kickoff"),
        pk=onboarding_id,
    )


def _role(request: HttpRequest) -> str:
    return request.membership.role


def _can(request: HttpRequest, onboarding: Onboarding, roles) -> bool:
    return _role(request) in roles and onboarding.status != Onboarding.Status.CLOSED


def _refuse_write(
    request: HttpRequest, onboarding: Onboarding, roles, back: str
) -> HttpResponse | None:
    """Refuse a write: 404 for a role without it, a message for a closed onboarding."""
    if _role(request) not in roles:
        raise Http404
    if onboarding.status == Onboarding.Status.CLOSED:
        messages.error(request, CLOSED)
        return redirect(back)
    return None


def _tab(name: str, onboarding: Onboarding) -> str:
    return reverse(f"workspace:{name}", kwargs={"onboarding_id": onboarding.pk})


def _show(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's errors next to the fields they name (elsewhere: above the form)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.message_dict.items():
        form.add_error(name if name in form.fields else None, errors)


def _contacts(onboarding: Onboarding) -> list[Contact]:
    return list(
        Contact.objects.filter(onboarding=onboarding)
        .annotate(
            has_access=Exists(
                PortalAccess.objects.filter(contact=OuterRef("pk"), revoked_at__isnull=True)
            )
        )
        .order_by("side", "name", "id")
    )


def _next_phase(onboarding: Onboarding) -> str:
    """The phase after the current one: what the move form offers first."""
    values = [s.value for s in MOVABLE]
    if onboarding.status not in values:
        return values[0]
    return values[min(values.index(onboarding.status) + 1, len(values) - 1)]


# --- Step 1: handoff --------------------------------------------------------------------------


def _handoff_page(
    request: HttpRequest,
    onboarding: Onboarding,
    *,
    form: HandoffForm | None = None,
    new_contact: StakeholderForm | None = None,
    edit_contact: tuple[Contact, StakeholderForm] | None = None,
    phase_form: PhaseForm | None = None,
    yours: list | None = None,
    status: int = 200,
) -> HttpResponse:
    contacts = _contacts(onboarding)
    required = handoff_services.required_fields()
    document = handoff_services.document_of(onboarding)
    can_edit = _can(request, onboarding, EDIT_HANDOFF)
    can_run = _can(request, onboarding, RUN)
    missing = handoff_services.handoff_missing(onboarding, contacts=contacts)
    done, total = len(required) - len(missing), len(required)
    if can_edit:
        form = form or HandoffForm(initial=HandoffForm.initial_from(document), required=required)
        new_contact = new_contact or StakeholderForm(prefix="new")
    context = {
        "onboarding": onboarding,
        "current_tab": "handoff",
        "document": document,
        "contacts": contacts,
        "missing": missing,
        "done": done,
        "total": total,
        "percent": round(100 * done / total) if total else 100,
        "form": form if can_edit else None,
        "new_contact": new_contact if can_edit else None,
        "edit_contact": edit_contact if can_edit else None,
        "phase_form": (phase_form or PhaseForm(initial={"phase": _next_phase(onboarding)}))
        if can_run
        else None,
        "yours": yours,
        "can_edit": can_edit,
    }
    return render(request, "workspace/handoff.html", context, status=status)


@member_required()
@GET_POST
def handoff(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = _onboarding(onboarding_id)
    if request.method == "GET":
        return _handoff_page(request, onboarding)
    if refused := _refuse_write(request, onboarding, EDIT_HANDOFF, _tab("handoff", onboarding)):
        return refused
    required = handoff_services.required_fields()
    form = HandoffForm(request.POST, required=required)
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k != "version"}
        try:
            handoff_services.update_handoff(
                onboarding, data, form.cleaned_data["version"], request.user
            )
        except handoff_services.StaleHandoff as stale:
            # Show the newer version, never a merge: the editor re-applies what they meant.
            newer = HandoffForm(initial=HandoffForm.initial_from(stale.current), required=required)
            yours = [
                (form.fields[k].label, request.POST.get(k, ""))
                for k in handoff_services.DOCUMENT_FIELDS
                if str(newer.initial.get(k) or "") != request.POST.get(k, "")
            ]
            # With `yours` set (even empty) the page says what happened above the form.
            return _handoff_page(request, onboarding, form=newer, yours=yours, status=409)
        except ValidationError as exc:
            _show(form, exc)
        else:
            messages.success(request, "Handoff saved.")
            return redirect("workspace:handoff", onboarding_id=onboarding.pk)
    return _handoff_page(request, onboarding, form=form)


@member_required(*EDIT_HANDOFF)
@require_POST
def stakeholder_add(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = _onboarding(onboarding_id)
    if refused := _refuse_write(request, onboarding, EDIT_HANDOFF, _tab("handoff", onboarding)):
        return refused
    form = StakeholderForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            contact = handoff_services.add_stakeholder(onboarding, form.cleaned_data, request.user)
        except ValidationError as exc:
            _show(form, exc)
        else:
            messages.success(request, f"{contact.name} added.")
            return redirect("workspace:handoff", onboarding_id=onboarding.pk)
    return _handoff_page(request, onboarding, new_contact=form)


def _stakeholder(onboarding: Onboarding, contact_id: int) -> Contact:
    return get_object_or_404(Contact.objects.filter(onboarding=onboarding), pk=contact_id)


@member_required(*EDIT_HANDOFF)
@GET_POST
def stakeholder_edit(request: HttpRequest, onboarding_id: int, contact_id: int) -> HttpResponse:
    onboarding = _onboarding(onboarding_id)
    contact = _stakeholder(onboarding, contact_id)
    back = _tab("handoff", onboarding)
    if refused := _refuse_write(request, onboarding, EDIT_HANDOFF, back):
        return refused  # GET included: the edit form of a closed onboarding is not offered
    fields = handoff_services.CONTACT_FIELDS
    if request.method == "GET":
        form = StakeholderForm(prefix="edit", initial={k: getattr(contact, k) for k in fields})
        return _handoff_page(request, onboarding, edit_contact=(contact, form))
    form = StakeholderForm(request.POST, prefix="edit")
    if form.is_valid():
        try:
            handoff_services.update_stakeholder(contact, form.cleaned_data, request.user)
        except ValidationError as exc:
            _show(form, exc)
        else:
            messages.success(request, f"{contact.name} saved.")
            return redirect(back)
    return _handoff_page(request, onboarding, edit_contact=(contact, form))


@member_required(*EDIT_HANDOFF)
@require_POST
def stakeholder_delete(request: HttpRequest, onboarding_id: int, contact_id: int) -> HttpResponse:
    onboarding = _onboarding(onboarding_id)
    contact = _stakeholder(onboarding, contact_id)
    back = redirect("workspace:handoff", onboarding_id=onboarding.pk)
    if refused := _refuse_write(request, onboarding, EDIT_HANDOFF, _tab("handoff", onboarding)):
        return refused
    try:
        handoff_services.delete_stakeholder(contact, request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"{contact.name} removed.")
    return back


@member_required(*RUN)
@require_POST
def phase(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = _onboarding(onboarding_id)
    if refused := _refuse_write(request, onboarding, RUN, _tab("handoff", onboarding)):
        return refused
    form = PhaseForm(request.POST)
    if form.is_valid():
        try:
            move_to_phase(onboarding, form.cleaned_data["phase"], request.user)
        except ValidationError as exc:
            _show(form, exc)
        else:
            messages.success(request, f"Moved to {onboarding.get_status_display()}.")
            return redirect("workspace:handoff", onboarding_id=onboarding.pk)
    return _handoff_page(request, onboarding, phase_form=form)


# --- Step 2: kickoff --------------------------------------------------------------------------


def _plain_contacts(onboarding: Onboarding) -> list[Contact]:
    return list(Contact.objects.filter(onboarding=onboarding).order_by("side", "name", "id"))


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
    contacts = contacts if contacts is not None else _plain_contacts(onboarding)
    by_id = {c.pk: c for c in contacts}
    attendee_ids = set()
    if kickoff is not None:
        attendee_ids = set(
            KickoffAttendee.objects.filter(kickoff=kickoff).values_list("contact_id", flat=True)
        )
    can_run = _can(request, onboarding, RUN)
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
    onboarding = _onboarding(onboarding_id)
    if request.method == "GET":
        return _kickoff_page(request, onboarding)
    if refused := _refuse_write(request, onboarding, RUN, _tab("kickoff", onboarding)):
        return refused
    if request.POST.get("form") == "outcome":
        return _record_outcome(request, onboarding)
    return _schedule(request, onboarding)


def _schedule(request: HttpRequest, onboarding: Onboarding) -> HttpResponse:
    contacts = _plain_contacts(onboarding)
    form = ScheduleForm(request.POST, contacts=contacts)
    if form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version")
        try:
            kickoff_services.schedule_kickoff(onboarding, data, version, request.user)
        except kickoff_services.StaleKickoff as stale:
            return _stale_kickoff(request, onboarding, stale, contacts)
        except ValidationError as exc:
            _show(form, exc)
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
    contacts = _plain_contacts(onboarding)
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
    onboarding = _onboarding(onboarding_id)
    kickoff = getattr(onboarding, "kickoff", None)
    if kickoff is None:
        raise Http404
    back = redirect("workspace:kickoff", onboarding_id=onboarding.pk)
    if refused := _refuse_write(request, onboarding, RUN, _tab("kickoff", onboarding)):
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
    onboarding = _onboarding(onboarding_id)
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


# --- Step 3: requirements ---------------------------------------------------------------------


def _requirements_page(
    request: HttpRequest,
    onboarding: Onboarding,
    *,
    new: RequirementForm | None = None,
    edit: tuple[RequirementItem, RequirementForm] | None = None,
    task_form: tuple[int, MakeTaskForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    items = list(
        RequirementItem.objects.filter(onboarding=onboarding).select_related(
            "task", "task__owner_contact"
        )
    )
    contacts = _plain_contacts(onboarding)
    can_run = _can(request, onboarding, RUN)
    groups = {value: [] for value in RequirementItem.Category.values}
    for item in items:
        groups[item.category].append(item)
        item.task_form = None
        if can_run and item.task_id is None:
            if task_form is not None and task_form[0] == item.pk:
                item.task_form = task_form[1]
            else:
                item.task_form = MakeTaskForm(prefix=f"task-{item.pk}", contacts=contacts)
    context = {
        "onboarding": onboarding,
        "current_tab": "requirements",
        "groups": [(label, groups[value]) for value, label in RequirementItem.Category.choices],
        "count": len(items),
        "new_form": (new or RequirementForm(prefix="new")) if can_run else None,
        "edit": edit if can_run else None,
        "can_run": can_run,
    }
    return render(request, "workspace/requirements.html", context, status=status)


@member_required()
@GET_POST
def requirements(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = _onboarding(onboarding_id)
    if request.method == "GET":
        return _requirements_page(request, onboarding)
    if refused := _refuse_write(request, onboarding, RUN, _tab("requirements", onboarding)):
        return refused
    form = RequirementForm(request.POST, prefix="new")
    if form.is_valid():
        try:
            item = requirement_services.add_requirement(onboarding, form.cleaned_data, request.user)
        except ValidationError as exc:
            _show(form, exc)
        else:
            messages.success(request, f"“{item.title}” added to the requirements.")
            return redirect("workspace:requirements", onboarding_id=onboarding.pk)
    return _requirements_page(request, onboarding, new=form)


def _item(onboarding: Onboarding, requirement_id: int) -> RequirementItem:
    return get_object_or_404(
        RequirementItem.objects.filter(onboarding=onboarding), pk=requirement_id
    )


@member_required(*RUN)
@GET_POST
def requirement_edit(request: HttpRequest, onboarding_id: int, requirement_id: int) -> HttpResponse:
    onboarding = _onboarding(onboarding_id)
    item = _item(onboarding, requirement_id)
    back = _tab("requirements", onboarding)
    if refused := _refuse_write(request, onboarding, RUN, back):
        return refused
    if request.method == "GET":
        initial = {name: getattr(item, name) for name in RequirementForm.base_fields}
        form = RequirementForm(prefix="edit", initial=initial)
        return _requirements_page(request, onboarding, edit=(item, form))
    form = RequirementForm(request.POST, prefix="edit")
    if form.is_valid():
        try:
            requirement_services.update_requirement(item, form.cleaned_data, request.user)
        except ValidationError as exc:
            _show(form, exc)
        else:
            messages.success(request, "Requirement saved.")
            return redirect(back)
    return _requirements_page(request, onboarding, edit=(item, form))


@member_required(*RUN)
@require_POST
def requirement_delete(
    request: HttpRequest, onboarding_id: int, requirement_id: int
) -> HttpResponse:
    onboarding = _onboarding(onboarding_id)
    item = _item(onboarding, requirement_id)
    back = _tab("requirements", onboarding)
    if refused := _refuse_write(request, onboarding, RUN, back):
        return refused
    requirement_services.delete_requirement(item, request.user)
    messages.success(request, f"“{item.title}” removed.")
    return redirect(back)


@member_required(*RUN)
@require_POST
def requirement_task(request: HttpRequest, onboarding_id: int, requirement_id: int) -> HttpResponse:
    onboarding = _onboarding(onboarding_id)
    item = _item(onboarding, requirement_id)
    back = _tab("requirements", onboarding)
    if refused := _refuse_write(request, onboarding, RUN, back):
        return refused
    contacts = _plain_contacts(onboarding)
    form = MakeTaskForm(request.POST, prefix=f"task-{item.pk}", contacts=contacts)
    if form.is_valid():
        kind, _, value = form.cleaned_data["owner"].partition(":")
        try:
            requirement_services.make_task(
                item,
                request.user,
                owner_side=value if kind == "side" else "",
                owner_contact=int(value) if kind == "contact" else None,
                due_date=form.cleaned_data["due_date"],
            )
        except ValidationError as exc:
            _show(form, exc)
        else:
            messages.success(request, f"“{item.title}” is now a task in the plan.")
            return redirect(back)
    return _requirements_page(request, onboarding, task_form=(item.pk, form))
