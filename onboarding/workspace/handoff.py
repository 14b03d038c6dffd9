"""Step 1: the sales handoff document, its stakeholders and the phase gate. Every form is
POST / redirect / GET and needs no JavaScript.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.access import member_required
from onboarding.form_handling import apply_errors, submit
from onboarding.models import Contact, Onboarding
from onboarding.services import handoff as handoff_services
from onboarding.services.phases import MOVABLE, move_to_phase
from onboarding.workspace.forms_steps import HandoffForm, PhaseForm, StakeholderForm
from onboarding.workspace.steps_common import (
    EDIT_HANDOFF,
    GET_POST,
    RUN,
    can_write,
    contacts_with_access,
    refuse_write,
    step_onboarding,
    tab_url,
)


def _next_phase(onboarding: Onboarding) -> str:
    """The phase after the current one: what the move form offers first."""
    values = [s.value for s in MOVABLE]
    if onboarding.status not in values:
        return values[0]
    return values[min(values.index(onboarding.status) + 1, len(values) - 1)]


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
    contacts = contacts_with_access(onboarding)
    required = handoff_services.required_fields()
    document = handoff_services.document_of(onboarding)
    can_edit = can_write(request, onboarding, EDIT_HANDOFF)
    can_run = can_write(request, onboarding, RUN)
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
    onboarding = step_onboarding(onboarding_id)
    if request.method == "GET":
        return _handoff_page(request, onboarding)
    if refused := refuse_write(request, onboarding, EDIT_HANDOFF, tab_url("handoff", onboarding)):
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
            apply_errors(form, exc)
        else:
            messages.success(request, "Handoff saved.")
            return redirect("workspace:handoff", onboarding_id=onboarding.pk)
    return _handoff_page(request, onboarding, form=form)


@member_required(*EDIT_HANDOFF)
@require_POST
def stakeholder_add(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = step_onboarding(onboarding_id)
    if refused := refuse_write(request, onboarding, EDIT_HANDOFF, tab_url("handoff", onboarding)):
        return refused
    form = StakeholderForm(request.POST, prefix="new")
    return submit(
        request,
        form,
        lambda data: handoff_services.add_stakeholder(onboarding, data, request.user),
        done=lambda contact: f"{contact.name} added.",
        back=tab_url("handoff", onboarding),
    ) or _handoff_page(request, onboarding, new_contact=form)


def _stakeholder(onboarding: Onboarding, contact_id: int) -> Contact:
    return get_object_or_404(Contact.objects.filter(onboarding=onboarding), pk=contact_id)


@member_required(*EDIT_HANDOFF)
@GET_POST
def stakeholder_edit(request: HttpRequest, onboarding_id: int, contact_id: int) -> HttpResponse:
    onboarding = step_onboarding(onboarding_id)
    contact = _stakeholder(onboarding, contact_id)
    back = tab_url("handoff", onboarding)
    if refused := refuse_write(request, onboarding, EDIT_HANDOFF, back):
        return refused  # GET included: the edit form of a closed onboarding is not offered
    fields = handoff_services.CONTACT_FIELDS
    if request.method == "GET":
        form = StakeholderForm(prefix="edit", initial={k: getattr(contact, k) for k in fields})
        return _handoff_page(request, onboarding, edit_contact=(contact, form))
    form = StakeholderForm(request.POST, prefix="edit")
    return submit(
        request,
        form,
        lambda data: handoff_services.update_stakeholder(contact, data, request.user),
        done=f"{contact.name} saved.",
        back=back,
    ) or _handoff_page(request, onboarding, edit_contact=(contact, form))


@member_required(*EDIT_HANDOFF)
@require_POST
def stakeholder_delete(request: HttpRequest, onboarding_id: int, contact_id: int) -> HttpResponse:
    onboarding = step_onboarding(onboarding_id)
    contact = _stakeholder(onboarding, contact_id)
    back = redirect("workspace:handoff", onboarding_id=onboarding.pk)
    if refused := refuse_write(request, onboarding, EDIT_HANDOFF, tab_url("handoff", onboarding)):
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
    onboarding = step_onboarding(onboarding_id)
    if refused := refuse_write(request, onboarding, RUN, tab_url("handoff", onboarding)):
        return refused
    form = PhaseForm(request.POST)
    return submit(
        request,
        form,
        lambda data: move_to_phase(onboarding, data["phase"], request.user),
        done=lambda _: f"Moved to {onboarding.get_status_display()}.",
        back=tab_url("handoff", onboarding),
    ) or _handoff_page(request, onboarding, phase_form=form)
