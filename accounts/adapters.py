from urllib.parse import urlsplit

from allauth.account.adapter import DefaultAccountAdapter

from .models import Membership


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Staff accounts are created by tenant admins and the platform, never by open sign-up.
        return False

    def authenticate(self, request, **credentials):
        """Password sign-in only for this tenant's members (platform staff on the platform host).

        A valid password of someone who is not a member here fails exactly like a wrong one.
        """
        user = super().authenticate(request, **credentials)
        if user is None:
            return None
        tenant = getattr(request, "tenant", None)
        if tenant is None:
            return user if user.is_staff else None
        return user if Membership.objects.filter(user=user).exists() else None

    def get_reset_password_from_key_url(self, key: str) -> str:
        """Reset links point at the tenant's platform subdomain: never at the request's Host
        header, and never at a custom domain.

        A reset key works for the user on every tenant's host, and a custom domain is DNS the
        tenant controls: a link there would hand one tenant the keys of people who are also
        members of another tenant.
        """
        url = super().get_reset_password_from_key_url(key)
        tenant = getattr(self.request, "tenant", None)
        if tenant is None:
            return url
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return tenant.subdomain_url(path)
