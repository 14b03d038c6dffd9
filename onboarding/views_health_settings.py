"""Health-score settings: the formula (admins) and the usage / support-ticket inputs (admins, CSMs).

Thin views: the rules live in onboarding.health.new_formula_version (a new version, never an
edit, so every score keeps explaining itself) and onboarding.services.health_inputs (all-or-nothing
CSV imports). Both pages act on request.tenant only, so they take no URL kwargs. Forms work without
JavaScript: POST, then redirect, then GET; a refused POST re-renders with the errors in place.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.access import member_required
from onboarding import health
from onboarding.models import HealthFormula
from onboarding.services import health_inputs

GET_POST = require_http_methods(["GET", "POST"])
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
WEIGHT_FIELDS = tuple(f"w_{c}" for c in health.COMPONENTS)


# --- The formula ------------------------------------------------------------------------------


def _percent_field(label: str, help_text: str = "") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        min_value=0,
        max_value=100,
        help_text=help_text,
        error_messages={"required": "Enter a whole number from 0 to 100."},
        widget=forms.NumberInput(attrs={"min": 0, "max": 100, "step": 1}),
    )


class FormulaForm(forms.Form):
    green_min = _percent_field("Green from", "A score at or above this is green.")
    yellow_min = _percent_field(
        "Yellow from", "A score at or above this (and below green) is yellow; below it, red."
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for c in health.COMPONENTS:
            self.fields[f"w_{c}"] = _percent_field(health.LABELS[c], health.DESCRIPTIONS[c])

    def weight_fields(self):
        return [self[name] for name in WEIGHT_FIELDS]

    def clean(self):
        data = super().clean()
        weights = [data.get(name) for name in WEIGHT_FIELDS]
        # Only judged once every weight is a valid number; a bad one already has its own error.
        if all(w is not None for w in weights) and not sum(weights):
            # A non-field error: the template shows it inside the weights fieldset.
            self.add_error(None, "At least one weight must be above zero.")
        green, yellow = data.get("green_min"), data.get("yellow_min")
        if green is not None and yellow is not None and yellow > green:
            self.add_error("yellow_min", f"Must be at most the green threshold ({green}).")
        return data


def _formula_context(form: FormulaForm, history: list[HealthFormula]) -> dict:
    # No formula yet: show the defaults unsaved (GET writes nothing); the first save or the first
    # score run creates version 1.
    current = history[0] if history else HealthFormula(version=1)
    total = sum(current.weights().values())
    return {
        "form": form,
        "current": current,
        "current_saved": bool(history),
        "rows": [
            (health.LABELS[c], w, round(100 * w / total) if total else 0)
            for c, w in current.weights().items()
        ],
        "history": history,
        "labels": [health.LABELS[c] for c in health.COMPONENTS],
        "section": "health-formula",
    }


@member_required("admin")
@GET_POST
def formula(request: HttpRequest) -> HttpResponse:
    history = list(HealthFormula.objects.order_by("-version"))
    if request.method == "POST":
        form = FormulaForm(request.POST)
        if form.is_valid():
            try:
                saved = health.new_formula_version(request.tenant, **form.cleaned_data)
            except health.FormulaError as exc:  # the service's own rules, should the form miss one
                form.add_error(None, str(exc))
            except IntegrityError:  # another admin saved the same version number first
                form.add_error(
                    None, "Someone saved a new version meanwhile. Review it below and save again."
                )
                history = list(HealthFormula.objects.order_by("-version"))
            else:
                messages.success(
                    request,
                    f"Version {saved.version} of the health formula is in force from now on.",
                )
                return redirect("health-settings:formula")
    else:
        current = history[0] if history else HealthFormula(version=1)
        form = FormulaForm(
            initial={
                **{f"w_{c}": w for c, w in current.weights().items()},
                "green_min": current.green_min,
                "yellow_min": current.yellow_min,
            }
        )
    return render(request, "health_settings/formula.html", _formula_context(form, history))


# --- Inputs: usage and support tickets --------------------------------------------------------


class UploadForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        error_messages={"required": "Choose a CSV file to upload."},
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1024 / 1024:.1f} MB; the limit is "
                f"{MAX_UPLOAD_BYTES // 1024 // 1024} MB. Split it into smaller files."
            )
        return upload


IMPORTS = {
    "usage": {
        "title": "Product usage",
        "run": health_inputs.import_usage,
        "columns": [
            ("customer", "Customer name, or the CRM record id of one of its onboardings"),
            ("date", "YYYY-MM-DD"),
            ("active_users", "Whole number of users active that day"),
        ],
        "example": "customer,date,active_users\nAcme Corp,2025-11-14,42",
    },
    "tickets": {
        "title": "Support tickets",
        "run": health_inputs.import_tickets,
        "columns": [
            ("customer", "Customer name, or the CRM record id of one of its onboardings"),
            ("ticket_id", "Your help desk's ticket id"),
            ("opened_at", "YYYY-MM-DD HH:MM, in your time zone unless it has an offset"),
            ("subject", "Optional"),
        ],
        "example": "customer,ticket_id,opened_at,subject\nAcme Corp,T-1042,2025-11-14 09:30,"
        "Cannot sign in",
    },
}


def _summary(title: str, report: health_inputs.IngestReport) -> str:
    return (
        f"{title}: {report.created} row{'s' if report.created != 1 else ''} added, "
        f"{report.updated} updated, {report.unchanged} unchanged."
    )


@member_required("admin", "csm")
@GET_POST
def inputs(request: HttpRequest) -> HttpResponse:
    forms_by_kind = {kind: UploadForm(prefix=kind) for kind in IMPORTS}
    row_errors: dict[str, list[health_inputs.RowError]] = {}
    if request.method == "POST":
        kind = request.POST.get("kind")
        if kind in IMPORTS:
            form = forms_by_kind[kind] = UploadForm(request.POST, request.FILES, prefix=kind)
            if form.is_valid():
                spec = IMPORTS[kind]
                try:
                    report = spec["run"](request.tenant, form.cleaned_data["file"].read())
                except health_inputs.UnreadableCsv as exc:
                    form.add_error("file", f"{exc} Nothing was imported.")
                else:
                    if report.ok:
                        messages.success(request, _summary(spec["title"], report))
                        return redirect("health-settings:inputs")
                    row_errors[kind] = report.errors
                    form.add_error(
                        "file",
                        f"Nothing was imported: {len(report.errors)} problem"
                        f"{'s' if len(report.errors) != 1 else ''} in the file, listed below.",
                    )
    sections = [
        {"kind": kind, "form": forms_by_kind[kind], "errors": row_errors.get(kind, []), **spec}
        for kind, spec in IMPORTS.items()
    ]
    return render(
        request,
        "health_settings/inputs.html",
        {
            "sections": sections,
            "max_mb": MAX_UPLOAD_BYTES // 1024 // 1024,
            "section": "health-inputs",
        },
    )
