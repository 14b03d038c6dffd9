"""Invitations and sign-in codes: a second copy only when the first certainly did not go out,
and never for a message delivered again.

The tasks run eagerly here, so Celery's automatic retries run inline, one after another.
"""

from __future__ import annotations

import smtplib
from unittest import mock

import pytest

from accounts.models import User
from onboarding.emails import branded_message
from onboarding.models import PortalAccess
from onboarding.tasks import send_invitation, send_sign_in_code
from portal.tenancy.context import tenant_context


class ScriptedServer:
    """A mail backend that fails the first calls as scripted, then takes every message."""

    def __init__(self, *failures: tuple[str, Exception]):
        self.failures = list(failures)
        self.taken: list[str] = []

    def open(self):
        if self.failures and self.failures[0][0] == "open":
            raise self.failures.pop(0)[1]
        return True

    def close(self):
        pass

    def send_messages(self, messages):
        if self.failures and self.failures[0][0] == "after_data":
            self.taken.extend(m.to[0] for m in messages)  # the server has it, then the line drops
            raise self.failures.pop(0)[1]
        if self.failures and self.failures[0][0] == "refused":
            raise self.failures.pop(0)[1]
        self.taken.extend(m.to[0] for m in messages)
        return len(messages)


def _access(world) -> PortalAccess:
    with tenant_context(world.tenant):
        return PortalAccess.objects.select_related("user").get(contact=world.contact)


BOTH_TASKS = pytest.mark.parametrize(
    "task",
    [
        lambda w, a: (send_invitation, {"tenant_id": w.tenant.pk, "access_id": a.pk}),
        lambda w, a: (send_sign_in_code, {"tenant_id": w.tenant.pk, "user_id": a.user_id}),
    ],
    ids=["invitation", "sign-in code"],
)


def _run(task, server, **kwargs):
    with mock.patch("onboarding.mail_delivery.mailers") as mailers:
        mailers.default = server
        return task.delay(**kwargs).get()


@BOTH_TASKS
class TestOneCopy:
    def test_a_line_dropped_after_the_server_took_it_is_not_resent(self, tenant_a, task):
        access = _access(tenant_a)
        celery_task, kwargs = task(tenant_a, access)
        server = ScriptedServer(("after_data", smtplib.SMTPServerDisconnected("lost after DATA")))
        assert _run(celery_task, server, **kwargs) is False
        assert server.taken == [access.user.email]  # one copy, not a retried second

    def test_a_refusal_before_the_message_is_retried_until_it_goes_out(self, tenant_a, task):
        access = _access(tenant_a)
        celery_task, kwargs = task(tenant_a, access)
        server = ScriptedServer(
            ("open", ConnectionRefusedError("down")),
            ("refused", smtplib.SMTPDataError(451, b"try later")),
        )
        assert _run(celery_task, server, **kwargs) is True
        assert server.taken == [access.user.email]

    def test_an_address_smtp_cannot_carry_is_given_up_at_once(self, tenant_a, task):
        access = _access(tenant_a)
        User.objects.filter(pk=access.user_id).update(email="josé@client.example")
        celery_task, kwargs = task(tenant_a, access)
        server = ScriptedServer(("refused", ValueError("non-ASCII local part")))
        assert _run(celery_task, server, **kwargs) is False
        assert server.taken == [] and server.failures == []  # tried once, not five times


class TestPermanentRefusals:
    """A 5xx refusal of the recipients or the message fails at once; a 4xx, or a 5xx about the
    sender or the login (the operator's to fix), is retried."""

    @pytest.mark.parametrize(
        ("error", "outcome"),
        [
            (smtplib.SMTPRecipientsRefused({"a@x.example": (550, b"no such user")}), "rejected"),
            (smtplib.SMTPDataError(554, b"rejected as spam"), "rejected"),
            (smtplib.SMTPRecipientsRefused({"a@x.example": (450, b"mailbox busy")}), "not_sent"),
            (
                smtplib.SMTPRecipientsRefused(
                    {"a@x.example": (550, b"no such user"), "b@x.example": (451, b"later")}
                ),
                "not_sent",
            ),
            (smtplib.SMTPDataError(451, b"try later"), "not_sent"),
            (smtplib.SMTPSenderRefused(553, b"sender not allowed", "from@x.example"), "not_sent"),
            (smtplib.SMTPAuthenticationError(535, b"bad login"), "not_sent"),
        ],
    )
    def test_outcome(self, error, outcome):
        from django.core.mail import EmailMessage

        from onboarding.mail_delivery import deliver

        server = ScriptedServer(("refused", error))
        with mock.patch("onboarding.mail_delivery.mailers") as mailers:
            mailers.default = server
            got, raised = deliver(EmailMessage("s", "b", "from@x.example", ["a@x.example"]))
        assert (got, raised) == (outcome, error)

    def test_a_mailbox_that_does_not_exist_is_tried_once(self, tenant_a):
        access = _access(tenant_a)
        server = ScriptedServer(
            ("refused", smtplib.SMTPRecipientsRefused({access.user.email: (550, b"no user")}))
        )
        kwargs = {"tenant_id": tenant_a.tenant.pk, "access_id": access.pk}
        assert _run(send_invitation, server, **kwargs) is False
        assert server.taken == [] and server.failures == []


def _apply(task, server, message_id: str, **kwargs):
    """Run the task as a worker runs a message delivered with this id."""
    with mock.patch("onboarding.mail_delivery.mailers") as mailers:
        mailers.default = server
        return task.apply(kwargs=kwargs, task_id=message_id).get()


def _links(world, user_id: int):
    from accounts.models import SignInLink

    with tenant_context(world.tenant):
        return list(SignInLink.objects.filter(user_id=user_id).values_list("message_id", flat=True))


@BOTH_TASKS
class TestRedelivery:
    """Both tasks acknowledge their message when done (acks_late), so a worker that dies after
    the send has the same message delivered again: it must not send a second copy."""

    def test_a_message_delivered_again_sends_nothing(self, tenant_a, task):
        access = _access(tenant_a)
        celery_task, kwargs = task(tenant_a, access)
        assert celery_task.acks_late is True
        before = _links(tenant_a, access.user_id)
        server = ScriptedServer()
        assert _apply(celery_task, server, "message-1", **kwargs) is True
        assert _apply(celery_task, server, "message-1", **kwargs) is False
        assert server.taken == [access.user.email]
        assert _links(tenant_a, access.user_id) == [*before, "message-1"]
        # Another message (a re-sent invitation, a new code asked for) is another email.
        assert _apply(celery_task, server, "message-2", **kwargs) is True
        assert server.taken == [access.user.email] * 2

    def test_a_send_that_certainly_failed_leaves_only_the_retrys_link(self, tenant_a, task):
        from accounts.services import find_sign_in_link

        access = _access(tenant_a)
        celery_task, kwargs = task(tenant_a, access)
        before = _links(tenant_a, access.user_id)
        urls = []
        server = ScriptedServer(("refused", smtplib.SMTPDataError(451, b"try later")))
        with mock.patch("onboarding.tasks.branded_message", wraps=branded_message) as build:
            assert _apply(celery_task, server, "message-3", **kwargs) is True
            urls = [call.kwargs["context"]["url"] for call in build.call_args_list]
        assert len(urls) == 2 and urls[0] != urls[1]  # the retry issued a fresh link
        assert _links(tenant_a, access.user_id) == [*before, "message-3"]
        with tenant_context(tenant_a.tenant):
            assert find_sign_in_link(urls[0].rstrip("/").rsplit("/", 1)[-1]) is None
            assert find_sign_in_link(urls[1].rstrip("/").rsplit("/", 1)[-1]) is not None
