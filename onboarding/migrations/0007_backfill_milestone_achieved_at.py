"""Milestones whose tasks were all completed before refresh_milestone existed get achieved_at.

The health score reads achieved_at alone; refresh_milestone keeps it in step from now on. The date
is the last completion among the milestone's tasks (now, if none recorded one).
"""

from django.db import migrations
from django.db.models import Exists, Max, OuterRef, Subquery
from django.db.models.functions import Coalesce, Now


def backfill(apps, schema_editor):
    Milestone = apps.get_model("onboarding", "Milestone")
    Task = apps.get_model("onboarding", "Task")
    tasks = Task.objects.filter(milestone=OuterRef("pk"))
    last_done = (
        tasks.order_by().values("milestone").annotate(last=Max("completed_at")).values("last")
    )
    Milestone.objects.filter(achieved_at__isnull=True).filter(Exists(tasks)).exclude(
        Exists(tasks.exclude(status="complete"))
    ).update(achieved_at=Coalesce(Subquery(last_done), Now()))


class Migration(migrations.Migration):
    dependencies = [("onboarding", "0006_reminder_build_indexes")]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
