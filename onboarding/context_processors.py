"""Template context about the signed-in person, as the current tenant knows them."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from onboarding.people import name_of


def person(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or getattr(request, "tenant", None) is None:
        return {}
    # Evaluated only by a page that shows it.
    return {"person_name": SimpleLazyObject(lambda: name_of(user))}
