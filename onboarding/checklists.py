"""The phase checklists of domain.md, for one onboarding.

An item is either *derived* — the data answers it, nobody ticks it, and it changes as the data
changes — or *manual* — only a person knows (a ChecklistTick row records who said so and when).
Which one an item is never depends on the data, so a tick is never stored for a derived item and a
derived item can never be "ticked" into a state the data contradicts.

Where each derived item looks:

Pre-kickoff
  handoff-complete     services.handoff.handoff_missing(onboarding) is empty, when that module
                       exists; otherwise every field the tenant requires
                       (Tenant.handoff_required_fields) is filled on the HandoffDocument,
                       "stakeholders" meaning at least one customer contact with a role.
  portal-shared        any PortalAccess of the onboarding (someone was invited).
  kickoff-scheduled    Kickoff.scheduled_at set, not cancelled, with attendees of both sides (what
                       services.kickoff requires to schedule one); a held kickoff counts.
  timeline-drafted     the onboarding has milestones.
Kickoff
  kickoff-held         Kickoff.held_at set.
  goals-confirmed      Kickoff.goals_confirmed and the day-30, day-60 and day-90 criteria written.
  cadence-set          Kickoff cadence, channel and an escalation contact on each side.
  next-steps-recorded  Kickoff.held_at set: services.kickoff.record_outcome marks the kickoff held
                       only together with its next steps, each a plan task with an owner and a
                       deadline (a task does not record where it came from, so this is the
                       signal the data has).
Setup (from the requirements intake)
  requirements-documented  at least one RequirementItem.
  integrations-configured, accounts-created, security-configured, migration-done
                       requirements are documented and every RequirementItem of that category
                       has a plan task that is complete (none in the category: nothing to do).
Training
  sessions-scheduled   user groups exist and each has at least one TrainingSession.
  self-serve-material  training resources exist and every held session has a recording.
  champions-trained    champions are named and each has champion_trained_at.
Go-live and close
  go-live-met          the last milestone is met (achieved_at set, as everywhere).
  health-day30/90      a HealthScore snapshot of kind day30 / day90 exists.
  close-review-held    a CloseReview exists.
  ongoing-csm-introduced  CloseReview.ongoing_csm_introduced.
  qbr-scheduled        CloseReview.qbr_date set.

Manual: timeline-agreed, kb-access-confirmed.

`phase_checklists` reads all of it in four queries whatever the data size (plus what
handoff_missing needs, when that module exists).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import dateformat

from accounts.models import Tenant, User
from onboarding.models import (
    ChecklistTick,
    Contact,
    HandoffDocument,
    HealthScore,
    KickoffAttendee,
    Milestone,
    Onboarding,
    PortalAccess,
    RequirementItem,
    Side,
    TrainingGroup,
    TrainingResource,
    TrainingSession,
)
from onboarding.selectors_portfolio import open_milestones
from onboarding.services import activity

CLOSED_MESSAGE = "This onboarding is closed; its checklist is read-only."


@dataclass
class Verdict:
    done: bool
    detail: str = ""


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    # How the data answers it; None: ticked by hand.
    derive: Callable[[Facts], Verdict] | None = None

    @property
    def manual(self) -> bool:
        return self.derive is None


@dataclass
class Facts:
    """Everything the derived items look at, read once."""

    tenant: Tenant
    onboarding: Onboarding  # annotated by _facts_query
    handoff_missing: list[str]
    requirements: list[tuple[str, str | None]]  # (category, status of its task or None)

    @property
    def kickoff(self):
        return getattr(self.onboarding, "kickoff", None)

    @property
    def close_review(self):
        return getattr(self.onboarding, "close_review", None)

    def local(self, value) -> str:
        return dateformat.format(value.astimezone(self.tenant.tz), "M j, Y H:i")


# --- The derived items -------------------------------------------------------------------------


def _handoff(f: Facts) -> Verdict:
    if f.handoff_missing:
        return Verdict(False, "Missing: " + ", ".join(f.handoff_missing))
    return Verdict(True)


def _portal_shared(f: Facts) -> Verdict:
    n = f.onboarding.access_count
    return Verdict(n > 0, f"{n} invited" if n else "Nobody invited to the portal yet")


def _kickoff_scheduled(f: Facts) -> Verdict:
    kickoff = f.kickoff
    if kickoff is not None and kickoff.held_at:
        return Verdict(True, f"Held {f.local(kickoff.held_at)}")
    if kickoff is None or not kickoff.scheduled_at:
        return Verdict(False, "Not scheduled")
    if kickoff.cancelled_at:
        return Verdict(False, "Cancelled")
    if not (f.onboarding.kickoff_has_customer and f.onboarding.kickoff_has_vendor):
        return Verdict(False, "Attendees of both sides not invited")
    return Verdict(True, f"For {f.local(kickoff.scheduled_at)}")


def _timeline_drafted(f: Facts) -> Verdict:
    n = f.onboarding.milestone_count
    return Verdict(n > 0, f"{n} milestones" if n else "No milestones")


def _kickoff_held(f: Facts) -> Verdict:
    kickoff = f.kickoff
    if kickoff is None or not kickoff.held_at:
        return Verdict(False)
    return Verdict(True, f.local(kickoff.held_at))


def _next_steps(f: Facts) -> Verdict:
    kickoff = f.kickoff
    if kickoff is None or not kickoff.held_at:
        return Verdict(False, "Recorded with the kickoff outcome")
    return Verdict(True, "with the kickoff outcome")


def _missing(pairs: list[tuple[str, object]]) -> Verdict:
    missing = [label for label, value in pairs if not value]
    return Verdict(not missing, "Missing: " + ", ".join(missing) if missing else "")


def _goals_confirmed(f: Facts) -> Verdict:
    k = f.kickoff
    if k is None:
        return Verdict(False, "No kickoff yet")
    return _missing(
        [
            ("goals confirmed", k.goals_confirmed),
            ("day-30 criteria", k.criteria_day30.strip()),
            ("day-60 criteria", k.criteria_day60.strip()),
            ("day-90 criteria", k.criteria_day90.strip()),
        ]
    )


def _cadence_set(f: Facts) -> Verdict:
    k = f.kickoff
    if k is None:
        return Verdict(False, "No kickoff yet")
    return _missing(
        [
            ("cadence", k.cadence.strip()),
            ("channel", k.channel.strip()),
            ("our escalation contact", k.vendor_escalation_id),
            ("customer escalation contact", k.customer_escalation_id),
        ]
    )


def _requirements_documented(f: Facts) -> Verdict:
    n = len(f.requirements)
    return Verdict(n > 0, f"{n} requirements" if n else "No requirements yet")


def _requirements_done(category: str, noun: str) -> Callable[[Facts], Verdict]:
    def derive(f: Facts) -> Verdict:
        if not f.requirements:
            return Verdict(False, "Requirements not documented yet")
        statuses = [status for cat, status in f.requirements if cat == category]
        if not statuses:
            return Verdict(True, f"No {noun} in scope")
        done = sum(1 for s in statuses if s == "complete")
        return Verdict(done == len(statuses), f"{done} of {len(statuses)} {noun} done")

    return derive


def _sessions_scheduled(f: Facts) -> Verdict:
    groups, without = f.onboarding.group_count, f.onboarding.groups_without_session
    if not groups:
        return Verdict(False, "No user groups yet")
    return Verdict(not without, f"{groups - without} of {groups} groups have a session")


def _self_serve(f: Facts) -> Verdict:
    resources, unrecorded = f.onboarding.resource_count, f.onboarding.held_without_recording
    if not resources:
        return Verdict(False, "No material in the portal")
    if unrecorded:
        return Verdict(False, f"{unrecorded} held sessions have no recording")
    return Verdict(True, f"{resources} resources")


def _champions(f: Facts) -> Verdict:
    total, untrained = f.onboarding.champion_count, f.onboarding.champions_untrained
    if not total:
        return Verdict(False, "No champions named")
    return Verdict(not untrained, f"{total - untrained} of {total} trained")


def _go_live(f: Facts) -> Verdict:
    name = f.onboarding.last_milestone_name
    if name is None:
        return Verdict(False, "No milestones")
    return Verdict(not f.onboarding.last_milestone_open, name)


def _snapshot(flag: str) -> Callable[[Facts], Verdict]:
    return lambda f: Verdict(bool(getattr(f.onboarding, flag)))


def _close_review(f: Facts) -> Verdict:
    return Verdict(f.close_review is not None)


def _ongoing_csm(f: Facts) -> Verdict:
    review = f.close_review
    return Verdict(bool(review and review.ongoing_csm_introduced))


def _qbr(f: Facts) -> Verdict:
    review = f.close_review
    if review is None or review.qbr_date is None:
        return Verdict(False)
    return Verdict(True, dateformat.format(review.qbr_date, "M j, Y"))


# --- The checklists ----------------------------------------------------------------------------

Status = Onboarding.Status
PHASES: tuple[tuple[str, str, tuple[Item, ...]], ...] = (
    (
        Status.PRE_KICKOFF,
        "Pre-kickoff",
        (
            Item("handoff-complete", "Handoff complete", _handoff),
            Item("portal-shared", "Portal created and shared with the client", _portal_shared),
            Item(
                "kickoff-scheduled", "Kickoff scheduled with key stakeholders", _kickoff_scheduled
            ),
            Item("timeline-drafted", "Timeline drafted", _timeline_drafted),
        ),
    ),
    (
        Status.KICKOFF,
        "Kickoff",
        (
            Item("kickoff-held", "Kickoff held", _kickoff_held),
            Item("goals-confirmed", "Goals and success criteria confirmed", _goals_confirmed),
            Item("timeline-agreed", "Timeline and milestones agreed"),
            Item("cadence-set", "Cadence and escalation path set", _cadence_set),
            Item("next-steps-recorded", "Next steps recorded with owners and dates", _next_steps),
        ),
    ),
    (
        Status.SETUP,
        "Setup",
        (
            Item(
                "requirements-documented",
                "Technical requirements documented",
                _requirements_documented,
            ),
            Item(
                "integrations-configured",
                "Integrations configured and tested",
                _requirements_done(RequirementItem.Category.INTEGRATION, "integrations"),
            ),
            Item(
                "accounts-created",
                "User accounts created with the right permissions",
                _requirements_done(RequirementItem.Category.ACCOUNTS, "account requirements"),
            ),
            Item(
                "security-configured",
                "Security settings (SSO, MFA, data access) configured",
                _requirements_done(RequirementItem.Category.SECURITY, "security requirements"),
            ),
            Item(
                "migration-done",
                "Data migration done and validated",
                _requirements_done(RequirementItem.Category.MIGRATION, "migration requirements"),
            ),
        ),
    ),
    (
        Status.TRAINING,
        "Training",
        (
            Item(
                "sessions-scheduled", "Sessions scheduled for every user group", _sessions_scheduled
            ),
            Item(
                "self-serve-material",
                "Recordings and self-serve material in the portal",
                _self_serve,
            ),
            Item("champions-trained", "Champions trained and confident", _champions),
            Item("kb-access-confirmed", "Knowledge-base access confirmed"),
        ),
    ),
    (
        Status.GO_LIVE,
        "Go-live and close",
        (
            Item("go-live-met", "Go-live milestone met and recorded", _go_live),
            Item("health-day30", "Health score captured at day 30", _snapshot("has_day30")),
            Item("health-day90", "Health score captured at day 90", _snapshot("has_day90")),
            Item("close-review-held", "Close review held", _close_review),
            Item("ongoing-csm-introduced", "Ongoing CSM introduced", _ongoing_csm),
            Item("qbr-scheduled", "First QBR scheduled", _qbr),
        ),
    ),
)
ITEMS: dict[str, Item] = {item.key: item for _, _, items in PHASES for item in items}
MANUAL_KEYS = frozenset(key for key, item in ITEMS.items() if item.manual)


@dataclass
class ItemState:
    item: Item
    done: bool
    detail: str = ""
    tick: ChecklistTick | None = None

    @property
    def key(self) -> str:
        return self.item.key

    @property
    def label(self) -> str:
        return self.item.label

    @property
    def manual(self) -> bool:
        return self.item.manual


@dataclass
class PhaseChecklist:
    key: str
    label: str
    current: bool
    items: list[ItemState] = field(default_factory=list)

    @property
    def done_count(self) -> int:
        return sum(1 for i in self.items if i.done)

    @property
    def total(self) -> int:
        return len(self.items)


# --- Reading -----------------------------------------------------------------------------------


def _count(queryset, outer: str = "onboarding") -> Coalesce:
    counted = queryset.order_by().values(outer).annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))


def _facts_query(onboarding: Onboarding) -> Onboarding:
    """The onboarding with its kickoff, close review and handoff joined, and every count the
    derived items need as a subquery: one query."""
    here = OuterRef("pk")
    last_milestone = Milestone.objects.filter(onboarding=here).order_by(
        "-position", "-due_date", "-id"
    )[:1]
    groups = TrainingGroup.objects.filter(onboarding=here)
    champions = Contact.objects.filter(onboarding=here, is_champion=True)
    held_sessions = TrainingSession.objects.filter(group__onboarding=here, held_at__isnull=False)
    return (
        Onboarding.objects.select_related("kickoff", "close_review", "handoff")
        .filter(pk=onboarding.pk)
        .annotate(
            access_count=_count(PortalAccess.objects.filter(onboarding=here)),
            kickoff_has_customer=Exists(
                KickoffAttendee.objects.filter(
                    kickoff__onboarding=here, contact__side=Side.CUSTOMER
                )
            ),
            kickoff_has_vendor=Exists(
                KickoffAttendee.objects.filter(kickoff__onboarding=here, contact__side=Side.VENDOR)
            ),
            milestone_count=_count(Milestone.objects.filter(onboarding=here)),
            last_milestone_name=Subquery(last_milestone.values("name")),
            # One level deeper, so the onboarding is OuterRef(OuterRef("pk")) there.
            last_milestone_open=Exists(
                open_milestones().filter(
                    pk=Subquery(
                        Milestone.objects.filter(onboarding=OuterRef(here))
                        .order_by("-position", "-due_date", "-id")
                        .values("pk")[:1]
                    )
                )
            ),
            group_count=_count(groups),
            groups_without_session=_count(
                groups.filter(~Exists(TrainingSession.objects.filter(group=OuterRef("pk"))))
            ),
            resource_count=_count(TrainingResource.objects.filter(onboarding=here)),
            held_without_recording=_count(
                held_sessions.filter(recording_url=""), outer="group__onboarding"
            ),
            champion_count=_count(champions),
            champions_untrained=_count(champions.filter(champion_trained_at__isnull=True)),
            has_day30=Exists(
                HealthScore.objects.filter(onboarding=here, kind=HealthScore.Kind.DAY30)
            ),
            has_day90=Exists(
                HealthScore.objects.filter(onboarding=here, kind=HealthScore.Kind.DAY90)
            ),
            has_stakeholders=Exists(
                Contact.objects.filter(onboarding=here, side=Side.CUSTOMER).exclude(role="")
            ),
        )
        .get()
    )


def _handoff_missing_service() -> Callable[[Onboarding], list[str]] | None:
    """services.handoff.handoff_missing once that module exists: the handoff step owns the rule."""
    try:
        module = importlib.import_module("onboarding.services.handoff")
    except ModuleNotFoundError as exc:
        if exc.name != "onboarding.services.handoff":
            raise  # the module exists but is broken: say so
        return None
    return getattr(module, "handoff_missing", None)


def _fallback_handoff_missing(tenant: Tenant, onboarding: Onboarding) -> list[str]:
    """The tenant's required handoff fields that are still empty (used until the handoff step's
    own rule exists)."""
    handoff = getattr(onboarding, "handoff", None)
    missing = []
    for name in tenant.handoff_required_fields or []:
        if name == "stakeholders":
            if not onboarding.has_stakeholders:
                missing.append("stakeholders")
            continue
        try:
            model_field = HandoffDocument._meta.get_field(name)
        except FieldDoesNotExist:  # a stale name in the tenant's settings: nothing to fill
            continue
        value = getattr(handoff, name, None) if handoff is not None else None
        if value is None or value == "" or value == [] or value == {}:
            missing.append(str(model_field.verbose_name))
    return missing


def phase_checklists(tenant: Tenant, onboarding: Onboarding) -> list[PhaseChecklist]:
    """The five phase checklists of one onboarding of `tenant` (the tenant in scope)."""
    annotated = _facts_query(onboarding)
    service = _handoff_missing_service()
    missing = (
        list(service(annotated))  # its handoff is joined already: no query for it
        if service is not None
        else _fallback_handoff_missing(tenant, annotated)
    )
    requirements = list(
        RequirementItem.objects.filter(onboarding=onboarding).values_list(
            "category", "task__status"
        )
    )
    ticks = {
        t.item_key: t
        for t in ChecklistTick.objects.filter(onboarding=onboarding).select_related("ticked_by")
    }
    facts = Facts(tenant, annotated, missing, requirements)
    current = onboarding.status if onboarding.status != Status.CLOSED else Status.GO_LIVE
    result = []
    for key, label, items in PHASES:
        phase = PhaseChecklist(key=key, label=label, current=key == current)
        for item in items:
            if item.manual:
                tick = ticks.get(item.key)
                phase.items.append(ItemState(item, done=tick is not None, tick=tick))
            else:
                verdict = item.derive(facts)
                phase.items.append(ItemState(item, verdict.done, verdict.detail))
        result.append(phase)
    return result


# --- Writing -----------------------------------------------------------------------------------


class UnknownItem(LookupError):
    """No manual item has that key (derived items cannot be ticked)."""


def set_tick(onboarding: Onboarding, item_key: str, *, done: bool, by: User) -> bool:
    """Tick (done) or untick a manual item; True if that changed anything. The change and its
    activity entry land together. Raises UnknownItem, or ValidationError on a closed onboarding.
    Who may do it is the caller's check (CSMs and admins)."""
    if item_key not in MANUAL_KEYS:
        raise UnknownItem(item_key)
    label = ITEMS[item_key].label
    with transaction.atomic():
        # Locks the row against a concurrent close: a closed onboarding takes no ticks.
        locked = Onboarding.objects.select_for_update().filter(pk=onboarding.pk).first()
        if locked is None or locked.status == Status.CLOSED:
            raise ValidationError(CLOSED_MESSAGE)
        if done:
            _, changed = ChecklistTick.objects.get_or_create(
                onboarding=onboarding, item_key=item_key, defaults={"ticked_by": by}
            )
        else:
            changed = bool(
                ChecklistTick.objects.filter(onboarding=onboarding, item_key=item_key).delete()[0]
            )
        if changed:
            verb = "ticked" if done else "unticked"
            activity.record(onboarding, by, f'{by.get_full_name()} {verb} "{label}"')
    return changed
