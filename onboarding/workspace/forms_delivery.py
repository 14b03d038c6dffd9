"""Forms of the training, close, stakeholder and playbook pages.

They only parse input into Python values (numbers, dates, objects of the right onboarding or
playbook); every rule lives in the services, whose ValidationError is put next to the field it
names with `onboarding.form_handling.apply_errors`. Choices of related objects are querysets of
the tenant in scope and of the one onboarding or playbook, so an id from elsewhere is "not one
of the choices".
"""

from __future__ import annotations

from django import forms

from accounts.models import User
from onboarding.models import (
    CloseReview,
    Onboarding,
    Playbook,
    PlaybookTask,
    Side,
    TouchModel,
    TrainingGroup,
    TrainingResource,
)
from onboarding.services.close_review import ongoing_csm_choices
from onboarding.services.playbook_editor import MAX_OFFSET, PHASES


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class UserChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name()


class NamedChoiceField(forms.ModelChoiceField):
    """Options labelled by the object's name (training groups and playbook milestones have no
    __str__ of their own)."""

    def label_from_instance(self, obj) -> str:
        return obj.name


# --- Training ----------------------------------------------------------------------------------


class GroupForm(forms.Form):
    name = forms.CharField(label="Group name", max_length=120, help_text="E.g. Administrators.")
    size = forms.IntegerField(label="People in the group", min_value=1)
    sophistication = forms.ChoiceField(
        label="Experience", choices=[("", "Choose…"), *TrainingGroup.Sophistication.choices]
    )


class SessionForm(forms.Form):
    group = NamedChoiceField(label="Group", queryset=None, empty_label="Choose…")
    title = forms.CharField(label="Session title", max_length=200)
    scheduled_at = forms.DateTimeField(
        label="Date and time",
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=DateTimeInput(),
        help_text="In your team's time zone.",
    )
    live_url = forms.CharField(
        label="Live link", required=False, max_length=200, help_text="The meeting link."
    )

    def __init__(self, *args, onboarding: Onboarding, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = TrainingGroup.objects.filter(onboarding=onboarding)


class SessionEditForm(SessionForm):
    held = forms.BooleanField(label="The session was held", required=False)
    recording_url = forms.CharField(
        label="Recording link",
        required=False,
        max_length=200,
        help_text="Once held: it appears in the client's portal under the group.",
    )


class ResourceForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200)
    kind = forms.ChoiceField(
        label="Kind", choices=TrainingResource.Kind.choices, initial=TrainingResource.Kind.GUIDE
    )
    url = forms.CharField(label="Link", required=False, max_length=200)
    group = NamedChoiceField(
        label="For",
        queryset=None,
        required=False,
        empty_label="Everyone",
    )

    def __init__(self, *args, onboarding: Onboarding, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = TrainingGroup.objects.filter(onboarding=onboarding)


# --- Close -------------------------------------------------------------------------------------


class CloseReviewForm(forms.Form):
    day90_criteria_met = forms.ChoiceField(
        label="Were the day-90 success criteria met?",
        choices=CloseReview.Met.choices,
        widget=forms.RadioSelect,
    )
    usage_at_close = forms.CharField(
        label="Usage at close",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="E.g. 180 of 200 seats active weekly; 3 of 4 modules in use.",
    )
    health_at_close = forms.FloatField(
        label="Health score at close", required=False, min_value=0, max_value=100
    )
    open_items = forms.CharField(
        label="Open items carried forward",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One per line. Starts with the plan's open tasks.",
    )
    next_quarter_goals = forms.CharField(
        label="Goals for the next quarter", widget=forms.Textarea(attrs={"rows": 3})
    )
    ongoing_csm = UserChoiceField(
        label="Ongoing CSM", queryset=User.objects.none(), empty_label="Choose…"
    )
    ongoing_csm_introduced = forms.BooleanField(
        label="The ongoing CSM was introduced to the customer", required=False
    )
    qbr_date = forms.DateField(label="First QBR", widget=DateInput())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Evaluated per form: the queryset of the tenant in scope now, not at import.
        self.fields["ongoing_csm"].queryset = ongoing_csm_choices()


class QbrForm(forms.Form):
    qbr_date = forms.DateField(label="New QBR date", widget=DateInput())


# --- Stakeholders ------------------------------------------------------------------------------


class InviteForm(forms.Form):
    contact = forms.ModelChoiceField(
        label="Someone already listed",
        queryset=None,
        required=False,
        empty_label="— a new person (below) —",
    )
    name = forms.CharField(label="Name", required=False, max_length=200)
    email = forms.CharField(label="Email", required=False, max_length=254)
    role = forms.CharField(
        label="Role", required=False, max_length=200, help_text="E.g. IT admin, sponsor."
    )

    def __init__(self, *args, contacts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["contact"].queryset = contacts
        self.fields["contact"].label_from_instance = lambda c: f"{c.name} ({c.email})"


# --- Playbooks ---------------------------------------------------------------------------------


class DuplicateForm(forms.Form):
    source = forms.ModelChoiceField(label="Start from", queryset=None, empty_label="Choose…")
    name = forms.CharField(label="New playbook's name", max_length=120)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].queryset = Playbook.objects.order_by("model", "name")


class PlaybookForm(forms.Form):
    name = forms.CharField(label="Name", max_length=120)
    model = forms.ChoiceField(label="Onboarding model", choices=TouchModel.choices)
    is_default = forms.BooleanField(label="Default for its model (imports use it)", required=False)


class PlaybookMilestoneForm(forms.Form):
    name = forms.CharField(label="Milestone", max_length=200)
    success_criteria = forms.CharField(
        label="Success criteria", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    due_offset_days = forms.IntegerField(
        label="Due on day", min_value=0, max_value=MAX_OFFSET, help_text="Days after signature."
    )
    is_first_value = forms.BooleanField(label="Reaching it is first value", required=False)


class PlaybookTaskForm(forms.Form):
    title = forms.CharField(label="Task", max_length=300)
    description = forms.CharField(
        label="Description", required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    phase = forms.ChoiceField(label="Phase", choices=PHASES)
    owner_side = forms.ChoiceField(label="Done by", choices=Side.choices)
    due_offset_days = forms.IntegerField(
        label="Due on day", min_value=0, max_value=MAX_OFFSET, help_text="Days after signature."
    )
    milestone = NamedChoiceField(
        label="Milestone", queryset=None, required=False, empty_label="None"
    )
    depends_on_keys = forms.MultipleChoiceField(
        label="Depends on",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tasks that must be done first.",
    )

    def __init__(self, *args, playbook: Playbook, task: PlaybookTask | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["milestone"].queryset = playbook.milestones.order_by("position", "id")
        others = playbook.tasks.order_by("position", "id").only("key", "title")
        if task is not None:
            others = others.exclude(pk=task.pk)
        self.fields["depends_on_keys"].choices = [(t.key, t.title) for t in others]


class PlaybookResourceForm(forms.Form):
    title = forms.CharField(label="Title", max_length=200)
    kind = forms.ChoiceField(
        label="Kind", choices=TrainingResource.Kind.choices, initial=TrainingResource.Kind.GUIDE
    )
    url = forms.CharField(label="Link", required=False, max_length=200)
    audience = forms.CharField(
        label="For", required=False, max_length=120, help_text="A user group, or empty: everyone."
    )
