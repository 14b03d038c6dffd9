from django import forms
from django.conf import settings
from django.contrib import admin

from portal.tenancy.admin import TenantOwnedAdmin

from .addresses import normalize_email
from .content_safety import clean_domain_name
from .models import Membership, Tenant, TenantDomain, User


class DomainForm(forms.ModelForm):
    class Meta:
        model = TenantDomain
        # Platform staff may mark a domain verified by hand, having checked it some other way.
        fields = ["domain", "verified_at", "is_primary"]

    def clean_domain(self) -> str:
        return clean_domain_name(self.cleaned_data["domain"], base_domain=settings.BASE_DOMAIN)

    def clean(self):
        data = super().clean()
        if (
            self.instance.pk
            and "domain" in self.changed_data
            and "verified_at" not in self.changed_data
        ):
            data["verified_at"] = None  # a new name is not verified by the old one's record
        if {"domain", "verified_at"} & set(self.changed_data):
            # Verified by hand now, or not at all: the daily DNS re-check is not for this one.
            self.instance.verified_by_dns = False
            self.instance.failed_rechecks = 0
        if data.get("is_primary") and not data.get("verified_at"):
            self.add_error("is_primary", "Only a verified domain can be primary.")
        return data


class DomainInline(admin.TabularInline):
    model = TenantDomain
    form = DomainForm
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "time_zone")
    search_fields = ("name", "slug")
    inlines = [DomainInline]
    # Logos go through the branding page, which decodes and re-encodes them.
    readonly_fields = ("logo",)


class UserForm(forms.ModelForm):
    def clean_email(self) -> str:
        # Stored in one spelling (accounts.addresses): the uniqueness check must see that one.
        return normalize_email(self.cleaned_data["email"])


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    form = UserForm
    list_display = ("email", "full_name", "is_staff", "is_active")
    search_fields = ("email", "full_name")
    exclude = ("password",)


@admin.register(Membership)
class MembershipAdmin(TenantOwnedAdmin):
    form = forms.ModelForm  # its user is the one becoming a member: no link to check
    list_display = ("user", "tenant", "role")
    list_filter = ("tenant", "role")
    raw_id_fields = ("user",)
