"""Forms of steps 1-3 (handoff, kickoff, requirements): they only parse input; the rules live in
the services, whose errors `onboarding.form_handling.apply_errors` puts next to their fields.
"""

from __future__ import annotations

from django import forms
from django.forms import formset_factory

from onboarding.models import Contact, RequirementItem, Side
from onboarding.services import handoff as handoff_services
from onboarding.services import kickoff as kickoff_services
from onboarding.services.phases import MOVABLE

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
TIME = forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
NEXT_STEP_ROWS = 5


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
