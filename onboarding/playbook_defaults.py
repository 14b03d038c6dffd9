"""The three playbooks every tenant starts with, one per onboarding model.

One outline, taken from the six steps and the phase checklist of the domain brief, is laid over each
model's length: a step's due day is its share of the way through the onboarding. Low-touch drops the
steps a self-serve customer does without (live configuration, live training).
"""

from __future__ import annotations

from dataclasses import dataclass

HIGH, MID, LOW = "high", "mid", "low"
ALL = (HIGH, MID, LOW)

LENGTH_DAYS = {HIGH: 90, MID: 45, LOW: 21}
TYPICAL_RANGE = {HIGH: (60, 90), MID: (30, 60), LOW: (7, 30)}
# Reaching this milestone is the onboarding's time to first value (a tenant may pick another).
FIRST_VALUE_MILESTONE = "first-value"
NAMES = {HIGH: "High-touch (90 days)", MID: "Mid-touch (45 days)", LOW: "Low-touch (21 days)"}


@dataclass(frozen=True)
class MilestoneOutline:
    key: str
    name: str
    success_criteria: str
    at: float  # share of the onboarding's length


@dataclass(frozen=True)
class TaskOutline:
    key: str
    phase: str
    title: str
    owner_side: str
    at: float
    milestone: str
    depends_on: tuple[str, ...] = ()
    models: tuple[str, ...] = ALL


MILESTONES = (
    MilestoneOutline(
        "kickoff-held", "Kickoff held", "Goals, success criteria and timeline confirmed.", 0.10
    ),
    MilestoneOutline(
        "setup-complete",
        "Setup complete",
        "Integrations tested, accounts and security settings in place, data migrated.",
        0.50,
    ),
    MilestoneOutline(
        "first-value",
        "First value",
        "The customer completes its first real workflow in production.",
        0.60,
    ),
    MilestoneOutline(
        "team-trained", "Team trained", "Every user group trained; champions confident.", 0.80
    ),
    MilestoneOutline(
        "go-live", "Go-live and close", "Day-90 criteria reviewed; ongoing CSM introduced.", 1.00
    ),
)

V, C = "vendor", "customer"
TASKS = (
    # Pre-kickoff
    TaskOutline("handoff", "pre_kickoff", "Complete the sales handoff", V, 0.0, "kickoff-held"),
    TaskOutline("portal", "pre_kickoff", "Share the portal with the client", V, 0.02,
                "kickoff-held", ("handoff",)),
    TaskOutline("schedule-kickoff", "pre_kickoff", "Schedule kickoff with key stakeholders", V,
                0.03, "kickoff-held", ("handoff",)),
    TaskOutline("confirm-attendees", "pre_kickoff", "Confirm kickoff attendees and goals", C, 0.05,
                "kickoff-held", ("schedule-kickoff",)),
    # Kickoff
    TaskOutline("kickoff", "kickoff", "Hold the kickoff call", V, 0.10, "kickoff-held",
                ("confirm-attendees",)),
    TaskOutline("success-criteria", "kickoff", "Agree success criteria for day 30, 60 and 90", C,
                0.12, "kickoff-held", ("kickoff",)),
    TaskOutline("cadence", "kickoff", "Set communication cadence and escalation contacts", V, 0.12,
                "kickoff-held", ("kickoff",)),
    # Setup
    TaskOutline("requirements", "setup", "Document technical requirements", C, 0.18,
                "setup-complete", ("kickoff",)),
    TaskOutline("integrations", "setup", "Configure and test integrations", V, 0.35,
                "setup-complete", ("requirements",), (HIGH, MID)),
    TaskOutline("accounts", "setup", "Create user accounts with the right permissions", C, 0.30,
                "setup-complete", ("requirements",)),
    TaskOutline("security", "setup", "Configure SSO, MFA and data access", C, 0.40,
                "setup-complete", ("requirements",), (HIGH, MID)),
    TaskOutline("migration", "setup", "Migrate and validate data", V, 0.48, "setup-complete",
                ("integrations",), (HIGH,)),
    TaskOutline("first-workflow", "setup", "Run the first workflow in production", C, 0.60,
                "first-value", ("accounts",)),
    # Training
    TaskOutline("schedule-training", "training", "Schedule training for every user group", V,
                0.55, "team-trained", ("kickoff",), (HIGH, MID)),
    TaskOutline("self-serve", "training", "Publish recordings and guides in the portal", V, 0.65,
                "team-trained"),
    TaskOutline("champions", "training", "Train champions", V, 0.75, "team-trained",
                ("schedule-training",), (HIGH, MID)),
    TaskOutline("kb-access", "training", "Confirm knowledge-base access for all users", C, 0.78,
                "team-trained"),
    # Go-live and close
    TaskOutline("go-live", "go_live", "Go live", C, 0.85, "go-live", ("first-workflow",)),
    TaskOutline("close-review", "go_live", "Hold the close review", V, 0.95, "go-live",
                ("go-live",)),
    TaskOutline("qbr", "go_live", "Introduce the ongoing CSM and schedule the first QBR", V, 1.0,
                "go-live", ("close-review",)),
)  # fmt: skip


def offset(at: float, model: str) -> int:
    return round(at * LENGTH_DAYS[model])
