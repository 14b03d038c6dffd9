"""Tenant settings forms: branding, key contacts, FAQ entries and custom domains.

Every rule comes from accounts.content_safety; these forms only attach its messages to the field
they concern, so the page shows each error next to its input. A form never saves anything itself:
the views hand `cleaned_data` to accounts.services_branding.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import MinValueValidator

from onboarding.models import FaqEntry, KeyContact

from .content_safety import (
    clean_domain_name,
    clean_hex_colour,
    clean_one_line,
    clean_phone,
    clean_sender_name,
    fit_png,
    reencode_image,
    video_embed_url,
)
from .models import Tenant, TenantDomain, time_zone_names
from .services_reminders import FIELDS as REMINDER_FIELDS

WCAG_AA = 4.5
LOGO_BOX = 1024  # a logo is shown at most a few hundred pixels wide; larger is wasted bytes
PHOTO_BOX = 512
WELCOME_MAX_CHARS = 5000
IMAGE_ACCEPT = "image/png,image/jpeg,image/webp"
DOMAIN_TAKEN = "This domain is not available."


class ColourInput(forms.TextInput):
    """A native colour picker; the browser only ever submits #rrggbb, the server checks anyway."""

    input_type = "color"


def clean_brand_colour(value: str) -> str:
    # Any #rrggbb will do: text_colour_on() picks black or white, and one of the two always
    # reaches WCAG AA (4.5:1) on any colour (tests/test_branding.py checks the whole range).
    return clean_hex_colour(value)


def clean_uploaded_image(upload, *, box: int):
    """A new upload, decoded, re-encoded as PNG and fitted; None when nothing was uploaded."""
    if not isinstance(upload, UploadedFile):
        return None
    return fit_png(reencode_image(upload), box=box)


class BrandingForm(forms.ModelForm):
    primary_color = forms.CharField(
        label="Brand colour",
        widget=ColourInput,
        help_text="Bars and buttons. Text on it is dark or light, whichever is readable.",
    )
    accent_color = forms.CharField(
        label="Accent colour", widget=ColourInput, help_text="Highlights such as the next step."
    )
    logo = forms.FileField(
        required=False,
        widget=forms.FileInput(attrs={"accept": IMAGE_ACCEPT}),
        help_text="PNG, JPEG or WebP, up to 2 MB and 4000 pixels a side. Shown after saving.",
    )
    remove_logo = forms.BooleanField(required=False, label="Remove the current logo")
    welcome_message = forms.CharField(
        required=False,
        max_length=WELCOME_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text="Markdown: **bold**, *italic*, lists, [links](https://example.com).",
    )
    welcome_video_url = forms.CharField(
        required=False,
        max_length=500,
        label="Welcome video",
        help_text="A link to one video on YouTube, Vimeo or Loom.",
    )

    class Meta:
        model = Tenant
        fields = [
            "portal_name",
            "primary_color",
            "accent_color",
            "welcome_message",
            "welcome_video_url",
            "email_sender_name",
        ]
        labels = {"portal_name": "Portal name", "email_sender_name": "Email sender name"}
        help_texts = {
            "portal_name": "Shown to your customers. Empty: your company name.",
            "email_sender_name": "The From name of emails to your customers. Empty: portal name.",
        }

    def clean_portal_name(self) -> str:
        # It is also the email sender name when none is set, so it must fit in a header.
        return clean_one_line(self.cleaned_data["portal_name"])

    def clean_primary_color(self) -> str:
        return clean_brand_colour(self.cleaned_data["primary_color"])

    def clean_accent_color(self) -> str:
        return clean_brand_colour(self.cleaned_data["accent_color"])

    def clean_welcome_video_url(self) -> str:
        url = self.cleaned_data["welcome_video_url"].strip()
        if url:
            video_embed_url(url)  # raises with the message shown next to the field
        return url

    def clean_email_sender_name(self) -> str:
        return clean_sender_name(self.cleaned_data["email_sender_name"])

    def clean_logo(self):
        return clean_uploaded_image(self.cleaned_data.get("logo"), box=LOGO_BOX)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("logo") is not None and cleaned.get("remove_logo"):
            self.add_error("remove_logo", "Either upload a new logo or remove it, not both.")
        return cleaned


class KeyContactForm(forms.ModelForm):
    photo = forms.FileField(
        required=False,
        widget=forms.FileInput(attrs={"accept": IMAGE_ACCEPT}),
        help_text="PNG, JPEG or WebP, up to 2 MB and 4000 pixels a side.",
    )
    remove_photo = forms.BooleanField(required=False, label="Remove the current photo")

    class Meta:
        model = KeyContact
        fields = ["name", "role", "email", "phone"]
        help_texts = {"role": "E.g. Onboarding manager, Solutions engineer."}

    def clean_phone(self) -> str:
        return clean_phone(self.cleaned_data["phone"])

    def clean_photo(self):
        return clean_uploaded_image(self.cleaned_data.get("photo"), box=PHOTO_BOX)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("photo") is not None and cleaned.get("remove_photo"):
            self.add_error("remove_photo", "Either upload a new photo or remove it, not both.")
        return cleaned


class FaqEntryForm(forms.ModelForm):
    answer = forms.CharField(max_length=3000, widget=forms.Textarea(attrs={"rows": 4}))

    class Meta:
        model = FaqEntry
        fields = ["question", "answer"]


class DomainForm(forms.ModelForm):
    """One custom domain for `tenant`. A taken domain gets one message, whoever holds it."""

    domain = forms.CharField(
        max_length=300,
        help_text="A host name you control, such as portal.example.com.",
        widget=forms.TextInput(attrs={"autocapitalize": "none", "spellcheck": "false"}),
    )

    class Meta:
        model = TenantDomain
        fields = ["domain"]

    def __init__(self, *args, tenant: Tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def clean_domain(self) -> str:
        domain = clean_domain_name(self.cleaned_data["domain"], base_domain=settings.BASE_DOMAIN)
        # A verified name is held across tenants, so this reads every tenant's rows by design;
        # the answer is the same whether this tenant or another holds it. This tenant's own
        # claim is refused alike.
        if self.tenant.domains.filter(domain=domain).exists():
            raise ValidationError("You have added this domain already; verify it below.")
        if TenantDomain.objects.filter(domain=domain, verified_at__isnull=False).exists():
            raise ValidationError(DOMAIN_TAKEN)
        return domain

    def validate_unique(self) -> None:
        # The model's own unique check would name the conflict differently; clean_domain() and
        # the database constraint (in services_branding.add_domain) cover it with one message.
        pass


def _hour_label(hour: int) -> str:
    return f"{hour:02d}:00"


class ReminderSettingsForm(forms.ModelForm):
    """When the daily digest goes out and what it reminds of. Parsing only: the bounds are the
    model's validators, applied again by services_reminders.update_reminder_settings."""

    time_zone = forms.ChoiceField(
        label="Time zone",
        help_text="Due dates, the digest hour and the day-30/90 snapshots follow this calendar.",
    )
    digest_hour = forms.TypedChoiceField(
        label="Send the daily digest at",
        coerce=int,
        choices=[(h, _hour_label(h)) for h in range(24)],
        help_text="Local time. Each person gets at most one digest a day, grouping their items.",
    )

    class Meta:
        model = Tenant
        fields = list(REMINDER_FIELDS)
        labels = {
            "skip_weekends": "No digests on Saturdays and Sundays",
            "reminder_days_ahead": "Remind of tasks due within (days)",
            "overdue_repeat_days": "Remind of an overdue task again every (days)",
            "blocked_escalation_days": "Escalate a task blocked for more than (days)",
            "milestone_days_ahead": "Remind of milestones due within (days)",
        }
        help_texts = {
            "reminder_days_ahead": "Owners hear of a task this many days before it is due, and "
            "on the day.",
            "overdue_repeat_days": "Overdue tasks come back in the owner's digest at this "
            "interval until they are done.",
            "blocked_escalation_days": "Then the owning CSM and the onboarding's escalation "
            "contacts are told.",
            "milestone_days_ahead": "The CSM and the customer's primary contact hear of an "
            "upcoming milestone this many days ahead.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(z, z) for z in time_zone_names()]
        for name in (
            "reminder_days_ahead",
            "overdue_repeat_days",
            "blocked_escalation_days",
            "milestone_days_ahead",
        ):
            # The model's own bounds, so that -3 and 0 get the same answer (a positive integer
            # field alone would first say ">= 0").
            field, bounds = self.fields[name], Tenant._meta.get_field(name).validators
            lowest = next(v.limit_value for v in bounds if isinstance(v, MinValueValidator))
            field.validators = [v for v in field.validators if not isinstance(v, MinValueValidator)]
            field.min_value = lowest
            field.validators.append(MinValueValidator(field.min_value))
            field.widget.attrs.update({"min": field.min_value, "step": 1})
