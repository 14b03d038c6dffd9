"""Tenants set to "localtime" (whatever the server's clock says) or "Factory" (a placeholder
that names itself "-00") move to UTC: neither is a place a tenant lives in, and the settings
form no longer offers them, so the next save would otherwise have picked the list's first zone.
Both read as UTC on the containers this runs on."""

from django.db import migrations

NOT_PLACES = ("localtime", "Factory")  # accounts.models.NOT_PLACES, frozen here


def places_only(apps, schema_editor):
    Tenant = apps.get_model("accounts", "Tenant")
    Tenant.objects.filter(time_zone__in=NOT_PLACES).update(time_zone="UTC")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0009_sign_in_message_id")]

    operations = [migrations.RunPython(places_only, migrations.RunPython.noop)]
