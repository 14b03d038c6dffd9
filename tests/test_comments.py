"""Comments on tasks: who sees them, and who is emailed about each one (once, after commit)."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from django.core import mail
from django.db import transaction
from django.urls import reverse

from onboarding import mail_delivery
from onboarding.models import Contact, Onboarding, PortalAccess, Task, TaskComment
from onboarding.services import comments
from onboarding.services.invitations import invite_contact
from portal.tenancy.context import tenant_context
from tests.conftest import client_for

HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world(tenant_a):
    return tenant_a


@pytest.fixture
def task(world) -> Task:
    """A customer-side task: the portal's clients may comment on it."""
    with tenant_context(world.tenant):
        return world.onboarding.tasks.filter(owner_side="customer").order_by("pk").first()


@pytest.fixture
def second_client(world):
    """Another invited client user of the same onboarding, and a revoked one."""
    with tenant_context(world.tenant):
        people = []
        for name in ("Pat Second", "Rex Revoked"):
            contact = Contact.objects.create(
                onboarding=world.onboarding,
                side="customer",
                name=name,
                email=f"{name.split()[0].lower()}@alpha-customer.example",
            )
            people.append(invite_contact(world.tenant, contact, send_email=False))
        PortalAccess.objects.filter(pk=people[1].pk).update(revoked_at=world.onboarding.created_at)
    return people[0].user


def comments_url(world, task) -> str:
    return reverse(
        "workspace:task-comments",
        kwargs={"onboarding_id": world.onboarding.pk, "task_id": task.pk},
    )


def portal_task_url(world, task) -> str:
    return reverse("portal:task", kwargs={"onboarding_id": world.onboarding.pk, "task_id": task.pk})


def every_address(message) -> set[str]:
    return {a.lower() for a in [*message.to, *message.cc, *message.bcc]}


def test_a_staff_comment_emails_the_client_users_once_after_commit(
    world, task, second_client, django_capture_on_commit_callbacks
):
    csm = client_for(world, world.csm)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = csm.post(comments_url(world, task), {"body": "Please send the user CSV."})
        assert mail.outbox == []  # nothing leaves before the commit
    assert response.status_code == 302 and response["Location"] == comments_url(world, task)
    assert len(callbacks) == 1
    assert len(mail.outbox) == 1  # one email for the comment, to everyone concerned
    message = mail.outbox[0]
    assert every_address(message) == {world.client.email, second_client.email}
    assert "rex@" not in " ".join(every_address(message))  # revoked
    assert world.csm.email not in every_address(message)  # never the author
    assert task.title in message.subject
    assert "Please send the user CSV." in message.body
    html = message.alternatives[0].content
    assert "Please send the user CSV." in html and world.tenant.sender_name in html  # branded
    link = world.tenant.absolute_url(portal_task_url(world, task) + "#comments")
    assert link in message.body and link in html


def test_internal_notes_never_reach_clients(
    world, task, second_client, django_capture_on_commit_callbacks
):
    secret = "Internal: their champion is leaving"
    # The owning CSM's own note: nobody is emailed.
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world, world.csm).post(
            comments_url(world, task), {"body": secret, "internal": "on"}, **HX
        )
    assert response.status_code == 200
    assert mail.outbox == []
    # A colleague's note: only the owning CSM hears about it.
    with django_capture_on_commit_callbacks(execute=True):
        client_for(world, world.admin).post(
            comments_url(world, task), {"body": secret + " (admin)", "internal": "on"}
        )
    assert [every_address(m) for m in mail.outbox] == [{world.csm.email}]
    assert "internal note" in mail.outbox[0].body
    assert world.tenant.absolute_url(comments_url(world, task)) in mail.outbox[0].body
    with tenant_context(world.tenant):
        comments.add_staff_comment(task, world.csm, "Visible to both sides")

    # The portal shows the public comment and no internal note, nor counts them.
    portal = client_for(world, world.client)
    page = portal.get(portal_task_url(world, task))
    assert page.status_code == 200
    assert "Visible to both sides" in page.text and "champion is leaving" not in page.text
    plan = portal.get(reverse("portal:onboarding", kwargs={"onboarding_id": world.onboarding.pk}))
    assert "champion is leaving" not in plan.text
    # Staff see everything, internal notes marked as such.
    staff = client_for(world, world.viewer).get(comments_url(world, task))
    assert staff.text.count("Internal note</span>") == 2 and "Visible to both sides" in staff.text


def test_a_client_comment_emails_the_owning_csm(world, task, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), tenant_context(world.tenant):
        comment = comments.add_client_comment(world.client, task, "We are blocked on IT.")
    assert comment.internal is False
    assert [every_address(m) for m in mail.outbox] == [{world.csm.email}]
    assert "We are blocked on IT." in mail.outbox[0].body
    assert world.tenant.absolute_url(comments_url(world, task)) in mail.outbox[0].body
    # It is on the CSM's page and in the activity log.
    page = client_for(world, world.csm).get(comments_url(world, task))
    assert "We are blocked on IT." in page.text
    with tenant_context(world.tenant):
        assert world.onboarding.activity.filter(text__contains="in the portal").exists()


def test_a_comment_posted_in_the_portal_emails_the_owning_csm(
    world, task, django_capture_on_commit_callbacks
):
    url = reverse(
        "portal:task-comment", kwargs={"onboarding_id": world.onboarding.pk, "task_id": task.pk}
    )
    with django_capture_on_commit_callbacks(execute=True):
        client_for(world, world.client).post(url, {"body": "Posted in the portal"})
    assert [every_address(m) for m in mail.outbox] == [{world.csm.email}]


def test_a_rolled_back_comment_sends_nothing(world, task, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with tenant_context(world.tenant), pytest.raises(RuntimeError):
            with transaction.atomic():
                comments.add_staff_comment(task, world.csm, "Never mind")
                raise RuntimeError("the rest of the change failed")
    assert callbacks == [] and mail.outbox == []
    with tenant_context(world.tenant):
        assert not TaskComment.objects.filter(body="Never mind").exists()


def test_comment_form_errors_are_shown_next_to_the_field(world, task):
    csm = client_for(world, world.csm)
    response = csm.post(comments_url(world, task), {"body": "   "}, **HX)
    assert response.status_code == 400
    assert re.search(r'id="comment-task-\d+-body-error"[^>]*>This field is required', response.text)
    assert response.text.lstrip().startswith('<section class="comments-panel"')
    too_long = csm.post(comments_url(world, task), {"body": "x" * 6000})
    assert too_long.status_code == 400 and "<html" in too_long.text
    with tenant_context(world.tenant):
        assert not TaskComment.objects.filter(task=task).exists()


def test_viewers_and_closed_plans_take_no_comments(world, task):
    assert (
        client_for(world, world.viewer).post(comments_url(world, task), {"body": "Hi"}).status_code
        == 404
    )
    with tenant_context(world.tenant):
        Onboarding.objects.filter(pk=world.onboarding.pk).update(status="closed")
    csm = client_for(world, world.csm)
    assert csm.post(comments_url(world, task), {"body": "Hi"}, **HX).status_code == 403
    page = csm.get(comments_url(world, task))
    assert (
        page.status_code == 200
        and '<form method="post"' not in page.text.split("comments-panel")[1]
    )
    with tenant_context(world.tenant):
        assert not TaskComment.objects.filter(task=task).exists()


def test_a_mail_server_that_is_down_is_retried_and_a_broken_conversation_is_not(world, task):
    with tenant_context(world.tenant):
        comment = TaskComment.objects.create(task=task, author=world.csm, body="Hello")
        fake = mock.Mock()
        fake.default.open.side_effect = ConnectionRefusedError("down")
        with (
            mock.patch.object(mail_delivery, "mailers", fake),
            pytest.raises(comments.CommentNotSent),
        ):
            comments.send_comment_notification(world.tenant, comment.pk)
        fake.default.open.side_effect = None
        fake.default.send_messages.side_effect = ConnectionResetError("mid-way")
        with mock.patch.object(mail_delivery, "mailers", fake):
            assert comments.send_comment_notification(world.tenant, comment.pk) == "uncertain"
        assert comments.send_comment_notification(world.tenant, 999999) == "gone"


def test_a_comment_email_is_at_most_once_even_if_its_worker_dies():
    """The project's default is acks_late (a task lost with its worker runs again); a comment
    email must not (the server may have taken it), and says so explicitly."""
    from onboarding.tasks_comments import send_comment_notification

    assert send_comment_notification.acks_late is False


def test_line_breaks_in_names_and_titles_do_not_stop_the_email(
    world, task, django_capture_on_commit_callbacks
):
    """The API stores a title or a name as given; an email header cannot hold a line break
    (Django refuses it), so the subject folds them instead of the email failing."""
    with tenant_context(world.tenant):
        Task.objects.filter(pk=task.pk).update(title="Connect\r\nSSO")
        Contact.objects.filter(user=world.client).update(name="Dana\nWhitfield")
        task.refresh_from_db()
        with django_capture_on_commit_callbacks(execute=True):
            comments.add_client_comment(world.client, task, "Done on our side.")
    assert [m.subject for m in mail.outbox] == ["Dana Whitfield on “Connect SSO”"]
    assert "\n" not in mail.outbox[0].message()["Subject"]


def test_a_csm_who_left_the_tenant_is_not_emailed_client_comments(
    world, task, django_capture_on_commit_callbacks
):
    from accounts.models import Membership

    with tenant_context(world.tenant):
        Membership.objects.filter(user=world.csm).delete()
        with django_capture_on_commit_callbacks(execute=True):
            comments.add_client_comment(world.client, task, "Our SSO certificate is attached.")
    assert mail.outbox == []
    # Still the owner on record (for the tenant to reassign), and the comment is kept.
    with tenant_context(world.tenant):
        assert Onboarding.objects.get(pk=world.onboarding.pk).owner_id == world.csm.pk
        assert TaskComment.objects.filter(task=task).count() == 1
