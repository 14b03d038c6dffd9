"""The tenant-owned manager fails closed: every way of touching rows without a scope raises."""

from __future__ import annotations

import pytest
from django.db import connection

from onboarding.models import Contact, Milestone, Onboarding, Task, TaskDependency
from portal.tenancy.context import TenantScopeError, cross_tenant, tenant_context

UNSCOPED_OPERATIONS = {
    "all": lambda: list(Task.objects.all()),
    "filter": lambda: list(Task.objects.filter(status="complete")),
    "get": lambda: Task.objects.get(pk=1),
    "first": lambda: Task.objects.first(),
    "count": lambda: Task.objects.count(),
    "exists": lambda: Task.objects.exists(),
    "aggregate": lambda: Task.objects.aggregate(n=__import__("django").db.models.Count("id")),
    "values": lambda: list(Task.objects.values("id")),
    "values_list": lambda: list(Task.objects.values_list("id", flat=True)),
    "iterator": lambda: list(Task.objects.iterator()),
    "in_bulk": lambda: Task.objects.in_bulk([1]),
    "update": lambda: Task.objects.update(title="x"),
    "delete": lambda: Task.objects.all().delete(),
    "bulk_create": lambda: Task.objects.bulk_create([Task(title="x")]),
    "bulk_update": lambda: Task.objects.bulk_update([Task(pk=1, title="x")], ["title"]),
    "get_or_create": lambda: Customer_get_or_create(),
    "raw": lambda: list(Task.objects.raw("SELECT * FROM onboarding_task")),
    "create": lambda: Onboarding.objects.create(name="x", model="low", start_date="2026-01-01"),
}


def Customer_get_or_create():  # noqa: N802 - named for the table in the parametrised id
    from onboarding.models import Customer

    return Customer.objects.get_or_create(name="x")


@pytest.mark.parametrize("operation", sorted(UNSCOPED_OPERATIONS))
def test_operations_without_a_scope_raise(tenant_a, operation):
    with pytest.raises(TenantScopeError):
        UNSCOPED_OPERATIONS[operation]()


@pytest.mark.parametrize(
    "related",
    [
        lambda w: list(w.onboarding.tasks.all()),
        lambda w: w.onboarding.milestones.count(),
        lambda w: w.onboarding.contacts.exists(),
        lambda w: list(w.task.depends_on.all()),
        lambda w: w.onboarding.tasks.update(title="x"),
    ],
    ids=["reverse-fk-all", "reverse-fk-count", "reverse-fk-exists", "m2m", "reverse-fk-update"],
)
def test_related_managers_without_a_scope_raise(tenant_a, related):
    with pytest.raises(TenantScopeError):
        related(tenant_a)


def test_instance_save_and_delete_need_a_scope(tenant_a):
    with pytest.raises(TenantScopeError):
        tenant_a.task.save()
    with pytest.raises(TenantScopeError):
        tenant_a.task.delete()


def test_scope_filters_every_query_to_its_tenant(tenant_a, tenant_b):
    with tenant_context(tenant_a.tenant):
        ids = set(Task.objects.values_list("tenant_id", flat=True))
        assert ids == {tenant_a.tenant.pk}
        assert not Task.objects.filter(pk=tenant_b.task.pk).exists()
        assert Task.objects.filter(pk=tenant_b.task.pk).update(title="hijacked") == 0
        assert Task.objects.filter(pk=tenant_b.task.pk).delete()[0] == 0
        assert list(tenant_b.onboarding.tasks.all()) == []  # B's onboarding seen from A
        assert Milestone.objects.count() == tenant_a.onboarding.milestones.count() > 0
    with tenant_context(tenant_b.tenant):
        assert Task.objects.get(pk=tenant_b.task.pk).title != "hijacked"


def test_writes_of_another_tenants_rows_are_refused(tenant_a, tenant_b):
    with tenant_context(tenant_a.tenant):
        with pytest.raises(TenantScopeError):
            tenant_b.task.save()
        with pytest.raises(TenantScopeError):
            Task.objects.bulk_create([Task(tenant=tenant_b.tenant, title="x")])
        with pytest.raises(TenantScopeError):
            Task.objects.filter(pk=tenant_a.task.pk).update(tenant=tenant_b.tenant)


def test_new_rows_get_the_tenant_in_scope(tenant_a):
    with tenant_context(tenant_a.tenant):
        contact = Contact.objects.create(onboarding=tenant_a.onboarding, side="vendor", name="N")
        assert contact.tenant_id == tenant_a.tenant.pk
        dependency = TaskDependency.objects.filter(task=tenant_a.task).first()
        assert dependency is None or dependency.tenant_id == tenant_a.tenant.pk


def test_cross_tenant_is_explicit_and_sees_everyone(tenant_a, tenant_b):
    with cross_tenant("test: count every tenant's tasks"):
        tenants = set(Task.objects.values_list("tenant_id", flat=True))
    assert tenants == {tenant_a.tenant.pk, tenant_b.tenant.pk}
    with pytest.raises(ValueError):
        with cross_tenant(""):
            pass


def test_every_tenant_owned_table_carries_the_tenant_column(db):
    from django.apps import apps

    from portal.tenancy.models import TenantOwned

    owned = [m for m in apps.get_models() if issubclass(m, TenantOwned)]
    assert len(owned) >= 14
    for model in owned:
        columns = {c.name for c in connection.introspection.get_table_description(
            connection.cursor(), model._meta.db_table
        )}  # fmt: skip
        assert "tenant_id" in columns, model
        for constraint in model._meta.constraints:
            fields = getattr(constraint, "fields", ()) or ()
            expressions = [str(e) for e in getattr(constraint, "expressions", ())]
            if constraint.__class__.__name__ == "UniqueConstraint":
                assert "tenant" in fields or any("tenant" in e for e in expressions), (
                    model,
                    constraint.name,
                )
