"""The name a tenant knows a person by.

A user account belongs to the person and is shared by every tenant that invited their address,
so no tenant writes its own label for them into it: another tenant would see that label. What a
tenant calls a customer-side person is the name on its Contact in the onboarding. Pages show that
name, else the account's own name, else the address.
"""

from __future__ import annotations

from django.db.models import CharField, F, OuterRef, Subquery, Value
from django.db.models.functions import Coalesce, NullIf

from accounts.models import User
from onboarding.models import Contact


def known_name(user: str, onboarding: str) -> Coalesce:
    """An annotation: the name of the user at the path `user`, as the onboarding at the path
    `onboarding` knows them (both relative to the annotated model, e.g. "author" and
    "task__onboarding"). A subquery, so a list of any length costs no extra query."""
    contact_name = (
        Contact.objects.filter(onboarding_id=OuterRef(onboarding), user_id=OuterRef(user))
        .order_by("pk")
        .values("name")[:1]
    )
    return Coalesce(
        Subquery(contact_name),
        NullIf(F(f"{user}__full_name"), Value("")),
        F(f"{user}__email"),
        output_field=CharField(),
    )


def name_of(user, onboarding=None) -> str:
    """How the current tenant (or, given one, the onboarding) knows a person: as its customer
    contact, else by their own account name, else their address. One query."""
    contacts = Contact.objects.filter(user=user, side="customer")
    if onboarding is not None:
        contacts = contacts.filter(onboarding=onboarding)
    known = contacts.order_by("pk").values_list("name", flat=True).first()
    return known or user.get_full_name()


def name_for_address(address: str) -> str:
    """How the current tenant knows whoever has this address (a reminder's recipient, staff or
    customer): a contact's name, else the account's own name; "" when neither has one."""
    return (
        Contact.objects.filter(email=address).values_list("name", flat=True).first()
        or User.objects.filter(email=address).values_list("full_name", flat=True).first()
        or ""
    )
