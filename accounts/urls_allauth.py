"""allauth's account URLs, minus the ones this product must not offer.

A user's email address is the identity every tenant's invitation attaches to (users are shared
across tenants), so nobody changes their own: with allauth's email management a user of one
tenant could make a not-yet-invited address of another tenant's customer their own, and be handed
that portal access when it is invited. Addresses are set by invitations and by the platform, and
with verification off there is nothing to confirm either.
"""

from allauth.account import urls as account_urls
from django.urls import URLPattern

NOT_OFFERED = {"account_email", "account_email_verification_sent", "account_confirm_email"}

# Only allauth.account is installed (no social accounts, no MFA), so its list is all of allauth's.
urlpatterns: list[URLPattern] = [
    p for p in account_urls.urlpatterns if getattr(p, "name", None) not in NOT_OFFERED
]
