from allauth.account.forms import ResetPasswordForm

from portal.tenancy.context import current_tenant_or_none

from .models import Membership


class TenantResetPasswordForm(ResetPasswordForm):
    """Password reset for this tenant's members only.

    Someone who is not a member here is treated exactly like an unknown address: the same page,
    and no reset link for this host in anybody's mailbox.
    """

    def clean_email(self) -> str:
        email = super().clean_email()
        tenant = current_tenant_or_none()
        if tenant is None:
            self.users = [u for u in self.users if u.is_staff]
        else:
            members = set(
                Membership.objects.filter(user__in=self.users).values_list("user_id", flat=True)
            )
            self.users = [u for u in self.users if u.pk in members]
        return email
