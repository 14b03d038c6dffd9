"""Closing an onboarding sends the NPS question once per client user; answers reach the metrics."""

from __future__ import annotations

import datetime as dt
import smtplib
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from onboarding.metrics import metrics_report, nps_summary
from onboarding.models import Contact, NpsRequest, NpsResponse, Onboarding, PortalAccess
from onboarding.services.closing import (
    MAX_ATTEMPTS,
    NpsNotSent,
    close_onboarding,
    problem_nps_requests,
    send_nps_requests,
)
from onboarding.services.invitations import invite_contact
from onboarding.services.portal import answer_nps
from onboarding.tasks_health import send_nps_for_onboarding
from portal.tenancy.context import tenant_context
from tests.conftest import client_for
from tests.live import smtp_sink


@pytest.fixture
def world(tenant_a):
    """Alpha's onboarding with three invited client users, one of them revoked."""
    with tenant_context(tenant_a.tenant):
        for who in ("second", "revoked"):
            contact = Contact.objects.create(
                onboarding=tenant_a.onboarding,
                side="customer",
                name=f"{who.title()} Person",
                email=f"{who}@alpha-customer.example",
            )
            invite_contact(tenant_a.tenant, contact, send_email=False)
        PortalAccess.objects.filter(contact__email__startswith="revoked").update(
            revoked_at=tenant_a.onboarding.created_at
        )
    mail.outbox.clear()
    return tenant_a


ACTIVE = ["client@alpha-customer.example", "second@alpha-customer.example"]


def close(world, user=None):
    with tenant_context(world.tenant):
        return close_onboarding(world.onboarding, user or world.csm)


def nps_mails():
    return sorted(m.to[0] for m in mail.outbox if "how did the onboarding" in m.subject)


class FlakyBackend:
    def __init__(self, *, open_error=None, send_error=None):
        self.open_error, self.send_error, self.sent = open_error, send_error, []

    def open(self):
        if self.open_error:
            raise self.open_error
        return True

    def close(self):
        pass

    def send_messages(self, messages):
        if self.send_error:
            raise self.send_error
        self.sent.extend(messages)
        return len(messages)


def test_close_sends_one_nps_email_per_active_client_user(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        close(world)
    assert len(callbacks) == 1
    assert nps_mails() == ACTIVE
    message = next(m for m in mail.outbox if m.to == [ACTIVE[0]])
    assert "How likely are you to recommend" in message.body
    assert f"http://{world.tenant.slug}.localhost:8000/portal/o/{world.onboarding.pk}/#nps" in (
        message.body
    )
    assert "/portal/sign-in/" in message.body  # a one-time sign-in link, button-confirmed
    html = message.alternatives[0][0]
    assert world.tenant.display_name in html and "Sign in and answer" in html
    with tenant_context(world.tenant):
        assert Onboarding.objects.get(pk=world.onboarding.pk).status == "closed"
        requests = list(NpsRequest.objects.all())
    assert len(requests) == 2 and all(r.sent_at for r in requests)


def test_close_twice_and_send_twice_still_sends_once(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        close(world)
    with pytest.raises(ValidationError), django_capture_on_commit_callbacks(execute=True) as cbs:
        close(world)
    assert cbs == []
    # A duplicated task message, a retry, a second worker: nobody is asked twice.
    send_nps_for_onboarding.delay(tenant_id=world.tenant.pk, onboarding_id=world.onboarding.pk)
    with tenant_context(world.tenant):
        assert send_nps_requests(world.tenant, world.onboarding.pk) == 0
    assert nps_mails() == ACTIVE


def test_rolled_back_close_sends_nothing(world, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            close(world)
            raise RuntimeError("something after the close failed")
    assert callbacks == []
    assert nps_mails() == []
    with tenant_context(world.tenant):
        assert Onboarding.objects.get(pk=world.onboarding.pk).status != "closed"
        assert not NpsRequest.objects.exists()


def test_only_admins_and_csms_close(world, django_capture_on_commit_callbacks):
    with pytest.raises(PermissionDenied), django_capture_on_commit_callbacks(execute=True):
        close(world, world.viewer)
    with pytest.raises(PermissionDenied):
        close(world, world.client)
    with django_capture_on_commit_callbacks(execute=True):
        close(world, world.admin)
    assert nps_mails() == ACTIVE


def test_nothing_is_sent_for_an_open_onboarding(world):
    with tenant_context(world.tenant):
        assert send_nps_requests(world.tenant, world.onboarding.pk) == 0
    assert nps_mails() == []


def test_unreachable_server_is_retried_and_given_up_on_visibly(world):
    with tenant_context(world.tenant):
        Onboarding.objects.filter(pk=world.onboarding.pk).update(status="closed")
        down = FlakyBackend(open_error=ConnectionRefusedError("down"))
        with mock.patch("onboarding.mail_delivery.mailers") as mailers:
            mailers.default = down
            with pytest.raises(NpsNotSent):  # the task retries with backoff
                send_nps_requests(world.tenant, world.onboarding.pk)
        assert set(NpsRequest.objects.values_list("state", "attempts")) == {("not_sent", 1)}
        assert not problem_nps_requests().exists()  # still being retried
        up = FlakyBackend()
        with mock.patch("onboarding.mail_delivery.mailers") as mailers:
            mailers.default = up
            assert send_nps_requests(world.tenant, world.onboarding.pk) == 2
            assert send_nps_requests(world.tenant, world.onboarding.pk) == 0  # nobody twice
        assert set(NpsRequest.objects.values_list("state", "attempts")) == {("sent", 2)}
    assert sorted(m.to[0] for m in up.sent) == ACTIVE

    # A server that stays down: MAX_ATTEMPTS tries, then failed, listed for admins, no more tries.
    with tenant_context(world.tenant):
        NpsRequest.objects.all().delete()
        with mock.patch("onboarding.mail_delivery.mailers") as mailers:
            mailers.default = down
            for _ in range(MAX_ATTEMPTS - 1):
                with pytest.raises(NpsNotSent):
                    send_nps_requests(world.tenant, world.onboarding.pk)
            assert send_nps_requests(world.tenant, world.onboarding.pk) == 0  # gave up
            assert send_nps_requests(world.tenant, world.onboarding.pk) == 0
        assert set(NpsRequest.objects.values_list("state", "attempts")) == {
            ("failed", MAX_ATTEMPTS)
        }
        problems = list(problem_nps_requests())
    assert sorted(r.user.email for r in problems) == ACTIVE
    assert all("down" in r.last_error for r in problems)
    page = client_for(world, world.admin).get("/notifications/problems/").text
    assert "NPS questions at close" in page and ACTIVE[0] in page and "Failed (gave up)" in page


def test_an_address_smtp_cannot_carry_fails_alone_and_at_once(world, settings):
    """Django's SMTP backend refuses a non-ASCII local part with a ValueError; that person's
    question is recorded failed and the others still get theirs."""
    with tenant_context(world.tenant):
        contact = Contact.objects.create(
            onboarding=world.onboarding, side="customer", name="José", email="josé@client.example"
        )
        invite_contact(world.tenant, contact, send_email=False)
        Onboarding.objects.filter(pk=world.onboarding.pk).update(status="closed")
    with smtp_sink() as smtp:
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": smtp.port},
            }
        }
        with tenant_context(world.tenant):
            assert send_nps_requests(world.tenant, world.onboarding.pk) == 2
            states = dict(NpsRequest.objects.values_list("user__email", "state"))
            failed = [r.user.email for r in problem_nps_requests()]
        delivered = sorted(rcpt for m in smtp.messages for rcpt in m.rcpt_tos)
    assert delivered == ACTIVE
    assert states["josé@client.example"] == "failed" and failed == ["josé@client.example"]


def test_connection_lost_mid_send_is_never_resent(world):
    with tenant_context(world.tenant):
        Onboarding.objects.filter(pk=world.onboarding.pk).update(status="closed")
        broken = FlakyBackend(send_error=smtplib.SMTPServerDisconnected("gone after DATA"))
        with mock.patch("onboarding.mail_delivery.mailers") as mailers:
            mailers.default = broken
            assert send_nps_requests(world.tenant, world.onboarding.pk) == 0
            broken.send_error = None
            assert send_nps_requests(world.tenant, world.onboarding.pk) == 0
        assert broken.sent == []
        assert set(NpsRequest.objects.values_list("state", "sent_at")) == {("uncertain", None)}
        assert problem_nps_requests().count() == 2  # for an admin to look at


def test_an_admin_sends_an_uncertain_question_again_once(world, django_capture_on_commit_callbacks):
    with tenant_context(world.tenant):
        Onboarding.objects.filter(pk=world.onboarding.pk).update(status="closed")
        broken = FlakyBackend(send_error=smtplib.SMTPServerDisconnected("gone after DATA"))
        with mock.patch("onboarding.mail_delivery.mailers") as mailers:
            mailers.default = broken
            send_nps_requests(world.tenant, world.onboarding.pk)
        doubt = NpsRequest.objects.get(user=world.client)
    url = f"/notifications/problems/nps/{doubt.pk}/send-again/"
    assert client_for(world, world.viewer).post(url).status_code == 404  # admins and CSMs only
    csm = client_for(world, world.csm)
    assert url in csm.get("/notifications/problems/").text
    with django_capture_on_commit_callbacks(execute=True):  # the worker's task runs at commit
        response = csm.post(url, follow=True)
    assert response.status_code == 200 and "sent again" in response.text
    assert nps_mails() == [world.client.email]  # only the one decided on, not the other
    with tenant_context(world.tenant):
        states = dict(NpsRequest.objects.values_list("user__email", "state"))
    assert states == {ACTIVE[0]: "sent", ACTIVE[1]: "uncertain"}
    again = csm.post(url, follow=True)
    assert again.status_code == 200 and "nothing was changed" in again.text
    assert url not in csm.get("/notifications/problems/").text
    assert nps_mails() == [world.client.email]


def test_send_again_refuses_a_person_who_can_no_longer_get_the_question(world):
    """Put back for someone whose access was revoked (or who answered in the portal since), the
    question would never go out: refused (from a page loaded before), and no longer listed as a
    problem, there being nothing left to do."""
    from onboarding.services.closing import send_nps_again

    with tenant_context(world.tenant):
        Onboarding.objects.filter(pk=world.onboarding.pk).update(status="closed")
        failed = NpsRequest.objects.create(
            onboarding=world.onboarding, user=world.client, state="failed", attempts=5
        )
        PortalAccess.objects.filter(user=world.client).update(revoked_at=timezone.now())
    url = f"/notifications/problems/nps/{failed.pk}/send-again/"
    csm = client_for(world, world.csm)
    response = csm.post(url, follow=True)
    assert response.status_code == 200
    assert "no longer has access" in response.text and "flash-error" in response.text
    assert url not in response.text  # nothing left to do about it
    with tenant_context(world.tenant):
        assert NpsRequest.objects.get(pk=failed.pk).state == "failed"
        PortalAccess.objects.filter(user=world.client).update(revoked_at=None)
        assert list(problem_nps_requests()) == [failed]  # access back: listed again
        NpsResponse.objects.create(onboarding=world.onboarding, user=world.client, score=7)
        assert send_nps_again(world.tenant, failed.pk, world.csm) == "unreachable"
        assert list(problem_nps_requests()) == []  # answered in the portal
        NpsResponse.objects.all().delete()
        assert send_nps_again(world.tenant, failed.pk, world.csm) == "queued"
        assert send_nps_again(world.tenant, failed.pk, world.csm) == "not_pending"


def test_a_sender_that_outlived_its_lease_cannot_overwrite_a_newer_send(world):
    from onboarding.services.closing import SENDING_LEASE, send_nps_again

    with tenant_context(world.tenant):
        Onboarding.objects.filter(pk=world.onboarding.pk).update(status="closed")
        request = NpsRequest.objects.create(onboarding=world.onboarding, user=world.client)
        stale = NpsRequest.objects.filter(pk=request.pk).get()  # the dead sender's claim
        later = timezone.now() + SENDING_LEASE + dt.timedelta(minutes=1)
        assert send_nps_again(world.tenant, request.pk, world.csm, now=later) == "queued"
        with mock.patch("onboarding.services.closing.deliver", return_value=("sent", None)):
            assert send_nps_requests(world.tenant, world.onboarding.pk) == 2
        # The old sender wakes up and records its failure with its own, older claim.
        from onboarding.services.closing import _record_outcome

        assert _record_outcome(stale, "uncertain", RuntimeError("late")) is None
        assert NpsRequest.objects.get(pk=request.pk).state == "sent"


def test_a_late_sender_that_did_send_is_believed_before_the_resend_runs(world):
    """An abandoned claim put back by an admin while its sender is in fact finishing: its
    certain 'sent' is recorded, and the queued re-send then emails nobody a second time."""
    from onboarding.services.closing import SENDING_LEASE, _record_outcome, send_nps_again

    with tenant_context(world.tenant):
        Onboarding.objects.filter(pk=world.onboarding.pk).update(status="closed")
        request = NpsRequest.objects.create(onboarding=world.onboarding, user=world.client)
        second = PortalAccess.objects.get(user__email=ACTIVE[1]).user
        NpsRequest.objects.create(onboarding=world.onboarding, user=second, state="sent")
        old_claim = NpsRequest.objects.get(pk=request.pk)
        later = timezone.now() + SENDING_LEASE + dt.timedelta(minutes=1)
        assert send_nps_again(world.tenant, request.pk, world.csm, now=later) == "queued"
        assert _record_outcome(old_claim, "sent", None) == "sent"  # the old conversation ended
        assert send_nps_requests(world.tenant, world.onboarding.pk) == 0
        assert NpsRequest.objects.get(pk=request.pk).state == "sent"
    assert nps_mails() == []


def test_answers_show_in_the_portal_on_the_onboarding_and_in_metrics(
    world, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        close(world)
    portal = client_for(world, world.client).get(f"/portal/o/{world.onboarding.pk}/")
    assert portal.status_code == 200 and 'id="nps"' in portal.content.decode()
    with tenant_context(world.tenant):
        answer_nps(world.client, world.onboarding, 9, "Smooth rollout")
        summary = nps_summary(world.onboarding)
        report = metrics_report(world.tenant)
    assert (summary.count, summary.score) == (1, 100)
    assert (report.nps.count, report.nps.score) == (1, 100)
    assert [c.comment for c in report.nps.comments] == ["Smooth rollout"]
    from django.template.loader import render_to_string

    html = render_to_string("metrics/_onboarding_nps.html", {"nps": summary})
    assert "NPS 100" in html and "Smooth rollout" in html
    # A client who already answered in the portal is not emailed later (e.g. a late retry).
    with tenant_context(world.tenant):
        NpsRequest.objects.all().delete()
        mail.outbox.clear()
        send_nps_requests(world.tenant, world.onboarding.pk)
    assert nps_mails() == [ACTIVE[1]]


def test_the_onboarding_overview_shows_nps_answers(tenant_a):
    from onboarding.models import NpsResponse
    from portal.tenancy.context import tenant_context
    from tests.conftest import client_for

    with tenant_context(tenant_a.tenant):
        Onboarding.objects.filter(pk=tenant_a.onboarding.pk).update(status="closed")
        NpsResponse.objects.create(
            onboarding=tenant_a.onboarding, user=tenant_a.client, score=9, comment="Smooth start"
        )
    page = client_for(tenant_a, tenant_a.csm).get(f"/app/onboardings/{tenant_a.onboarding.pk}/")
    assert page.status_code == 200
    assert "NPS at close" in page.text and "Smooth start" in page.text and "NPS 100" in page.text
