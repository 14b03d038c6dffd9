"""Tenant settings pages for admins: branding (with a live preview), key contacts, FAQ, domains,
the reminder schedule.

Every page is admin-only (`member_required("admin")`: anyone else gets the 404 a missing page
gets), every object is looked up inside the tenant's scope (another tenant's id is simply not
found), and every form works without JavaScript: POST, then redirect, then GET.

The one exception to admin-only is a key contact's photo: the portal shows it to the tenant's
client users too, so any signed-in user of this tenant (member or invited client) may fetch it.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from onboarding import selectors
from onboarding.models import (
    Customer,
    FaqEntry,
    KeyContact,
    Milestone,
    Onboarding,
    Task,
)
from onboarding.selectors import PortalPage, has_portal_access, next_client_step, portal_page

from . import services_branding as services
from . import services_reminders
from .access import member_required, membership_of
from .branding import text_colour_on
from .domain_verification import RECORD_PREFIX
from .forms import BrandingForm, DomainForm, FaqEntryForm, KeyContactForm, ReminderSettingsForm
from .models import Tenant

PREVIEW_FIELDS = (
    "portal_name",
    "primary_color",
    "accent_color",
    "welcome_message",
    "welcome_video_url",
    "email_sender_name",
)
GET_POST = require_http_methods(["GET", "POST"])
phases_of = getattr(selectors, "phases_of", None)  # the portal's phase strip, where it has one


def _direction(request: HttpRequest) -> str | None:
    value = request.POST.get("direction")
    return value if value in ("up", "down") else None


# --- Branding -------------------------------------------------------------------------------------


@member_required("admin")
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return redirect("settings:branding")


@member_required("admin")
@GET_POST
def branding(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    preview_url = reverse("settings:branding-preview")
    if request.method == "POST":
        # A fresh row: validating a ModelForm writes accepted values onto its instance, and the
        # page re-rendered with errors must still show the saved branding around the form.
        form = BrandingForm(request.POST, request.FILES, instance=Tenant.objects.get(pk=tenant.pk))
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.update_branding(
                    tenant,
                    **{name: data[name] for name in PREVIEW_FIELDS},
                    logo=data["logo"],
                    remove_logo=data["remove_logo"],
                )
            except ValidationError as exc:  # a rule the form did not catch: show it, save nothing
                form.add_error(None, exc)
            else:
                messages.success(request, "Branding saved. Your portal and emails use it now.")
                return redirect("settings:branding")
        query = {name: request.POST[name] for name in PREVIEW_FIELDS if name in request.POST}
        preview_url += "?" + urlencode(query)
    else:
        form = BrandingForm(instance=tenant)
    return render(
        request,
        "settings/branding.html",
        {"form": form, "preview_url": preview_url, "section": "branding"},
    )


def _empty_value(annotation: str, today: dt.date):
    """A neutral value for a PortalPage field the sample does not fill, from its annotation."""
    annotation = str(annotation).replace(" ", "")
    if annotation.startswith("list"):
        return []
    if annotation == "int":
        return 0
    if annotation == "bool":
        return False
    if annotation.endswith("date"):
        return today
    return None


def _sample_page(tenant: Tenant) -> PortalPage:
    """A made-up onboarding for tenants that have none yet. Nothing here is saved.

    Built from PortalPage's fields by name, so a field added to the portal's page later gets an
    empty value here instead of breaking the preview.
    """
    today = tenant.local_today()

    def day(n: int) -> dt.date:
        return today + dt.timedelta(days=n)

    onboarding = Onboarding(
        tenant=tenant,
        customer=Customer(name="Example Customer Ltd"),
        name="Example Customer rollout",
        model="mid",
        status=Onboarding.Status.SETUP,
        start_date=day(-14),
    )
    kickoff = Milestone(name="Kickoff", due_date=day(-7), success_criteria="Goals confirmed.")
    live = Milestone(name="Go-live", due_date=day(30), success_criteria="First team live.")
    kickoff.task_total, kickoff.task_done, kickoff.state = 2, 2, "done"
    live.task_total, live.task_done, live.state = 2, 0, "next"
    tasks = [
        Task(title="Kickoff call", owner_side="vendor", due_date=day(-7), status="complete"),
        Task(title="Confirm goals", owner_side="customer", due_date=day(-6), status="complete"),
        Task(title="Share your SSO metadata", owner_side="customer", due_date=day(5)),
        Task(title="Configure integrations", owner_side="vendor", due_date=day(20)),
    ]
    # Never saved; the ids only let the portal template build its links (they lead nowhere).
    onboarding.pk = onboarding.customer.pk = 0
    for position, obj in enumerate([*tasks, kickoff, live]):
        obj.pk = obj.position = position
    known = {
        "onboarding": onboarding,
        "tasks": tasks,
        "milestones": [kickoff, live],
        "key_contacts": list(KeyContact.objects.all()),
        "faqs": list(FaqEntry.objects.all()),
        "next_step": next_client_step(tasks),
        "progress": 50,
        "tasks_done": 2,
        "today": today,
    }
    if phases_of is not None:
        known["phases"] = phases_of(onboarding)
    values = {}
    for field in dataclasses.fields(PortalPage):
        if field.name in known:
            values[field.name] = known[field.name]
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            values[field.name] = _empty_value(field.type, today)
    return PortalPage(**values)


@member_required("admin")
@require_GET
@never_cache
def branding_preview(request: HttpRequest) -> HttpResponse:
    """The real portal page, with the saved branding overridden by valid GET parameters.

    The parameters go through the same form as a save; a field that fails keeps its saved value.
    Nothing is written: the tenant shown is an in-memory copy.
    """
    saved = request.tenant
    form = BrandingForm(request.GET, instance=copy.copy(saved))
    form.is_valid()
    preview = copy.copy(saved)
    for name in PREVIEW_FIELDS:
        if name in request.GET and name in form.cleaned_data and name not in form.errors:
            setattr(preview, name, form.cleaned_data[name])
    latest = Onboarding.objects.select_related("customer").order_by("-start_date", "-id").first()
    page = portal_page(latest, request.user) if latest else _sample_page(saved)
    context = {
        "page": page,
        # Explicit context wins over the `tenant` context processor (base.html's colours).
        "tenant": preview,
        "brand_primary": preview.primary_color,
        "brand_accent": preview.accent_color,
        "brand_text": text_colour_on(preview.primary_color),
        "key_contacts": list(KeyContact.objects.all()),
        "welcome_snippet": "portal/_welcome.html",
        "key_contacts_snippet": "portal/_key_contacts.html",
        "is_preview": True,
        # The header as the customer sees it: their name, not the admin's.
        "person_name": _preview_person(latest),
    }
    return render(request, "portal/onboarding.html", context)


def _preview_person(onboarding: Onboarding | None) -> str:
    contact = (
        onboarding.contacts.filter(side="customer").order_by("-is_primary", "name").first()
        if onboarding
        else None
    )
    return contact.name if contact else "Your customer"


# --- Key contacts ---------------------------------------------------------------------------------


def _contact_or_404(key_contact_id: int) -> KeyContact:
    contact = KeyContact.objects.filter(pk=key_contact_id).first()  # scoped to the tenant
    if contact is None:
        raise Http404
    return contact


def _contact_values(data: dict) -> dict:
    return {name: data[name] for name in ("name", "role", "email", "phone")}


@member_required("admin")
@GET_POST
def contacts(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = KeyContactForm(request.POST, request.FILES)
        if form.is_valid():
            data = form.cleaned_data
            contact = services.add_key_contact(
                request.tenant, **_contact_values(data), photo=data["photo"]
            )
            messages.success(request, f"{contact.name} added to your key contacts.")
            return redirect("settings:contacts")
    else:
        form = KeyContactForm()
    return render(
        request,
        "settings/contacts.html",
        {"form": form, "key_contacts": list(KeyContact.objects.all()), "section": "contacts"},
    )


@member_required("admin")
@GET_POST
def contact_edit(request: HttpRequest, key_contact_id: int) -> HttpResponse:
    contact = _contact_or_404(key_contact_id)
    if request.method == "POST":
        form = KeyContactForm(request.POST, request.FILES, instance=_contact_or_404(key_contact_id))
        if form.is_valid():
            data = form.cleaned_data
            services.update_key_contact(
                request.tenant,
                contact.pk,
                **_contact_values(data),
                photo=data["photo"],
                remove_photo=data["remove_photo"],
            )
            messages.success(request, f"{data['name']} saved.")
            return redirect("settings:contacts")
    else:
        form = KeyContactForm(instance=contact)
    return render(
        request,
        "settings/contact_edit.html",
        {"form": form, "contact": contact, "section": "contacts"},
    )


@member_required("admin")
@GET_POST
def contact_delete(request: HttpRequest, key_contact_id: int) -> HttpResponse:
    contact = _contact_or_404(key_contact_id)
    if request.method == "POST":
        services.delete_key_contact(request.tenant, contact.pk)
        messages.success(request, f"{contact.name} removed from your key contacts.")
        return redirect("settings:contacts")
    return render(
        request,
        "settings/confirm_delete.html",
        {
            "what": f"the key contact {contact.name}",
            "cancel_url": reverse("settings:contacts"),
            "section": "contacts",
        },
    )


@member_required("admin")
@require_POST
def contact_move(request: HttpRequest, key_contact_id: int) -> HttpResponse:
    contact = _contact_or_404(key_contact_id)
    if direction := _direction(request):
        services.move_key_contact(request.tenant, contact.pk, direction)
    return redirect("settings:contacts")


@require_GET
def contact_photo(request: HttpRequest, key_contact_id: int) -> HttpResponse:
    """A key contact's photo for any signed-in user of this tenant: members and client users.

    Stored photos are PNGs re-encoded on upload, so the type is known, not guessed.
    """
    user = request.user
    allowed = user.is_authenticated and (
        membership_of(request) is not None or has_portal_access(user)
    )
    if not allowed:
        raise Http404
    contact = _contact_or_404(key_contact_id)
    if not contact.photo:
        raise Http404
    response = FileResponse(contact.photo.open("rb"), content_type="image/png")
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=300"
    return response


# --- FAQ ------------------------------------------------------------------------------------------


def _faq_or_404(faq_id: int) -> FaqEntry:
    entry = FaqEntry.objects.filter(pk=faq_id).first()  # scoped to the tenant
    if entry is None:
        raise Http404
    return entry


@member_required("admin")
@GET_POST
def faq(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = FaqEntryForm(request.POST)
        if form.is_valid():
            services.add_faq(request.tenant, **form.cleaned_data)
            messages.success(request, "Question added.")
            return redirect("settings:faq")
    else:
        form = FaqEntryForm()
    return render(
        request,
        "settings/faq.html",
        {"form": form, "entries": list(FaqEntry.objects.all()), "section": "faq"},
    )


@member_required("admin")
@GET_POST
def faq_edit(request: HttpRequest, faq_id: int) -> HttpResponse:
    entry = _faq_or_404(faq_id)
    if request.method == "POST":
        form = FaqEntryForm(request.POST, instance=_faq_or_404(faq_id))
        if form.is_valid():
            services.update_faq(request.tenant, entry.pk, **form.cleaned_data)
            messages.success(request, "Question saved.")
            return redirect("settings:faq")
    else:
        form = FaqEntryForm(instance=entry)
    return render(
        request, "settings/faq_edit.html", {"form": form, "entry": entry, "section": "faq"}
    )


@member_required("admin")
@GET_POST
def faq_delete(request: HttpRequest, faq_id: int) -> HttpResponse:
    entry = _faq_or_404(faq_id)
    if request.method == "POST":
        services.delete_faq(request.tenant, entry.pk)
        messages.success(request, "Question deleted.")
        return redirect("settings:faq")
    return render(
        request,
        "settings/confirm_delete.html",
        {
            "what": f"the question “{entry.question}”",
            "cancel_url": reverse("settings:faq"),
            "section": "faq",
        },
    )


@member_required("admin")
@require_POST
def faq_move(request: HttpRequest, faq_id: int) -> HttpResponse:
    entry = _faq_or_404(faq_id)
    if direction := _direction(request):
        services.move_faq(request.tenant, entry.pk, direction)
    return redirect("settings:faq")


# --- Custom domains -------------------------------------------------------------------------------


def _domain_or_404(request: HttpRequest, domain_id: int):
    domain = request.tenant.domains.filter(pk=domain_id).first()
    if domain is None:
        raise Http404
    return domain


@member_required("admin")
@GET_POST
def domains(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    if request.method == "POST":
        form = DomainForm(request.POST, tenant=tenant)
        if form.is_valid():
            try:
                domain = services.add_domain(tenant, form.cleaned_data["domain"])
            except ValidationError as exc:  # lost a race for the name: same message
                form.add_error(None, exc)
            else:
                messages.success(
                    request,
                    f"{domain.domain} added. Create its two DNS records (below), then verify it.",
                )
                return redirect("settings:domains")
    else:
        form = DomainForm(tenant=tenant)
    domain_list = list(tenant.domains.order_by("domain"))
    return render(
        request,
        "settings/domains.html",
        {
            "form": form,
            "domains": domain_list,
            "has_primary": any(d.is_primary for d in domain_list),
            "dns_target": services.dns_target(tenant),
            "record_prefix": RECORD_PREFIX,
            "rechecks_before_loss": services.RECHECKS_BEFORE_LOSS,
            "canonical_host": tenant.canonical_host,
            "section": "domains",
        },
    )


@member_required("admin")
@GET_POST
def domain_remove(request: HttpRequest, domain_id: int) -> HttpResponse:
    domain = _domain_or_404(request, domain_id)
    if request.method == "POST":
        services.remove_domain(request.tenant, domain.pk)
        messages.success(request, f"{domain.domain} removed. It no longer opens your portal.")
        return redirect("settings:domains")
    return render(
        request,
        "settings/confirm_delete.html",
        {
            "what": f"the domain {domain.domain}",
            "consequence": "Requests to it will no longer reach your portal"
            + ("; emailed links will use your subdomain." if domain.is_primary else "."),
            "cancel_url": reverse("settings:domains"),
            "section": "domains",
        },
    )


def _domain_action(request: HttpRequest, domain_id: int, action, done: str, refused: str):
    """Run a service on one of this tenant's domains; its refusal is shown, not raised."""
    domain = _domain_or_404(request, domain_id)
    try:
        action(request.tenant, domain.pk)
    except ValidationError as exc:
        messages.error(request, f"{refused.format(domain.domain)} {' '.join(exc.messages)}")
    else:
        messages.success(request, done.format(domain.domain))
    return redirect("settings:domains")


@member_required("admin")
@require_POST
def domain_primary(request: HttpRequest, domain_id: int) -> HttpResponse:
    return _domain_action(
        request,
        domain_id,
        services.set_primary_domain,
        done="Emailed links now point to {}.",
        refused="{} is not primary.",
    )


@member_required("admin")
@require_POST
def domain_verify(request: HttpRequest, domain_id: int) -> HttpResponse:
    return _domain_action(
        request,
        domain_id,
        services.verify_domain,
        done="{} is verified: it opens your portal now.",
        refused="{} is not verified.",
    )


@member_required("admin")
@require_POST
def domain_primary_clear(request: HttpRequest) -> HttpResponse:
    services.set_primary_domain(request.tenant, None)
    messages.success(request, "Emailed links now point to your subdomain.")
    return redirect("settings:domains")


# --- Reminders ------------------------------------------------------------------------------------


@member_required("admin")
@GET_POST
def reminders(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    if request.method == "POST":
        # A fresh row, so a refused form does not show its rejected values as the saved ones.
        form = ReminderSettingsForm(request.POST, instance=Tenant.objects.get(pk=tenant.pk))
        if form.is_valid():
            try:
                services_reminders.update_reminder_settings(tenant, form.cleaned_data, request.user)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, "Reminder settings saved. The next digests use them.")
                return redirect("settings:reminders")
    else:
        form = ReminderSettingsForm(instance=tenant)
    status = 400 if form.errors else 200
    return render(
        request, "settings/reminders.html", {"form": form, "section": "reminders"}, status=status
    )
