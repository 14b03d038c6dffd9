"""The platform admin: served only on the bare base domain, to platform staff, across tenants."""

from django.contrib import admin

from .models import Customer, Onboarding, Playbook, Task


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "created_at")
    list_filter = ("tenant",)
    search_fields = ("name",)


@admin.register(Onboarding)
class OnboardingAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "model", "status", "start_date")
    list_filter = ("tenant", "model", "status")
    list_select_related = ("tenant",)
    raw_id_fields = ("customer", "owner", "playbook")
    # The phase moves through the handoff gate and the close review, not by editing this field.
    readonly_fields = ("status",)


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("title", "tenant", "onboarding", "status", "due_date")
    list_filter = ("tenant", "status")
    list_select_related = ("tenant", "onboarding")
    raw_id_fields = ("onboarding", "milestone", "owner_contact")


@admin.register(Playbook)
class PlaybookAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "model", "length_days", "is_default")
    list_filter = ("tenant",)
