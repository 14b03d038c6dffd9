"""The client portal: what a customer's invited stakeholders see on the vendor's host.

Every view that names an onboarding looks it up among the onboardings the signed-in user was
invited to (in the tenant of the host), and every object under it through that onboarding, so a
foreign, a missing and a forbidden object all answer the same 404. Writes are plain forms:
POST, then redirect to a page (or the page again with the errors next to their fields).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.core.exceptions import ValidationError
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
)
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from accounts.access import client_required, membership_of
from accounts.content_safety import MAX_ATTACHMENT_BYTES
from accounts.services import find_sign_in_link, redeem_sign_in_link
from onboarding import ics
from onboarding.downloads import attachment_response
from onboarding.form_handling import apply_errors
from onboarding.models import Onboarding, Side, Task, TaskAttachment, TrainingResource
from onboarding.selectors import (
    client_onboardings,
    client_onboardings_with_progress,
    client_task_page,
    portal_page,
)
from onboarding.services import comments as comment_services
from onboarding.services import portal as portal_services
from onboarding.services.portal import NotAllowed
from onboarding.services.tasks import StaleVersion

WELCOME_SNIPPET = "portal/_welcome.html"
KEY_CONTACTS_SNIPPET = "portal/_key_contacts.html"


# --- Forms ---------------------------------------------------------------------------------------


class TaskStatusForm(forms.Form):
    status = forms.ChoiceField(choices=Task.Status.choices, widget=forms.RadioSelect)
    blocked_reason = forms.CharField(
        required=False,
        max_length=portal_services.MAX_BLOCKED_REASON_CHARS,
        label="If blocked: what blocks it?",
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    version = forms.IntegerField(required=False, widget=forms.HiddenInput)


class CommentForm(forms.Form):
    body = forms.CharField(
        label="Add a comment",
        max_length=portal_services.MAX_COMMENT_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class AttachmentForm(forms.Form):
    file = forms.FileField(
        label="Attach a file",
        help_text=f"Up to {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB.",
        widget=forms.FileInput(attrs={"data-max-bytes": MAX_ATTACHMENT_BYTES}),
    )


class NpsForm(forms.Form):
    score = forms.TypedChoiceField(
        choices=[(i, str(i)) for i in range(11)], coerce=int, widget=forms.RadioSelect
    )
    comment = forms.CharField(
        required=False,
        label="What is the main reason for your score? (optional)",
        max_length=portal_services.MAX_COMMENT_CHARS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


# --- Lookups: always through the user's own onboardings -------------------------------------------


def _onboarding_or_404(request: HttpRequest, onboarding_id: int) -> Onboarding:
    onboarding = client_onboardings(request.user).filter(pk=onboarding_id).first()
    if onboarding is None:
        raise Http404
    return onboarding


def _customer_task_or_404(onboarding: Onboarding, task_id: int) -> Task:
    """A task the client may change. Vendor-side tasks answer exactly like missing ones."""
    task = (
        onboarding.tasks.select_related("onboarding")
        .filter(pk=task_id, owner_side=Side.CUSTOMER)
        .first()
    )
    if task is None:
        raise Http404
    return task


def _optional_template(name: str) -> str | None:
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return None
    return name


def _onboarding_url(onboarding: Onboarding, fragment: str = "") -> str:
    url = reverse("portal:onboarding", kwargs={"onboarding_id": onboarding.pk})
    return f"{url}#{fragment}" if fragment else url


def _task_url(onboarding: Onboarding, task_id: int, fragment: str = "") -> str:
    url = reverse("portal:task", kwargs={"onboarding_id": onboarding.pk, "task_id": task_id})
    return f"{url}#{fragment}" if fragment else url


# --- Pages ---------------------------------------------------------------------------------------


def home(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return redirect("account_login")
    if membership_of(request) is not None:
        return redirect("workspace:onboardings")
    return redirect("portal:index")


@client_required
def portal_index(request: HttpRequest) -> HttpResponse:
    onboardings = client_onboardings_with_progress(request.user)
    if len(onboardings) == 1:
        return redirect("portal:onboarding", onboarding_id=onboardings[0].pk)
    return render(request, "portal/index.html", {"onboardings": onboardings})


def _render_onboarding(
    request: HttpRequest,
    onboarding: Onboarding,
    *,
    nps_form: NpsForm | None = None,
    status: int = 200,
) -> HttpResponse:
    page = portal_page(onboarding, request.user)
    context = {
        "page": page,
        "key_contacts": page.key_contacts,
        "nps_form": nps_form or NpsForm(),
        "welcome_snippet": _optional_template(WELCOME_SNIPPET),
        "key_contacts_snippet": _optional_template(KEY_CONTACTS_SNIPPET),
    }
    return render(request, "portal/onboarding.html", context, status=status)


@client_required
def portal_onboarding(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = _onboarding_or_404(request, onboarding_id)
    if request.method == "GET":
        portal_services.record_event(request.user, "visit", onboarding)
    return _render_onboarding(request, onboarding)


def _render_task(
    request: HttpRequest,
    onboarding: Onboarding,
    task_id: int,
    *,
    status_form: TaskStatusForm | None = None,
    comment_form: CommentForm | None = None,
    attachment_form: AttachmentForm | None = None,
    status_conflict: str = "",
    status: int = 200,
) -> HttpResponse:
    page = client_task_page(onboarding, task_id)
    if page is None:
        raise Http404
    task = page.task
    if status_form is None:
        status_form = TaskStatusForm(
            initial={
                "status": task.status,
                "blocked_reason": task.blocked_reason,
                "version": task.version,
            }
        )
    context = {
        "onboarding": onboarding,
        "page": page,
        "task": task,
        "status_form": status_form,
        "status_conflict": status_conflict,
        "comment_form": comment_form or CommentForm(),
        "attachment_form": attachment_form or AttachmentForm(),
    }
    return render(request, "portal/task.html", context, status=status)


@client_required
def task_detail(request: HttpRequest, onboarding_id: int, task_id: int) -> HttpResponse:
    onboarding = _onboarding_or_404(request, onboarding_id)
    response = _render_task(request, onboarding, task_id)
    if request.method == "GET":  # a reminder's link may land here first: a visit all the same
        portal_services.record_event(request.user, "visit", onboarding)
    return response


@client_required
def task_status(request: HttpRequest, onboarding_id: int, task_id: int) -> HttpResponse:
    onboarding = _onboarding_or_404(request, onboarding_id)
    task = _customer_task_or_404(onboarding, task_id)
    if request.method != "POST":
        return redirect(_task_url(onboarding, task.pk))
    form = TaskStatusForm(request.POST)
    back_to_plan = request.POST.get("next") == "plan"
    if form.is_valid():
        try:
            task = portal_services.client_update_task_status(
                request.user,
                task,
                status=form.cleaned_data["status"],
                blocked_reason=form.cleaned_data["blocked_reason"],
                expected_version=form.cleaned_data["version"],
            )
        except NotAllowed as exc:
            raise Http404 from exc
        except StaleVersion as exc:
            current = exc.current
            form = TaskStatusForm(
                initial={
                    "status": current.status,
                    "blocked_reason": current.blocked_reason,
                    "version": current.version,
                }
            )
            conflict = (
                "Someone changed this task since you opened it. It is now "
                f"“{current.get_status_display()}”. Check it and save again."
            )
            return _render_task(
                request, onboarding, task.pk, status_form=form, status_conflict=conflict, status=409
            )
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, f"“{task.title}” is now {task.get_status_display().lower()}.")
            if back_to_plan:
                return redirect(_onboarding_url(onboarding))
            return redirect(_task_url(onboarding, task.pk))
    return _render_task(request, onboarding, task.pk, status_form=form, status=400)


@client_required
def task_comment(request: HttpRequest, onboarding_id: int, task_id: int) -> HttpResponse:
    onboarding = _onboarding_or_404(request, onboarding_id)
    task = _customer_task_or_404(onboarding, task_id)
    if request.method != "POST":
        return redirect(_task_url(onboarding, task.pk, "comments"))
    form = CommentForm(request.POST)
    if form.is_valid():
        try:
            # The portal's rules, an activity entry, and the owning CSM told by email.
            comment_services.add_client_comment(request.user, task, form.cleaned_data["body"])
        except NotAllowed as exc:
            raise Http404 from exc
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Your comment was added.")
            return redirect(_task_url(onboarding, task.pk, "comments"))
    return _render_task(request, onboarding, task.pk, comment_form=form, status=400)


@client_required
def task_attachment(request: HttpRequest, onboarding_id: int, task_id: int) -> HttpResponse:
    onboarding = _onboarding_or_404(request, onboarding_id)
    task = _customer_task_or_404(onboarding, task_id)
    if request.method != "POST":
        return redirect(_task_url(onboarding, task.pk, "files"))
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            portal_services.add_attachment(request.user, task, form.cleaned_data["file"])
        except NotAllowed as exc:
            raise Http404 from exc
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Your file was attached.")
            return redirect(_task_url(onboarding, task.pk, "files"))
    return _render_task(request, onboarding, task.pk, attachment_form=form, status=400)


@client_required
def attachment_download(
    request: HttpRequest, onboarding_id: int, attachment_id: int
) -> HttpResponse:
    """A task's file, always as a download, with a type the server worked out from its bytes."""
    onboarding = _onboarding_or_404(request, onboarding_id)
    attachment = TaskAttachment.objects.filter(
        pk=attachment_id, task__onboarding=onboarding
    ).first()
    if attachment is None or request.method not in ("GET", "HEAD"):
        raise Http404
    return attachment_response(attachment)


def _resource_or_404(onboarding: Onboarding, resource_id: int) -> TrainingResource:
    resource = onboarding.training_resources.filter(pk=resource_id).first()
    if resource is None:
        raise Http404
    return resource


@client_required
def training_done(request: HttpRequest, onboarding_id: int, resource_id: int) -> HttpResponse:
    onboarding = _onboarding_or_404(request, onboarding_id)
    resource = _resource_or_404(onboarding, resource_id)
    if request.method == "POST":
        try:
            portal_services.mark_training_done(request.user, resource)
        except NotAllowed as exc:
            raise Http404 from exc
        messages.success(request, f"“{resource.title}” is marked as done.")
    return redirect(_onboarding_url(onboarding, f"resource-{resource.pk}"))


@client_required
def training_open(request: HttpRequest, onboarding_id: int, resource_id: int) -> HttpResponse:
    """Count the open, then send the browser on to the resource itself."""
    onboarding = _onboarding_or_404(request, onboarding_id)
    resource = _resource_or_404(onboarding, resource_id)
    if request.method != "GET" or not resource.url:
        return redirect(_onboarding_url(onboarding, f"resource-{resource.pk}"))
    portal_services.record_event(request.user, "resource_open", onboarding, resource=resource)
    return HttpResponseRedirect(resource.url)


@client_required
def nps(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = _onboarding_or_404(request, onboarding_id)
    if request.method != "POST":
        return redirect(_onboarding_url(onboarding, "nps"))
    form = NpsForm(request.POST)
    if form.is_valid():
        try:
            portal_services.answer_nps(
                request.user, onboarding, form.cleaned_data["score"], form.cleaned_data["comment"]
            )
        except NotAllowed as exc:
            raise Http404 from exc
        except ValidationError as exc:
            apply_errors(form, exc)
        else:
            messages.success(request, "Thank you for your answer.")
            return redirect(_onboarding_url(onboarding, "nps"))
    return _render_onboarding(request, onboarding, nps_form=form, status=400)


@client_required
def milestones_ics(request: HttpRequest, onboarding_id: int) -> HttpResponse:
    onboarding = _onboarding_or_404(request, onboarding_id)
    body = ics.milestones_ics(onboarding, request.tenant)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="milestones-{onboarding.pk}.ics"'
    response["Cache-Control"] = "private, no-cache"
    return response


# --- Signing in ----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest, token: str) -> HttpResponse:
    """GET only shows a button, so mail scanners that fetch links do not use them up."""
    if request.method == "GET":
        if find_sign_in_link(token) is None:
            return render(request, "portal/link_invalid.html", status=404)
        return render(request, "portal/sign_in.html")
    user = redeem_sign_in_link(token)
    if user is None:
        return render(request, "portal/link_invalid.html", status=404)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    portal_services.record_sign_in(user)
    return redirect("portal:index")


def brand_logo(request: HttpRequest) -> HttpResponse:
    tenant = request.tenant
    if not tenant.logo:
        raise Http404
    response = FileResponse(tenant.logo.open("rb"), content_type="image/png")
    response["Cache-Control"] = "public, max-age=300"
    response["Content-Disposition"] = "inline"
    return response
