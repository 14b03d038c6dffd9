"""The platform admin: served only on the bare base domain, to platform staff, across tenants."""

from django.contrib import admin

from portal.tenancy.admin import TenantOwnedAdmin
from portal.tenancy.context import tenant_context

from .models import Customer, Milestone, Onboarding, Playbook, Task
from .services.plan import refresh_milestone


@admin.register(Customer)
class CustomerAdmin(TenantOwnedAdmin):
    list_display = ("name", "tenant", "created_at")
    list_filter = ("tenant",)
    search_fields = ("name",)


@admin.register(Onboarding)
class OnboardingAdmin(TenantOwnedAdmin):
    list_display = ("name", "tenant", "model", "status", "start_date")
    list_filter = ("tenant", "model", "status")
    list_select_related = ("tenant",)
    raw_id_fields = ("customer", "owner", "playbook")
    # The phase moves through the handoff gate and the close review, not by editing this field.
    readonly_fields = ("status",)


@admin.register(Task)
class TaskAdmin(TenantOwnedAdmin):
    list_display = ("title", "tenant", "onboarding", "status", "due_date")
    list_filter = ("tenant", "status")
    list_select_related = ("tenant", "onboarding")
    raw_id_fields = ("onboarding", "milestone", "owner_contact")

    # A milestone is achieved when all its tasks are complete (the health score and the plan read
    # achieved_at): keep it in step after an edit here, as the services do after theirs.
    def save_model(self, request, obj, form, change):
        before = Task.objects.filter(pk=obj.pk).values_list("milestone_id", flat=True).first()
        super().save_model(request, obj, form, change)
        self._refresh({before, obj.milestone_id})

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        self._refresh({obj.milestone_id})

    def delete_queryset(self, request, queryset):
        milestone_ids = set(queryset.values_list("milestone_id", flat=True))
        super().delete_queryset(request, queryset)
        self._refresh(milestone_ids)

    @staticmethod
    def _refresh(milestone_ids) -> None:
        """Each milestone in the scope of its own tenant (the admin works across tenants)."""
        rows = Milestone.objects.filter(pk__in=milestone_ids - {None}).select_related("tenant")
        for milestone in rows:
            with tenant_context(milestone.tenant):
                refresh_milestone(milestone.pk)


@admin.register(Playbook)
class PlaybookAdmin(TenantOwnedAdmin):
    list_display = ("name", "tenant", "model", "length_days", "is_default")
    list_filter = ("tenant",)
