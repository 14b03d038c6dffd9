from django.contrib import admin

from .models import Membership, Tenant, TenantDomain, User


class DomainInline(admin.TabularInline):
    model = TenantDomain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "time_zone")
    search_fields = ("name", "slug")
    inlines = [DomainInline]


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ("email", "full_name", "is_staff", "is_active")
    search_fields = ("email", "full_name")
    exclude = ("password",)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "tenant", "role")
    list_filter = ("tenant", "role")
    raw_id_fields = ("user",)
