"""The activity log of an onboarding: who changed what, in words a person reads."""

from __future__ import annotations

from accounts.models import User
from onboarding.models import ActivityEntry, Onboarding


def record(onboarding: Onboarding, actor: User | None, text: str) -> ActivityEntry:
    """Call inside the transaction of the change it describes, so both land or neither does."""
    return ActivityEntry.objects.create(
        onboarding=onboarding,
        actor=actor if actor is not None and actor.is_authenticated else None,
        text=text[:500],
    )
