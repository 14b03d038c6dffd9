"""The platform admin's guard for tenant-owned rows: it works across tenants, so it checks links."""

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model

from .models import TenantOwned


class SameTenantForm(forms.ModelForm):
    """Refuses a link to another tenant's row, and from a row of one onboarding to a row of
    another (of the same tenant).

    The admin works across tenants, so its raw-id fields accept any row's id; a task pointed at
    another tenant's onboarding would show one tenant's work in the other's workspace, and a task
    whose owner is another customer's contact would send that customer reminders about this one.
    """

    def clean(self):
        data = super().clean()
        tenant = data.get("tenant") or (self.instance.tenant if self.instance.tenant_id else None)
        onboarding_id = _onboarding_id(data, self.instance)
        user_model = get_user_model()
        for name, value in list(data.items()):
            if tenant is None:
                break
            if isinstance(value, TenantOwned) and value.tenant_id != tenant.pk:
                self.add_error(name, f"This belongs to another tenant than {tenant}.")
            elif isinstance(value, user_model) and not _is_member(value, tenant):
                self.add_error(name, f"This user is not a member of {tenant}.")
            elif (
                name != "onboarding"
                and onboarding_id is not None
                and getattr(value, "onboarding_id", onboarding_id) != onboarding_id
            ):
                self.add_error(name, "This belongs to another onboarding than this row's.")
        return data


def _onboarding_id(data: dict, instance) -> int | None:
    """The onboarding the edited row belongs to, if it belongs to one."""
    if "onboarding" in data:
        return getattr(data["onboarding"], "pk", None)
    return getattr(instance, "onboarding_id", None)


def _is_member(user, tenant) -> bool:
    return user.memberships.filter(tenant=tenant).exists()


class TenantOwnedAdmin(admin.ModelAdmin):
    form = SameTenantForm

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        # A row's tenant is chosen when it is added. Moving it later would leave the rows that
        # point at it (an onboarding's tasks, contacts, accesses) linked across two tenants.
        return fields if obj is None else (*fields, "tenant")
