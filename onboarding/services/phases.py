"""Moving an onboarding between phases (pre-kickoff, kickoff, setup, training, go-live).

Who may move it (CSMs and admins) is checked by the view; the rules of the move live here:
leaving pre-kickoff needs a complete handoff, and "closed" is never reached this way (closing is
a formal review: `onboarding.services.closing.close_onboarding`).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from onboarding.models import Onboarding
from onboarding.services.activity import record
from onboarding.services.handoff import handoff_missing, missing_sentence

Status = Onboarding.Status
MOVABLE = [s for s in Status if s != Status.CLOSED]


class PhaseRefused(ValidationError):
    """The move is not allowed; `missing` lists the handoff's empty required fields, if any."""

    def __init__(self, message: str, missing: list[str] | None = None):
        super().__init__({"phase": message})
        self.missing = missing or []


def move_to_phase(onboarding: Onboarding, phase: str, by: User) -> Onboarding:
    if phase == Status.CLOSED:
        raise PhaseRefused("Close an onboarding from its Close step, with the close review.")
    if phase not in Status.values:
        raise PhaseRefused("Choose one of the phases.")
    with transaction.atomic():
        # Locked so that two moves (or a move and a close) cannot interleave their checks.
        current = Onboarding.objects.select_for_update().get(pk=onboarding.pk)
        if current.status == Status.CLOSED:
            raise PhaseRefused("This onboarding is closed; it is read-only.")
        if current.status == phase:
            raise PhaseRefused(f"The onboarding is already in {Status(phase).label}.")
        if current.status == Status.PRE_KICKOFF:
            missing = handoff_missing(current)
            if missing:
                raise PhaseRefused(
                    missing_sentence(missing) + " Complete it before moving past pre-kickoff.",
                    missing,
                )
        before = Status(current.status).label
        Onboarding.objects.filter(pk=current.pk).update(status=phase)
        record(
            current,
            by,
            f"{by.get_full_name()} moved the onboarding from {before} to {Status(phase).label}",
        )
    onboarding.status = phase
    return onboarding
