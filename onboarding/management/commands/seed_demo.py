"""Seed the demo tenant: members, customers in every model and phase, a branded portal."""

import datetime as dt
import io

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFont

from accounts.models import Role, Tenant, User
from accounts.services import add_member, create_tenant, issue_sign_in_link
from onboarding.health import compute_health
from onboarding.models import (
    Contact,
    Customer,
    FaqEntry,
    Kickoff,
    KickoffAttendee,
    Milestone,
    NpsResponse,
    Onboarding,
    Playbook,
    RequirementItem,
    SupportTicket,
    Task,
    TrainingResource,
    UsageRecord,
)
from onboarding.services.close_review import submit_close_review
from onboarding.services.handoff import update_handoff
from onboarding.services.invitations import invite_contact
from onboarding.services.kickoff import schedule_kickoff
from onboarding.services.plan import refresh_milestone
from onboarding.services.playbooks import start_onboarding
from onboarding.services.requirements import add_requirement
from portal.tenancy.context import tenant_context

PASSWORD = "demo-pass-2026"  # noqa: S105 - printed on purpose: a local demo
MEMBERS = [
    ("admin@demo.example", "Avery Admin", Role.ADMIN),
    ("csm@demo.example", "Casey Success", Role.CSM),
    ("ae@demo.example", "Alex Seller", Role.AE),
    ("viewer@demo.example", "Vic Viewer", Role.VIEWER),
]
# The sales handoff of each demo customer: complete for the default required fields, so the demo
# onboardings can move past pre-kickoff and share their portal.
HANDOFFS = {
    "Globex Manufacturing": {
        "goals": ["One production plan for all 9 plants", "Cut planning meetings by half"],
        "commitments": ["SSO with Azure AD", "ERP import of 5 years of orders"],
        "risks": ["The ERP export is undocumented"],
        "contract_value": 180_000,
        "currency": "EUR",
        "seats": 350,
        "modules": ["Core", "Analytics", "API access"],
    },
    "Initech Software": {
        "goals": ["Every support escalation tracked in one place"],
        "commitments": ["Jira integration in the first month"],
        "risks": ["Two teams still on spreadsheets"],
        "contract_value": 48_000,
        "currency": "EUR",
        "seats": 60,
        "modules": ["Core"],
    },
    "Hooli Cloud": {
        "goals": ["All 40 support agents on the new queue"],
        "commitments": ["Zendesk history imported"],
        "risks": ["Peak season starts in month three"],
        "contract_value": 72_000,
        "currency": "EUR",
        "seats": 40,
        "modules": ["Core", "Analytics"],
    },
    "Soylent Foods": {
        "goals": ["Forecasts for every store from one model"],
        "commitments": ["SAP connector", "Weekly data refresh"],
        "risks": ["Data team of one"],
        "contract_value": 120_000,
        "currency": "EUR",
        "seats": 120,
        "modules": ["Core", "Analytics", "API access"],
    },
    "Umbrella Retail": {
        "goals": ["First campaign sent within two weeks"],
        "commitments": ["Template library set up for them"],
        "risks": ["Very small team, little time for training"],
        "contract_value": 9_600,
        "currency": "EUR",
        "seats": 5,
        "modules": ["Core"],
    },
}
# What each customer is being onboarded onto: the onboarding's name beside the customer's.
PROJECTS = {
    "Globex Manufacturing": "Production planning rollout",
    "Initech Software": "Escalation tracking",
    "Umbrella Retail": "First campaigns",
    "Hooli Cloud": "Support queue migration",
    "Soylent Foods": "Store forecasting",
}
# Requirements recorded at the intake, each with the plan task that delivers it.
REQUIREMENTS = [
    ("integration", "ERP order export into planning", "Nightly export, 5 years of history.",
     "Configure and test integrations", {}),
    ("accounts", "Planner and viewer roles per plant", "One admin per plant.",
     "Create user accounts with the right permissions", {}),
    ("security", "Single sign-on with the customer's identity provider", "",
     "Configure SSO, MFA and data access", {"sso": True, "data_residency": "EU"}),
]  # fmt: skip
CUSTOMERS = [
    # name, model, days since start, share of tasks complete, phase, client contact
    ("Globex Manufacturing", "high", 40, 0.45, "setup",
     ("Hank Scorpio", "hank@globex.example", "COO")),
    ("Initech Software", "mid", 12, 0.2, "kickoff",
     ("Bill Lumbergh", "bill@initech.example", "VP Ops")),
    ("Umbrella Retail", "low", 3, 0.0, "pre_kickoff",
     ("Alice Abernathy", "alice@umbrella.example", "Owner")),
    ("Hooli Cloud", "mid", 100, 1.0, "closed",
     ("Gavin Belson", "gavin@hooli.example", "CEO")),
    ("Soylent Foods", "high", 95, 0.85, "training",
     ("Sol Roth", "sol@soylent.example", "Head of data")),
]  # fmt: skip
# How many seats each customer uses on a day, `age` days into the onboarding: adoption grows.
ADOPTION = {"Globex Manufacturing": 0.5, "Initech Software": 0.3, "Umbrella Retail": 0.8,
            "Hooli Cloud": 0.9, "Soylent Foods": 0.6}  # fmt: skip
HISTORY_DAYS = 100  # health scores back to this many days ago: a trend and day-30/90 snapshots


def _logo_png(colour: str) -> bytes:
    """A square mark with the initials: the header prints the name beside it, and at 32 px high
    a wordmark's letters would be unreadable."""
    image = Image.new("RGBA", (128, 128), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 127, 127), radius=28, fill=colour)
    font = ImageFont.load_default(size=64)
    draw.text((64, 66), "DS", fill="white", font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class Command(BaseCommand):
    help = "Create (or keep) the demo tenant with sample onboardings and users."

    @transaction.atomic
    def handle(self, *args, **options):
        tenant = Tenant.objects.filter(slug="demo").first()
        if tenant is None:
            tenant = create_tenant(name="Demo Software", slug="demo", time_zone="Europe/Berlin")
            self._populate(tenant)
            with tenant_context(tenant):  # a health history: trends, badges, day-30/90 snapshots
                today = tenant.local_today()
                for back in range(HISTORY_DAYS, -1, -1):
                    compute_health(tenant, today - dt.timedelta(days=back))
        if not User.objects.filter(email="platform@localhost").exists():
            User.objects.create_superuser("platform@localhost", PASSWORD, full_name="Platform")
        with tenant_context(tenant):
            client_link = issue_sign_in_link(tenant, User.objects.get(email="hank@globex.example"))
        base = tenant.absolute_url("")
        # The command prints links with the port it runs with: say it, or they point at 8000.
        port = settings.PORTAL_PORT
        env = f"PORTAL_PORT={port} " if port and port != "8000" else ""
        self.stdout.write(
            f"\nDemo tenant ready: {base}/\n"
            f"  Workspace (CSM):  {base}/app/   sign in as csm@demo.example / {PASSWORD}\n"
            f"  Other members:    admin@, ae@, viewer@demo.example, same password\n"
            f"  Client portal:    {client_link}\n"
            f"                    (one-time link for hank@globex.example; a fresh one: "
            f"{env}.venv/bin/python manage.py invite_link --tenant demo "
            "--email hank@globex.example)\n"
            f"  Platform admin:   {tenant.absolute_url('').replace('demo.', '')}/admin/"
            f"   platform@localhost / {PASSWORD}\n"
        )

    def _populate(self, tenant: Tenant) -> None:
        tenant.portal_name = "Demo Software Onboarding"
        tenant.welcome_message = (
            "Welcome aboard! This portal is our shared plan: every step, who owns it and when "
            "it is due. Start with the next step at the top."
        )
        tenant.logo.save("demo-logo.png", ContentFile(_logo_png(tenant.primary_color)))
        tenant.save()
        users = {}
        for email, name, role in MEMBERS:
            user = User.objects.filter(email=email).first() or User.objects.create_user(
                email, PASSWORD, full_name=name
            )
            add_member(tenant, user, role)
            users[role] = user
        today = tenant.local_today()
        with tenant_context(tenant):
            FaqEntry.objects.bulk_create(
                FaqEntry(question=q, answer=a, position=i)
                for i, (q, a) in enumerate(
                    [
                        ("Who do I contact with a question?", "Your CSM, listed under contacts."),
                        ("How long does onboarding take?", "Between 3 weeks and 3 months."),
                        ("Where are the training recordings?", "Under Training, once held."),
                    ]
                )
            )
            for name, model, age, share, phase, (cname, cemail, crole) in CUSTOMERS:
                customer = Customer.objects.create(name=name)
                onboarding = start_onboarding(
                    customer=customer,
                    playbook=Playbook.objects.get(model=model, is_default=True),
                    start_date=today - dt.timedelta(days=age),
                    name=PROJECTS[name],
                    owner=users[Role.CSM],
                )
                contact = Contact.objects.create(
                    onboarding=onboarding, side="customer", name=cname, email=cemail, role=crole,
                    is_primary=True, is_key_contact=True,
                )  # fmt: skip
                csm_contact = Contact.objects.create(
                    onboarding=onboarding, side="vendor", name="Casey Success",
                    email="csm@demo.example", role="Customer success manager",
                    user=users[Role.CSM], is_key_contact=True, phone="+49 30 1234567",
                )  # fmt: skip
                onboarding.tasks.filter(owner_side="customer").update(owner_contact=contact)
                tasks = list(onboarding.tasks.order_by("due_date", "position"))
                done = round(share * len(tasks))
                Task.objects.filter(pk__in=[t.pk for t in tasks[:done]]).update(
                    status=Task.Status.COMPLETE
                )
                if done < len(tasks):
                    Task.objects.filter(pk=tasks[done].pk).update(status=Task.Status.IN_PROGRESS)
                if model == "high":
                    Task.objects.filter(pk=tasks[done + 1].pk).update(
                        status=Task.Status.BLOCKED,
                        blocked_reason="Waiting for the ERP export from the customer's IT team.",
                    )
                TrainingResource.objects.bulk_create(
                    [
                        TrainingResource(onboarding=onboarding, title="Quick-start guide",
                                         kind="guide", url="https://example.com/quick-start",
                                         audience="Everyone"),
                        TrainingResource(onboarding=onboarding, title="Admin workflow video",
                                         kind="video", url="https://example.com/admin-video",
                                         audience="Admins"),
                    ]
                )  # fmt: skip
                update_handoff(
                    onboarding,
                    {
                        **HANDOFFS[name],
                        "renewal_date": onboarding.start_date + dt.timedelta(days=365),
                        "account_executive": users[Role.AE].get_full_name(),
                    },
                    1,
                    users[Role.AE],
                )
                client = invite_contact(tenant, contact, send_email=False).user
                self._steps_so_far(onboarding, contact, csm_contact, users[Role.CSM], phase)
                # The phase the finished tasks say it is in, and its milestones achieved to match,
                # on their due dates (rather than today) so time to first value reads true.
                closing = phase == Onboarding.Status.CLOSED  # closed below, by its close review
                Onboarding.objects.filter(pk=onboarding.pk).update(
                    status=Onboarding.Status.GO_LIVE if closing else phase
                )
                for milestone in onboarding.milestones.all():
                    if refresh_milestone(milestone.pk) == "achieved":
                        noon = dt.datetime.combine(milestone.due_date, dt.time(12), tenant.tz)
                        Milestone.objects.filter(pk=milestone.pk).update(
                            achieved_at=min(noon, timezone.now())
                        )
                self._history(tenant, onboarding, name, age)
                if closing:
                    submit_close_review(
                        onboarding,
                        {
                            "day90_criteria_met": "yes",
                            "usage_at_close": "36 of 40 agents work the new queue every day.",
                            "next_quarter_goals": "Automate the first-line triage rules.",
                            "ongoing_csm": users[Role.CSM].pk,
                            "qbr_date": today + dt.timedelta(days=30),
                        },
                        users[Role.CSM],
                    )
                    NpsResponse.objects.create(
                        onboarding=onboarding, user=client, score=9,
                        comment="Smooth rollout; the weekly plan kept everyone honest.",
                    )  # fmt: skip

    def _steps_so_far(
        self, onboarding: Onboarding, client: Contact, csm: Contact, by: User, phase: str
    ) -> None:
        """The kickoff and the requirements intake as far as the finished tasks say: a kickoff
        held on its task's due date, or one scheduled for the days ahead; requirements once they
        were documented, each tied to the plan task that delivers it."""
        tasks = {t.title: t for t in onboarding.tasks.all()}
        held = tasks["Hold the kickoff call"]
        if held.status == Task.Status.COMPLETE:
            when = dt.datetime.combine(held.due_date, dt.time(10), onboarding.tenant.tz)
            kickoff = Kickoff.objects.create(
                onboarding=onboarding, scheduled_at=when, held_at=when + dt.timedelta(hours=1),
                location="https://meet.example.com/kickoff", goals_confirmed=True,
                criteria_day30="Every user signed in; the first workflow runs in production.",
                criteria_day60="Integrations in daily use; champions answer first questions.",
                criteria_day90="The goals of the handoff met; the close review held.",
                definition_of_done="The customer runs its main workflow without our help.",
                cadence="Weekly, Tuesdays 10:00", channel="A shared Slack channel",
                vendor_escalation=csm, customer_escalation=client,
            )  # fmt: skip
            KickoffAttendee.objects.bulk_create(
                KickoffAttendee(kickoff=kickoff, contact=c) for c in (client, csm)
            )
        elif phase == Onboarding.Status.KICKOFF:
            today = onboarding.tenant.local_today()
            schedule_kickoff(
                onboarding,
                {"date": today + dt.timedelta(days=2), "time": dt.time(10),
                 "duration_minutes": 60, "location": "https://meet.example.com/kickoff",
                 "attendees": [client.pk, csm.pk]},
                None,
                by,
            )  # fmt: skip
        if tasks["Document technical requirements"].status != Task.Status.COMPLETE:
            return
        for category, title, details, task_title, extra in REQUIREMENTS:
            item = add_requirement(
                onboarding, {"category": category, "title": title, "details": details, **extra}, by
            )
            if task_title in tasks:
                RequirementItem.objects.filter(pk=item.pk).update(task=tasks[task_title])

    def _history(self, tenant: Tenant, onboarding: Onboarding, name: str, age: int) -> None:
        """Product usage since the start, growing towards the customer's adoption, and a few
        early support tickets: what the health score and the metrics read."""
        seats = HANDOFFS[name]["seats"]
        start = onboarding.start_date
        UsageRecord.objects.bulk_create(
            UsageRecord(
                customer=onboarding.customer,
                date=start + dt.timedelta(days=day),
                active_users=round(seats * ADOPTION[name] * min(1, (day + 1) / 30)),
            )
            for day in range(age + 1)
        )
        SupportTicket.objects.bulk_create(
            SupportTicket(
                customer=onboarding.customer,
                external_id=f"ZD-{onboarding.pk}-{n}",
                opened_at=dt.datetime.combine(
                    start + dt.timedelta(days=day), dt.time(10), tenant.tz
                ),
                subject=subject,
            )
            for n, (day, subject) in enumerate(
                [(2, "Cannot invite colleagues"), (9, "Import failed on row 1200")]
            )
            if day <= age
        )
