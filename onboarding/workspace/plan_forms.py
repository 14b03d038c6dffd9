"""Forms of the plan editor. Choices come from the onboarding's own rows only, so another plan's
(or tenant's) milestone, contact or task is refused exactly like an id that does not exist."""

from __future__ import annotations

from django import forms

from onboarding.models import Milestone, Onboarding, Side, Task

# Querysets are set per form from the onboarding (the tenant-scoped managers need a scope).
from onboarding.services.comments import MAX_COMMENT_CHARS
from onboarding.services.portal import MAX_BLOCKED_REASON_CHARS

BLOCKED_NEEDS_REASON = "Say what blocks the task."


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%d")


class TaskChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Task) -> str:
        return f"{obj.title} (due {obj.due_date:%b} {obj.due_date.day})"


class TaskForm(forms.Form):
    title = forms.CharField(max_length=300)
    description = forms.CharField(
        required=False, max_length=10_000, widget=forms.Textarea(attrs={"rows": 2})
    )
    milestone = forms.ModelChoiceField(queryset=None, required=False, empty_label="No milestone")
    owner_side = forms.ChoiceField(label="Owner side", choices=Side.choices)
    owner_contact = forms.ModelChoiceField(
        label="Owner (person)",
        queryset=None,
        required=False,
        empty_label="Nobody named yet",
    )
    due_date = forms.DateField(label="Due date", widget=DateInput)
    status = forms.ChoiceField(choices=Task.Status.choices)
    blocked_reason = forms.CharField(
        label="If blocked: what blocks it?",
        required=False,
        max_length=MAX_BLOCKED_REASON_CHARS,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    depends_on = TaskChoiceField(
        label="Depends on",
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="What this task waits for. Both sides see it under the task, ticked as each "
        "is done; it does not stop anyone from completing this one.",
    )
    shift_dependents = forms.BooleanField(required=False, initial=True)
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(
        self,
        *args,
        onboarding: Onboarding,
        task: Task | None = None,
        dependents: int = 0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.task = task
        self.fields["milestone"].queryset = onboarding.milestones.order_by(
            "position", "due_date", "id"
        )
        self.fields["owner_contact"].queryset = onboarding.contacts.order_by("side", "name")
        others = onboarding.tasks.order_by("due_date", "position", "id").only(
            "id", "title", "due_date"
        )
        if task is not None:
            others = others.exclude(pk=task.pk)
        self.fields["depends_on"].queryset = others
        if task is None:
            del self.fields["version"]
        if task is None or not dependents:
            del self.fields["shift_dependents"]
        else:
            self.fields["shift_dependents"].label = (
                f"If the due date moves, also shift the {dependents} open "
                f"task{'s' if dependents != 1 else ''} that depend{'s' if dependents == 1 else ''}"
                " on it by the same number of days"
            )

    def clean(self):
        data = super().clean()
        if data.get("status") == Task.Status.BLOCKED and not data.get("blocked_reason", "").strip():
            self.add_error("blocked_reason", BLOCKED_NEEDS_REASON)
        contact, side = data.get("owner_contact"), data.get("owner_side")
        if contact is not None and side and contact.side != side:
            self.add_error("owner_contact", f"Choose a person on the {side} side, or nobody.")
        return data

    def changes(self) -> dict:
        data = self.cleaned_data
        fields = (
            "title",
            "description",
            "milestone",
            "owner_side",
            "owner_contact",
            "due_date",
            "status",
        )
        changes = {f: data[f] for f in fields}
        changes["title"] = changes["title"].strip()
        if data["status"] == Task.Status.BLOCKED:
            changes["blocked_reason"] = data["blocked_reason"].strip()
        return changes


def task_initial(task: Task) -> dict:
    return {
        "title": task.title,
        "description": task.description,
        "milestone": task.milestone_id,
        "owner_side": task.owner_side,
        "owner_contact": task.owner_contact_id,
        "due_date": task.due_date,
        "status": task.status,
        "blocked_reason": task.blocked_reason,
        "depends_on": [d.pk for d in task.depends_on.all()],
        "version": task.version,
        "shift_dependents": True,
    }


class TaskDateForm(forms.Form):
    due_date = forms.DateField(label="New due date", widget=DateInput)
    shift_dependents = forms.BooleanField(required=False, initial=True)
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, dependents: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        if not dependents:
            del self.fields["shift_dependents"]
        else:
            self.fields["shift_dependents"].label = (
                f"Also shift the {dependents} open task{'s' if dependents != 1 else ''} that "
                f"depend{'s' if dependents == 1 else ''} on it by the same number of days"
            )


class ConfirmForm(forms.Form):
    confirm = forms.BooleanField(required=True, widget=forms.HiddenInput)


class MoveForm(forms.Form):
    direction = forms.ChoiceField(choices=[("up", "Up"), ("down", "Down")])


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Add a comment",
        max_length=MAX_COMMENT_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    internal = forms.BooleanField(
        label="Internal note (only your team sees it)",
        required=False,
    )


class MilestoneForm(forms.Form):
    name = forms.CharField(max_length=200)
    due_date = forms.DateField(label="Date", widget=DateInput)
    success_criteria = forms.CharField(
        label="Success criteria",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="How both sides will know it is reached.",
    )
    sequence = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not editing:
            del self.fields["sequence"]

    def changes(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"].strip(),
            "due_date": data["due_date"],
            "success_criteria": data["success_criteria"].strip(),
        }


def milestone_initial(milestone: Milestone) -> dict:
    return {
        "name": milestone.name,
        "due_date": milestone.due_date,
        "success_criteria": milestone.success_criteria,
        "sequence": milestone.ics_sequence,
    }
