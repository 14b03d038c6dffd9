"""The client half of the portal: the MAP, comments, files, training, NPS, calendar, engagement.

Every rule is checked through the HTTP surface a client user has (the Django test client on the
tenant's host), and the services and selectors behind it directly where numbers matter.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from icalendar import Calendar
from PIL import Image

from accounts.content_safety import MAX_ATTACHMENT_BYTES
from accounts.services import issue_sign_in_link
from onboarding.models import (
    Contact,
    Customer,
    EngagementEvent,
    KeyContact,
    Milestone,
    NpsResponse,
    Onboarding,
    Playbook,
    PortalAccess,
    Task,
    TaskAttachment,
    TaskComment,
    TrainingCompletion,
    TrainingResource,
)
from onboarding.selectors import engagement_summary
from onboarding.services import portal as portal_services
from onboarding.services.invitations import invite_contact
from onboarding.services.playbooks import start_onboarding
from portal.tenancy.context import tenant_context
from tests.conftest import client_for
from tests.factories import World

UTC = dt.UTC


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


# --- helpers -------------------------------------------------------------------------------------


def customer_tasks(world: World) -> list[Task]:
    with tenant_context(world.tenant):
        return list(
            Task.objects.filter(onboarding=world.onboarding, owner_side="customer").order_by(
                "due_date", "position", "id"
            )
        )


def vendor_task(world: World) -> Task:
    with tenant_context(world.tenant):
        return (
            Task.objects.filter(onboarding=world.onboarding, owner_side="vendor")
            .order_by("id")
            .first()
        )


def reload(world: World, obj):
    with tenant_context(world.tenant):
        return type(obj).objects.get(pk=obj.pk)


def task_url(world: World, task: Task, suffix: str = "") -> str:
    return f"/portal/o/{world.onboarding.pk}/tasks/{task.pk}/{suffix}"


def portal_client(world: World):
    return client_for(world, world.client)


def second_onboarding(world: World, *, customer_name: str | None = None, invite: bool = True):
    """Another onboarding in the same tenant: of the same customer, or of another customer."""
    with tenant_context(world.tenant):
        customer = Customer.objects.create(name=customer_name) if customer_name else world.customer
        onboarding = start_onboarding(
            customer=customer,
            playbook=Playbook.objects.get(model="low", is_default=True),
            start_date=world.onboarding.start_date,
            name=f"{customer.name} module two",
        )
        if invite:
            contact = Contact.objects.create(
                onboarding=onboarding, side="customer", name="Same person", email=world.client.email
            )
            invite_contact(world.tenant, contact, send_email=False)
        return onboarding


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(out, "PNG")
    return out.getvalue()


def close(world: World) -> None:
    with tenant_context(world.tenant):
        Onboarding.objects.filter(pk=world.onboarding.pk).update(status="closed")


# --- the next step and the page ------------------------------------------------------------------


def next_step_html(html: str) -> str:
    return html.split('data-testid="next-step"')[1].split("</div>")[0]


def test_next_step_is_the_earliest_open_customer_task_then_the_next_thing_to_watch(tenant_a):
    client = portal_client(tenant_a)
    url = f"/portal/o/{tenant_a.onboarding.pk}/"
    first = customer_tasks(tenant_a)[0]
    html = client.get(url).text
    assert first.title in next_step_html(html)
    assert "Your next step:" in next_step_html(html)

    # Nothing left on the customer's side: the page says so and names what to watch next.
    with tenant_context(tenant_a.tenant):
        Task.objects.filter(onboarding=tenant_a.onboarding, owner_side="customer").update(
            status="complete"
        )
        watch = (
            Task.objects.filter(onboarding=tenant_a.onboarding, owner_side="vendor")
            .order_by("due_date", "position", "id")
            .first()
        )
    html = client.get(url).text
    block = next_step_html(html)
    assert "Nothing is waiting on your side" in block
    assert f"Next to watch: {watch.title}" in block


def test_portal_page_shows_timeline_states_switch_and_calendar_link(tenant_a):
    with tenant_context(tenant_a.tenant):
        Onboarding.objects.filter(pk=tenant_a.onboarding.pk).update(status="setup")
        first_ms = tenant_a.onboarding.milestones.order_by("position").first()
        Milestone.objects.filter(pk=first_ms.pk).update(achieved_at=timezone.now())
    html = portal_client(tenant_a).get(f"/portal/o/{tenant_a.onboarding.pk}/").text
    # Phases: those before "Setup" done, Setup current, the rest upcoming.
    assert re.search(r'class="phase-done"[^>]*>.*?Pre-kickoff', html)
    assert re.search(r'class="phase-current" aria-current="step">.*?Setup', html)
    assert re.search(r'class="phase-upcoming"[^>]*>.*?Training', html)
    assert f'<time class="ms-date" datetime="{first_ms.due_date:%Y-%m-%d}"' in html
    assert 'class="ms ms-done"' in html
    assert f'href="/portal/o/{tenant_a.onboarding.pk}/milestones.ics"' in html
    assert "Overall progress" in html


def test_the_portal_names_the_vendor_by_its_name_and_itself_by_the_portal_name(tenant_a):
    tenant_a.tenant.portal_name = "Alpha Onboarding Hub"
    tenant_a.tenant.save()
    html = portal_client(tenant_a).get(f"/portal/o/{tenant_a.onboarding.pk}/").text
    assert "Alpha Onboarding Hub" in html  # the header: the portal's own name
    assert "Tasks owned by Alpha Corp are shown for reference" in html
    assert "Tasks owned by Alpha Onboarding Hub" not in html
    assert "Alpha Onboarding Hub is on it" not in html


def test_portal_pages_carry_no_inline_script_or_style(tenant_a):
    client = portal_client(tenant_a)
    task = customer_tasks(tenant_a)[0]
    second_onboarding(tenant_a)
    pages = [
        "/portal/",
        f"/portal/o/{tenant_a.onboarding.pk}/",
        task_url(tenant_a, task),
        task_url(tenant_a, vendor_task(tenant_a)),
    ]
    for path in pages:
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.text
        assert not re.search(r"\sstyle\s*=", html), f"inline style attribute on {path}"
        assert not re.search(r"\son[a-z]+\s*=", html), f"inline event handler on {path}"
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or "nonce=" in tag, (path, tag)
        for tag in re.findall(r"<style\b[^>]*>", html):
            assert "nonce=" in tag, (path, tag)
        csp = response["Content-Security-Policy"]
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'self'" in csp
        assert re.search(r"script-src 'self' 'nonce-[^']+'", csp)
        assert response["X-Content-Type-Options"] == "nosniff"


# --- the MAP: status ----------------------------------------------------------------------------


def test_client_updates_the_status_of_a_customer_task(tenant_a):
    client = portal_client(tenant_a)
    task = customer_tasks(tenant_a)[0]
    response = client.post(
        task_url(tenant_a, task, "status/"), {"status": "in_progress", "version": task.version}
    )
    assert response.status_code == 302 and response["Location"] == task_url(tenant_a, task)
    task = reload(tenant_a, task)
    assert task.status == "in_progress" and task.version == 2

    response = client.post(
        task_url(tenant_a, task, "status/"),
        {"status": "complete", "version": task.version, "next": "plan"},
    )
    assert response["Location"] == f"/portal/o/{tenant_a.onboarding.pk}/"
    task = reload(tenant_a, task)
    assert task.status == "complete" and task.completed_at is not None and task.version == 3
    page = client.get(response["Location"]).text
    assert "is now complete" in page  # the confirmation after the redirect

    response = client.post(
        task_url(tenant_a, task, "status/"), {"status": "not_started", "version": 3}
    )
    task = reload(tenant_a, task)
    assert task.status == "not_started" and task.completed_at is None


def test_blocked_needs_a_reason_shown_next_to_the_field(tenant_a):
    client = portal_client(tenant_a)
    task = customer_tasks(tenant_a)[0]
    response = client.post(
        task_url(tenant_a, task, "status/"),
        {"status": "blocked", "blocked_reason": "   ", "version": task.version},
    )
    assert response.status_code == 400
    html = response.text
    field = html.split('id="blocked-reason-field"')[1].split("</p>")[0]
    assert "Say what blocks the task." in field  # the rule's message, from services.tasks
    assert 'aria-invalid="true"' in field
    assert 'aria-describedby="id_blocked_reason_error"' in field
    assert 'id="id_blocked_reason_error"' in field
    assert re.search(r'value="blocked"[^>]*checked', html)  # the choice is kept
    assert reload(tenant_a, task).status == "not_started"

    response = client.post(
        task_url(tenant_a, task, "status/"),
        {"status": "blocked", "blocked_reason": "Waiting for IT", "version": task.version},
    )
    assert response.status_code == 302
    task = reload(tenant_a, task)
    assert (task.status, task.blocked_reason) == ("blocked", "Waiting for IT")
    page = client.get(f"/portal/o/{tenant_a.onboarding.pk}/").text
    assert "Blocked: Waiting for IT" in page


def test_unknown_status_and_stale_version_are_refused(tenant_a):
    client = portal_client(tenant_a)
    task = customer_tasks(tenant_a)[0]
    response = client.post(task_url(tenant_a, task, "status/"), {"status": "archived"})
    assert response.status_code == 400
    assert reload(tenant_a, task).version == 1

    with tenant_context(tenant_a.tenant):
        portal_services.client_update_task_status(
            tenant_a.client, reload(tenant_a, task), status="in_progress"
        )
    response = client.post(
        task_url(tenant_a, task, "status/"), {"status": "complete", "version": 1}
    )
    assert response.status_code == 409
    assert "Someone changed this task since you opened it" in response.text
    task = reload(tenant_a, task)
    assert task.status == "in_progress" and task.version == 2


def test_vendor_side_tasks_are_read_only_and_refused_like_missing_ones(tenant_a):
    client = portal_client(tenant_a)
    task = vendor_task(tenant_a)
    page = client.get(task_url(tenant_a, task))
    assert page.status_code == 200
    assert "/status/" not in page.text and "/comments/" not in page.text
    assert "its status is updated by their team" in page.text
    plan = client.get(f"/portal/o/{tenant_a.onboarding.pk}/").text
    assert f"/tasks/{task.pk}/status/" not in plan

    missing = Task(pk=999_999_999)
    for suffix, data in (
        ("status/", {"status": "complete"}),
        ("comments/", {"body": "hi"}),
        ("attachments/", {"file": SimpleUploadedFile("a.pdf", b"%PDF-1.4 x")}),
    ):
        refused = client.post(task_url(tenant_a, task, suffix), data)
        absent = client.post(task_url(tenant_a, missing, suffix), data)
        assert refused.status_code == absent.status_code == 404, suffix
        assert refused.content == absent.content
    task_after = reload(tenant_a, task)
    assert task_after.status == task.status and task_after.version == task.version
    with tenant_context(tenant_a.tenant):
        assert not TaskComment.objects.exists() and not TaskAttachment.objects.exists()
        with pytest.raises(portal_services.NotAllowed):
            portal_services.client_update_task_status(tenant_a.client, task, status="complete")


def test_closed_onboarding_plan_is_read_only(tenant_a):
    close(tenant_a)
    client = portal_client(tenant_a)
    task = customer_tasks(tenant_a)[0]
    response = client.post(task_url(tenant_a, task, "status/"), {"status": "complete"})
    assert response.status_code == 400 and "closed" in response.text
    assert reload(tenant_a, task).status == "not_started"
    page = client.get(f"/portal/o/{tenant_a.onboarding.pk}/").text
    assert "/status/" not in page
    # Once the NPS question is answered, nothing left open is offered as a next step.
    with tenant_context(tenant_a.tenant):
        NpsResponse.objects.create(onboarding=tenant_a.onboarding, user=tenant_a.client, score=9)
    page = client.get(f"/portal/o/{tenant_a.onboarding.pk}/").text
    step = page.split('data-testid="next-step"')[1].split("</div>")[0]
    assert "This onboarding is closed" in step and task.title not in step
    assert page.count("Thank you") == 1  # the NPS card says it; the step box does not repeat it
    assert "You can update the tasks" not in page
    assert "overdue" not in step and "Next to watch" not in step
    # The timeline: an unmet milestone is "not met", neither overdue nor next.
    with tenant_context(tenant_a.tenant):
        Milestone.objects.filter(pk=tenant_a.milestone.pk).update(
            achieved_at=None, due_date=dt.date(2020, 1, 1)
        )
    page = client.get(f"/portal/o/{tenant_a.onboarding.pk}/").text
    timeline = page.split('class="ms ms-')[1:]
    assert timeline and all(not t.startswith(("overdue", "next")) for t in timeline)
    assert 'class="tag not_met">Not met<' in page
    overview = client_for(tenant_a, tenant_a.csm).get(f"/app/onboardings/{tenant_a.onboarding.pk}/")
    assert "None: the onboarding is closed" in overview.text
    next_tasks = overview.text.split('class="plain next-tasks"')[1].split("</ol>")[0]
    assert "None: the onboarding is closed." in next_tasks and task.title not in next_tasks
    assert "All milestones met" not in overview.text
    refused = client.post(task_url(tenant_a, task, "comments/"), {"body": "late"})
    assert refused.status_code == 400 and "read-only" in refused.text
    refused = upload(client, tenant_a, task, "late.pdf", b"%PDF-1.4")
    assert refused.status_code == 400 and "read-only" in refused.text
    with tenant_context(tenant_a.tenant):
        assert not TaskComment.objects.exists() and not TaskAttachment.objects.exists()
    # Training can still be marked done after the close.
    with tenant_context(tenant_a.tenant):
        resource = TrainingResource.objects.get(onboarding=tenant_a.onboarding)
    client.post(f"/portal/o/{tenant_a.onboarding.pk}/training/{resource.pk}/done/")
    with tenant_context(tenant_a.tenant):
        assert TrainingCompletion.objects.filter(resource=resource).count() == 1


def test_tasks_of_another_onboarding_are_not_reachable_through_mine(tenant_a):
    other = second_onboarding(tenant_a, customer_name="Another customer", invite=False)
    with tenant_context(tenant_a.tenant):
        foreign = other.tasks.filter(owner_side="customer").first()
    client = portal_client(tenant_a)
    assert client.get(task_url(tenant_a, foreign)).status_code == 404
    assert client.post(task_url(tenant_a, foreign, "status/"), {"status": "complete"}).status_code
    assert reload(tenant_a, foreign).status == "not_started"
    assert client.get(f"/portal/o/{other.pk}/tasks/{foreign.pk}/").status_code == 404


# --- comments ------------------------------------------------------------------------------------


def test_clients_comment_but_never_create_or_see_internal_comments(tenant_a):
    client = portal_client(tenant_a)
    task = customer_tasks(tenant_a)[0]
    with tenant_context(tenant_a.tenant):
        TaskComment.objects.create(
            task=task, author=tenant_a.csm, body="INTERNAL renewal risk", internal=True
        )
        TaskComment.objects.create(task=task, author=tenant_a.csm, body="Public note from CSM")
    response = client.post(
        task_url(tenant_a, task, "comments/"), {"body": "Done on our side", "internal": "on"}
    )
    assert response.status_code == 302 and response["Location"].endswith("#comments")
    with tenant_context(tenant_a.tenant):
        mine = TaskComment.objects.get(author=tenant_a.client)
        assert mine.body == "Done on our side" and mine.internal is False
    page = client.get(task_url(tenant_a, task)).text
    assert "Public note from CSM" in page and "Done on our side" in page
    assert "INTERNAL renewal risk" not in page
    plan = client.get(f"/portal/o/{tenant_a.onboarding.pk}/").text
    assert "2 comments" in plan  # the internal one is not even counted

    empty = client.post(task_url(tenant_a, task, "comments/"), {"body": "  "})
    assert empty.status_code == 400
    assert 'id="id_body_error"' in empty.text


# --- attachments ---------------------------------------------------------------------------------


def upload(client, world, task, name, data):
    return client.post(
        task_url(world, task, "attachments/"), {"file": SimpleUploadedFile(name, data)}
    )


def test_an_html_file_named_png_is_stored_and_served_as_an_opaque_download(tenant_a, settings):
    client = portal_client(tenant_a)
    task = customer_tasks(tenant_a)[0]
    payload = b"<html><script>alert(document.cookie)</script></html>"
    response = upload(client, tenant_a, task, "../../evil<b>.png", payload)
    assert response.status_code == 302
    with tenant_context(tenant_a.tenant):
        attachment = TaskAttachment.objects.get()
    assert attachment.content_type == "application/octet-stream"
    assert attachment.original_name == "evil<b>.png"
    stored = Path(attachment.file.name).name
    assert re.fullmatch(r"[0-9a-f]{32}", stored), stored  # random, no extension, no client name
    assert (Path(settings.MEDIA_ROOT) / attachment.file.name).read_bytes() == payload

    page = client.get(task_url(tenant_a, task)).text
    download_url = f"/portal/o/{tenant_a.onboarding.pk}/attachments/{attachment.pk}/"
    assert download_url in page and "evil&lt;b&gt;.png" in page
    got = client.get(download_url)
    assert got.status_code == 200
    assert got["Content-Type"] == "application/octet-stream"
    assert got["Content-Disposition"].startswith("attachment;")
    assert "evil" in got["Content-Disposition"]
    assert got["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in got["Content-Security-Policy"]
    assert b"".join(got.streaming_content) == payload


def test_images_and_pdfs_keep_their_sniffed_type(tenant_a):
    client = portal_client(tenant_a)
    task = customer_tasks(tenant_a)[0]
    upload(client, tenant_a, task, "scan.pdf", b"%PDF-1.7\n...")
    upload(client, tenant_a, task, "diagram.bin", png_bytes())
    with tenant_context(tenant_a.tenant):
        kinds = dict(TaskAttachment.objects.values_list("original_name", "content_type"))
    assert kinds == {"scan.pdf": "application/pdf", "diagram.bin": "image/png"}
    with tenant_context(tenant_a.tenant):
        png = TaskAttachment.objects.get(original_name="diagram.bin")
    got = client.get(f"/portal/o/{tenant_a.onboarding.pk}/attachments/{png.pk}/")
    assert got["Content-Type"] == "image/png"
    assert got["Content-Disposition"].startswith("attachment;")


def test_attachments_over_the_limit_or_empty_are_refused(tenant_a):
    client = portal_client(tenant_a)
    task = customer_tasks(tenant_a)[0]
    too_big = upload(client, tenant_a, task, "big.pdf", b"%PDF-" + b"0" * MAX_ATTACHMENT_BYTES)
    assert too_big.status_code == 400
    assert "larger than 10 MB" in too_big.text
    assert 'id="id_file_error"' in too_big.text
    empty = upload(client, tenant_a, task, "empty.pdf", b"")
    assert empty.status_code == 400
    with tenant_context(tenant_a.tenant):
        assert not TaskAttachment.objects.exists()


def test_attachments_are_reached_only_through_their_own_onboarding(tenant_a):
    other = second_onboarding(tenant_a, customer_name="Another customer", invite=False)
    with tenant_context(tenant_a.tenant):
        foreign_task = other.tasks.filter(owner_side="customer").first()
        attachment = TaskAttachment(
            task=foreign_task,
            uploaded_by=tenant_a.csm,
            original_name="theirs.pdf",
            content_type="application/pdf",
            size=5,
        )
        attachment.file.save("x", io.BytesIO(b"%PDF-"), save=True)
    client = portal_client(tenant_a)
    mine = client.get(f"/portal/o/{tenant_a.onboarding.pk}/attachments/{attachment.pk}/")
    theirs = client.get(f"/portal/o/{other.pk}/attachments/{attachment.pk}/")
    missing = client.get(f"/portal/o/{tenant_a.onboarding.pk}/attachments/999999999/")
    assert mine.status_code == theirs.status_code == missing.status_code == 404
    assert mine.content == missing.content


# --- training ------------------------------------------------------------------------------------


def test_training_grouped_by_audience_marked_done_once(tenant_a):
    with tenant_context(tenant_a.tenant):
        admins = TrainingResource.objects.create(
            onboarding=tenant_a.onboarding, title="Admin setup course", audience="Admins"
        )
        TrainingResource.objects.create(
            onboarding=tenant_a.onboarding,
            title="Help centre",
            kind="kb",
            url="https://help.example.com/",
        )
        TrainingResource.objects.create(
            onboarding=tenant_a.onboarding,
            title="Kickoff recording",
            kind="session",
            url="https://example.com/rec",
            audience="Admins",
        )
    client = portal_client(tenant_a)
    url = f"/portal/o/{tenant_a.onboarding.pk}/training/{admins.pk}/done/"
    for _ in range(3):
        response = client.post(url)
        assert response.status_code == 302
        assert response["Location"] == f"/portal/o/{tenant_a.onboarding.pk}/#resource-{admins.pk}"
    with tenant_context(tenant_a.tenant):
        assert TrainingCompletion.objects.filter(resource=admins).count() == 1
        first = TrainingCompletion.objects.get(resource=admins)
        again = portal_services.mark_training_done(tenant_a.client, admins)
        assert again.pk == first.pk and again.completed_at == first.completed_at
    html = client.get(f"/portal/o/{tenant_a.onboarding.pk}/").text
    training = html.split('id="training-title"')[1].split("</section>")[0]
    assert re.search(r"<h3[^>]*>Admins</h3>.*Admin setup course.*Kickoff recording", training, re.S)
    assert re.search(r"<h3[^>]*>Everyone</h3>.*guide", training, re.S)
    assert re.search(r"<h3[^>]*>Knowledge base</h3>.*Help centre", training, re.S)
    assert "recording" in training
    assert "You have completed 1 of 3." in training
    assert f'id="resource-{admins.pk}" class="resource resource-done"' in training


def test_opening_a_resource_is_recorded_and_redirects_to_it(tenant_a):
    with tenant_context(tenant_a.tenant):
        resource = TrainingResource.objects.get(onboarding=tenant_a.onboarding)
    client = portal_client(tenant_a)
    response = client.get(f"/portal/o/{tenant_a.onboarding.pk}/training/{resource.pk}/open/")
    assert response.status_code == 302 and response["Location"] == "https://example.com/g"
    with tenant_context(tenant_a.tenant):
        event = EngagementEvent.objects.get(kind="resource")
    assert (event.user_id, event.resource_id, event.onboarding_id) == (
        tenant_a.client.pk,
        resource.pk,
        tenant_a.onboarding.pk,
    )


# --- NPS -----------------------------------------------------------------------------------------


def test_nps_only_at_close_and_once_per_client_user(tenant_a):
    client = portal_client(tenant_a)
    url = f"/portal/o/{tenant_a.onboarding.pk}/nps/"
    early = client.post(url, {"score": "9"})
    assert early.status_code == 400 and portal_services.NPS_NOT_OPEN in early.text
    assert 'id="nps"' not in client.get(f"/portal/o/{tenant_a.onboarding.pk}/").text

    close(tenant_a)
    page = client.get(f"/portal/o/{tenant_a.onboarding.pk}/").text
    assert "Tell us how the onboarding went" in next_step_html(page)
    assert page.count('name="score"') == 11
    bad = client.post(url, {"score": "11"})
    assert bad.status_code == 400 and 'id="nps-score-error"' in bad.text

    assert client.post(url, {"score": "9", "comment": "Smooth"}).status_code == 302
    second = client.post(url, {"score": "2", "comment": "Changed my mind"})
    assert second.status_code == 400
    assert "You already answered this survey" in second.text
    with tenant_context(tenant_a.tenant):
        answer = NpsResponse.objects.get()
        assert (answer.score, answer.comment) == (9, "Smooth")
        with pytest.raises(ValidationError, match="already answered"):
            portal_services.answer_nps(tenant_a.client, reload(tenant_a, tenant_a.onboarding), 3)
    page = client.get(f"/portal/o/{tenant_a.onboarding.pk}/").text
    assert "You answered <strong>9</strong>" in page and 'name="score"' not in page

    # Another stakeholder of the same customer answers for themselves.
    with tenant_context(tenant_a.tenant):
        contact = Contact.objects.create(
            onboarding=tenant_a.onboarding, side="customer", name="Sam", email="sam@x.example"
        )
        sam = invite_contact(tenant_a.tenant, contact, send_email=False).user
    assert client_for(tenant_a, sam).post(url, {"score": "6"}).status_code == 302
    with tenant_context(tenant_a.tenant):
        assert NpsResponse.objects.count() == 2


# --- switching between onboardings -----------------------------------------------------------


def test_switcher_lists_only_the_onboardings_the_client_was_invited_to(tenant_a):
    module_two = second_onboarding(tenant_a)
    not_mine = second_onboarding(tenant_a, customer_name="Someone Else Inc", invite=False)
    client = portal_client(tenant_a)
    index = client.get("/portal/")
    assert index.status_code == 200
    assert f"/portal/o/{tenant_a.onboarding.pk}/" in index.text
    assert f"/portal/o/{module_two.pk}/" in index.text
    assert "Someone Else Inc" not in index.text and f"/portal/o/{not_mine.pk}/" not in index.text

    page = client.get(f"/portal/o/{module_two.pk}/").text
    switcher = page.split('aria-label="Your onboardings"')[1].split("</nav>")[0]
    assert f'href="/portal/o/{module_two.pk}/" aria-current="page"' in switcher
    assert f'href="/portal/o/{tenant_a.onboarding.pk}/"' in switcher
    assert "Someone Else" not in page and f"/portal/o/{not_mine.pk}/" not in page
    assert client.get(f"/portal/o/{not_mine.pk}/").status_code == 404

    with tenant_context(tenant_a.tenant):
        PortalAccess.objects.filter(onboarding=module_two).update(revoked_at=timezone.now())
    assert client.get(f"/portal/o/{module_two.pk}/").status_code == 404
    assert client.get("/portal/")["Location"] == f"/portal/o/{tenant_a.onboarding.pk}/"


# --- calendar ------------------------------------------------------------------------------------


def test_milestones_download_as_ics_with_all_day_dates_and_stable_uids(tenant_a):
    client = portal_client(tenant_a)
    response = client.get(f"/portal/o/{tenant_a.onboarding.pk}/milestones.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    calendar = Calendar.from_ical(response.content)
    events = {str(e["UID"]): e for e in calendar.walk("VEVENT")}
    with tenant_context(tenant_a.tenant):
        milestones = list(tenant_a.onboarding.milestones.all())
    assert len(milestones) == 5 and len(events) == 5
    for milestone in milestones:
        event = events[f"milestone-{milestone.pk}@alpha.localhost"]
        start = event.decoded("DTSTART")
        assert type(start) is dt.date and start == milestone.due_date
        assert event.decoded("DTEND") == milestone.due_date + dt.timedelta(days=1)
        assert milestone.name in str(event["SUMMARY"])
        assert "DTSTART;VALUE=DATE:" in event.to_ical().decode()
    # Importing again updates the same events: the UIDs do not change between downloads.
    again = Calendar.from_ical(
        client.get(f"/portal/o/{tenant_a.onboarding.pk}/milestones.ics").content
    )
    assert {str(e["UID"]) for e in again.walk("VEVENT")} == set(events)
    # The high-touch playbook from 2026-11-16: kickoff at 10% of 90 days.
    assert min(m.due_date for m in milestones) == dt.date(2026, 11, 25)


# --- engagement ----------------------------------------------------------------------------------


def test_sign_in_and_visits_are_recorded_with_visits_throttled(tenant_a):
    link = issue_sign_in_link(tenant_a.tenant, tenant_a.client)
    from django.test import Client

    browser = Client(HTTP_HOST=tenant_a.host)
    path = link.split(tenant_a.host, 1)[1].split("/", 1)[1]
    response = browser.post("/" + path)
    assert response.status_code == 302
    browser.get(f"/portal/o/{tenant_a.onboarding.pk}/")
    browser.get(f"/portal/o/{tenant_a.onboarding.pk}/")
    with tenant_context(tenant_a.tenant):
        kinds = list(EngagementEvent.objects.order_by("id").values_list("kind", flat=True))
        access = PortalAccess.objects.get(user=tenant_a.client)
    browser.get(task_url(tenant_a, customer_tasks(tenant_a)[0]))  # same visit, within 30 min
    with tenant_context(tenant_a.tenant):
        kinds = list(EngagementEvent.objects.order_by("id").values_list("kind", flat=True))
    assert kinds == ["sign_in", "visit"]
    assert access.accepted_at is not None and access.last_seen_at is not None

    t0 = timezone.now() + dt.timedelta(hours=1)
    with tenant_context(tenant_a.tenant):
        for minutes, counted in ((0, True), (10, False), (29, False), (31, True), (45, False)):
            event = portal_services.record_event(
                tenant_a.client,
                "visit",
                tenant_a.onboarding,
                now=t0 + dt.timedelta(minutes=minutes),
            )
            assert (event is not None) == counted, minutes
        assert EngagementEvent.objects.filter(kind="visit").count() == 3


def test_engagement_is_recorded_only_for_invited_users(tenant_a):
    with tenant_context(tenant_a.tenant):
        with pytest.raises(portal_services.NotAllowed):
            portal_services.record_event(tenant_a.csm, "visit", tenant_a.onboarding)
        with pytest.raises(ValueError):
            portal_services.record_event(tenant_a.client, "download", tenant_a.onboarding)


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_engagement_summary_numbers_by_hand(tenant_a):
    """Hand-checked numbers. The tenant is in New York; "now" is Thursday 2026-12-10 15:00 UTC.

    The 8 ISO weeks are those starting on the Mondays 2026-10-19 ... 2026-12-07 (New York).
    """
    tenant, onboarding, client = tenant_a.tenant, tenant_a.onboarding, tenant_a.client
    now = _at("2026-12-10T15:00")
    with tenant_context(tenant):
        quiet_contact = Contact.objects.create(
            onboarding=onboarding, side="customer", name="Quiet Quinn", email="quinn@x.example"
        )
        quiet = invite_contact(tenant, quiet_contact, send_email=False).user
        resource = TrainingResource.objects.get(onboarding=onboarding)
        other_resource = TrainingResource.objects.create(onboarding=onboarding, title="Second")
        EngagementEvent.objects.create(
            onboarding=onboarding, user=client, kind="sign_in", created_at=_at("2026-12-01T13:59")
        )
        visits = [
            ("2026-10-01T12:00", True),  # counted in total, outside the 8-week window
            ("2026-11-02T04:00", True),  # Sunday Nov 1, 23:00 in New York: week of Oct 26
            ("2026-12-01T14:00", True),  # week of Nov 30
            ("2026-12-01T14:20", False),  # within 30 minutes: not a new visit
            ("2026-12-01T15:00", True),  # week of Nov 30
            ("2026-12-08T10:00", True),  # week of Dec 7
        ]
        for when, counted in visits:
            event = portal_services.record_event(client, "visit", onboarding, now=_at(when))
            assert (event is not None) == counted, when
        for when in ("2026-12-01T14:05", "2026-12-08T10:01"):
            portal_services.record_event(
                client, "resource_open", onboarding, resource=resource, now=_at(when)
            )
        portal_services.mark_training_done(client, resource)
        portal_services.mark_training_done(client, other_resource)
        portal_services.mark_training_done(client, other_resource)  # idempotent

        with CaptureQueriesContext(connection) as queries:
            summary = engagement_summary(onboarding, now=now)
        few_queries = len(queries)

    by_email = {s.email: s for s in summary.stakeholders}
    assert set(by_email) == {client.email, quiet.email}
    me = by_email[client.email]
    assert me.sign_ins == 1 and me.last_sign_in == _at("2026-12-01T13:59")
    assert me.visits == 5
    assert me.resource_opens == 2
    assert me.trainings_done == 2
    assert me.last_visit == _at("2026-12-08T10:00")
    assert me.never_signed_in is False
    assert [w.count for w in me.weeks] == [0, 1, 0, 0, 0, 0, 2, 1]
    assert [w.start for w in summary.weeks] == [
        dt.date(2026, 10, 19) + dt.timedelta(weeks=i) for i in range(8)
    ]
    assert [w.label for w in summary.weeks][-1] == "2026-W50"
    assert [w.count for w in summary.weeks] == [0, 1, 0, 0, 0, 0, 2, 1]
    assert summary.visits_in_window == 4 and summary.week_max == 2

    q = by_email[quiet.email]
    assert (q.visits, q.sign_ins, q.resource_opens, q.trainings_done) == (0, 0, 0, 0)
    assert q.last_visit is None and q.accepted_at is None and q.never_signed_in is True
    assert [s.email for s in summary.never_signed_in] == [quiet.email]
    assert [e.kind for e in summary.recent][:2] == ["resource", "visit"]

    # More stakeholders and events: the same number of queries.
    with tenant_context(tenant):
        for i in range(6):
            c = Contact.objects.create(
                onboarding=onboarding, side="customer", name=f"P{i}", email=f"p{i}@x.example"
            )
            user = invite_contact(tenant, c, send_email=False).user
            portal_services.record_event(user, "visit", onboarding, now=_at("2026-12-09T10:00"))
            portal_services.mark_training_done(user, resource)
        with CaptureQueriesContext(connection) as queries:
            bigger = engagement_summary(onboarding, now=now)
    assert len(queries) == few_queries <= 5
    assert bigger.weeks[-1].count == 7


def test_the_csm_sees_what_the_client_did(tenant_a):
    client = portal_client(tenant_a)
    task = customer_tasks(tenant_a)[0]
    with tenant_context(tenant_a.tenant):
        resource = TrainingResource.objects.get(onboarding=tenant_a.onboarding)
    client.get(f"/portal/o/{tenant_a.onboarding.pk}/")
    client.post(task_url(tenant_a, task, "status/"), {"status": "complete", "version": 1})
    client.post(f"/portal/o/{tenant_a.onboarding.pk}/training/{resource.pk}/done/")

    csm = client_for(tenant_a, tenant_a.csm)
    html = csm.get(f"/app/onboardings/{tenant_a.onboarding.pk}/").text
    engagement = html.split('id="engagement-title"')[1].split("</section>")[0]
    row = engagement.split(f'data-email="{tenant_a.client.email}"')[1].split("</tr>")[0]
    assert "never signed in" not in row
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert "<time" in cells[2]  # last visit
    assert [c.strip() for c in cells[3:]] == ["0", "1", "0", "1"]  # sign-ins, visits, opens, done
    assert "visited the portal" in engagement
    training = html.split('id="training-title"')[1].split("</section>")[0]
    assert f"{tenant_a.marker} guide" in training and tenant_a.contact.name in training
    plan_row = html.split(f"<td>{task.title}")[0].rsplit("<tr", 1)[1]
    assert 'class="status-complete"' in plan_row


def test_the_team_sees_the_clients_status_changes_and_files(tenant_a):
    """What the customer does in the portal is in the onboarding's activity, and the files they
    attach are listed with the task and downloadable by every member of the team, as safely as
    in the portal; another onboarding's file is not reached through this task."""
    client = portal_client(tenant_a)
    task = customer_tasks(tenant_a)[0]
    client.post(
        task_url(tenant_a, task, "status/"),
        {"status": "blocked", "blocked_reason": "Waiting for IT", "version": task.version},
    )
    client.post(task_url(tenant_a, task, "status/"), {"status": "complete", "version": 2})
    upload(client, tenant_a, task, "export.csv", b"a,b\n1,2\n")
    name = tenant_a.contact.name
    activity = client_for(tenant_a, tenant_a.csm).get(
        f"/app/onboardings/{tenant_a.onboarding.pk}/activity/"
    )
    assert f"{name} marked “{task.title}” blocked (Waiting for IT) in the portal." in activity.text
    assert f"{name} marked “{task.title}” complete in the portal." in activity.text
    assert f"{name} attached “export.csv” to “{task.title}” in the portal." in activity.text

    plan = f"/app/onboardings/{tenant_a.onboarding.pk}/plan/"
    viewer = client_for(tenant_a, tenant_a.viewer)
    assert "· 1 file<" in viewer.get(plan).text
    panel = viewer.get(f"{plan}tasks/{task.pk}/comments/").text
    href = re.search(r'<a href="([^"]+/files/\d+/)" download>export.csv</a>', panel)[1]
    assert name in panel
    download = viewer.get(href)
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"a,b\n1,2\n"
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"].startswith("attachment")
    assert "sandbox" in download["Content-Security-Policy"]
    other = customer_tasks(tenant_a)[1]
    assert viewer.get(href.replace(f"/tasks/{task.pk}/", f"/tasks/{other.pk}/")).status_code == 404
    assert client.get(href).status_code in (302, 403, 404)  # the client has no workspace


def test_workspace_detail_queries_do_not_grow_with_engagement(tenant_a):
    csm = client_for(tenant_a, tenant_a.csm)
    url = f"/app/onboardings/{tenant_a.onboarding.pk}/"
    csm.get(url)
    with CaptureQueriesContext(connection) as few:
        assert csm.get(url).status_code == 200
    with tenant_context(tenant_a.tenant):
        for i in range(5):
            c = Contact.objects.create(
                onboarding=tenant_a.onboarding, side="customer", name=f"P{i}", email=f"p{i}@x.ex"
            )
            user = invite_contact(tenant_a.tenant, c, send_email=False).user
            portal_services.record_event(user, "visit", tenant_a.onboarding)
            for resource in TrainingResource.objects.all():
                portal_services.mark_training_done(user, resource)
    with CaptureQueriesContext(connection) as many:
        assert csm.get(url).status_code == 200
    assert len(few) == len(many)


def test_portal_page_queries_do_not_grow_with_comments_files_training_and_onboardings(tenant_a):
    client = portal_client(tenant_a)
    url = f"/portal/o/{tenant_a.onboarding.pk}/"
    client.get(url)
    with CaptureQueriesContext(connection) as few:
        assert client.get(url).status_code == 200
    print(f"portal page: {len(few)} queries")
    second_onboarding(tenant_a)
    second_onboarding(tenant_a)
    with tenant_context(tenant_a.tenant):
        KeyContact.objects.create(name="Kim Key", role="Head of CS")
        for task in customer_tasks(tenant_a)[:5]:
            TaskComment.objects.create(task=task, author=tenant_a.client, body="x")
        for i in range(4):
            resource = TrainingResource.objects.create(
                onboarding=tenant_a.onboarding, title=f"R{i}", audience=f"Group {i % 2}"
            )
            portal_services.mark_training_done(tenant_a.client, resource)
    with CaptureQueriesContext(connection) as many:
        response = client.get(url)
    assert response.status_code == 200 and "Kim Key" in response.text
    assert len(few) == len(many)


def test_a_client_finishing_a_milestones_last_task_achieves_it(tenant_a):
    world = tenant_a
    from onboarding.models import Milestone
    from onboarding.services.portal import client_update_task_status

    with tenant_context(world.tenant):
        milestone = Milestone.objects.create(
            onboarding=world.onboarding, name="Client-only milestone", due_date=dt.date(2027, 1, 5)
        )
        task = Task.objects.create(
            onboarding=world.onboarding,
            milestone=milestone,
            title="Only task",
            owner_side="customer",
            owner_contact=world.contact,
            due_date=dt.date(2027, 1, 4),
        )
        client_update_task_status(world.client, task, status="complete")
        milestone.refresh_from_db()
        assert milestone.achieved_at is not None
        task.refresh_from_db()
        client_update_task_status(world.client, task, status="in_progress")
        milestone.refresh_from_db()
        assert milestone.achieved_at is None
