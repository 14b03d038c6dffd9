"""Task edits in the platform admin keep milestones in step, as the services do."""

from __future__ import annotations

import datetime as dt

from django.contrib.admin.sites import site
from django.test import RequestFactory
from django.utils import timezone

from accounts.models import User
from onboarding.models import Milestone, Onboarding, Task
from portal.tenancy.context import cross_tenant, tenant_context
from portal.tenancy.models import TenantOwned
from tests.factories import another_customer, build_world


def _milestone_with_tasks(world, statuses: list[str]) -> tuple[Milestone, list[Task]]:
    with tenant_context(world.tenant):
        milestone = Milestone.objects.create(
            onboarding=world.onboarding, name="Go-live", due_date=timezone.localdate()
        )
        tasks = [
            Task.objects.create(
                onboarding=world.onboarding,
                milestone=milestone,
                title=f"T{i}",
                owner_side="vendor",
                due_date=timezone.localdate(),
                status=status,
            )  # fmt: skip
            for i, status in enumerate(statuses)
        ]
    return milestone, tasks


def _staff_request():
    request = RequestFactory().post("/admin/")
    request.user = User(is_staff=True, is_superuser=True)
    return request


def _achieved(world, milestone) -> bool:
    with tenant_context(world.tenant):
        return Milestone.objects.get(pk=milestone.pk).achieved_at is not None


def test_completing_the_last_task_in_the_admin_achieves_the_milestone(db):
    world = build_world("alpha")
    milestone, (done, last) = _milestone_with_tasks(world, ["complete", "in_progress"])
    admin = site._registry[Task]
    with cross_tenant("platform admin"):
        last.status = "complete"
        last.completed_at = timezone.now()
        admin.save_model(_staff_request(), last, form=None, change=True)
    assert _achieved(world, milestone)
    with cross_tenant("platform admin"):
        done.status = "in_progress"
        done.completed_at = None
        admin.save_model(_staff_request(), done, form=None, change=True)
    assert not _achieved(world, milestone)  # reopened, as the plan page would show


def test_deleting_the_open_tasks_in_the_admin_achieves_the_milestone(db):
    world = build_world("alpha")
    milestone, tasks = _milestone_with_tasks(world, ["complete", "not_started", "in_progress"])
    with cross_tenant("platform admin"):
        queryset = Task.objects.filter(pk__in=[tasks[1].pk, tasks[2].pk])
        site._registry[Task].delete_queryset(_staff_request(), queryset)
    assert _achieved(world, milestone)


def _admin_form(model, obj, **changes):
    admin = site._registry[model]
    request = _staff_request()
    form_class = admin.get_form(request, obj, change=True)
    initial = form_class(instance=obj).initial
    data = {}
    for key, value in initial.items():
        if isinstance(value, dt.datetime):  # the admin's split date and time widget
            data[f"{key}_0"], data[f"{key}_1"] = value.date(), value.time()
        elif value is not None:
            data[key] = value
    data.update(changes)
    return form_class(data=data, instance=obj)


def test_the_admin_refuses_to_link_a_task_to_another_tenants_rows(db):
    alpha, beta = build_world("alpha"), build_world("beta")
    with cross_tenant("platform admin"):
        task = Task.objects.filter(tenant=alpha.tenant, owner_side="customer").first()
        form = _admin_form(
            Task,
            task,
            onboarding=beta.onboarding.pk,
            owner_contact=beta.contact.pk,
            tenant=alpha.tenant.pk,
        )
        assert not form.is_valid()
        assert "another tenant" in form.errors["onboarding"][0]
        assert "another tenant" in form.errors["owner_contact"][0]
        # A link within the task's own tenant is accepted: the check is not a blanket refusal.
        form = _admin_form(
            Task, task, owner_contact=alpha.contact.pk, title="Renamed", tenant=alpha.tenant.pk
        )
        assert form.is_valid(), form.errors
        form.save()
        assert Task.objects.get(pk=task.pk).title == "Renamed"


def test_the_admin_refuses_to_link_a_task_to_another_onboardings_rows(db):
    """Same tenant, another customer: a task owned by that customer's contact would send them
    reminders about this customer's work."""
    alpha = build_world("alpha")
    with cross_tenant("platform admin"):
        other, stranger = another_customer(alpha)
        with tenant_context(alpha.tenant):
            their_milestone = other.milestones.order_by("pk")[0]
        task = Task.objects.filter(onboarding=alpha.onboarding, owner_side="customer").first()
        form = _admin_form(Task, task, owner_contact=stranger.pk, milestone=their_milestone.pk)
        assert not form.is_valid()
        assert "another onboarding" in form.errors["owner_contact"][0]
        assert "another onboarding" in form.errors["milestone"][0]
        # Its own onboarding's contact and milestone are accepted: not a blanket refusal.
        own = _admin_form(
            Task,
            task,
            owner_contact=alpha.contact.pk,
            milestone=alpha.onboarding.milestones.order_by("pk")[0].pk,
        )
        assert own.is_valid(), own.errors


def test_the_admin_refuses_an_onboarding_owner_from_another_tenant(db):
    alpha, beta = build_world("alpha"), build_world("beta")
    with cross_tenant("platform admin"):
        form = _admin_form(Onboarding, alpha.onboarding, owner=beta.csm.pk)
        assert not form.is_valid()
        assert "not a member" in form.errors["owner"][0]
        form = _admin_form(Onboarding, alpha.onboarding, owner=alpha.admin.pk)
        assert form.is_valid(), form.errors


def test_the_admin_never_moves_a_row_to_another_tenant(db):
    """Moving an onboarding would leave its tasks, contacts and accesses in the old tenant,
    pointing at a row of the new one (and the old tenant's pages would show it)."""
    alpha, beta = build_world("alpha"), build_world("beta")
    request = _staff_request()
    tenant_owned = [m for m in site._registry if issubclass(m, TenantOwned)]
    assert Onboarding in tenant_owned and Task in tenant_owned
    with cross_tenant("platform admin"):
        for model in tenant_owned:
            admin = site._registry[model]
            assert "tenant" in admin.get_form(request, None).base_fields, model  # chosen on add
            change_form = admin.get_form(request, model(), change=True)
            assert "tenant" not in change_form.base_fields, model
        form = _admin_form(
            Onboarding, alpha.onboarding, tenant=beta.tenant.pk, customer=beta.customer.pk
        )
        assert not form.is_valid()  # the customer is beta's: refused against alpha
        form = _admin_form(Onboarding, alpha.onboarding, tenant=beta.tenant.pk, name="Renamed")
        assert form.is_valid(), form.errors
        form.save()
        onboarding = Onboarding.objects.get(pk=alpha.onboarding.pk)
    assert (onboarding.name, onboarding.tenant_id) == ("Renamed", alpha.tenant.pk)
