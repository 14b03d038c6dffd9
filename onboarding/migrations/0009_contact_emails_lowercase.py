"""Contacts imported from CRM exports kept the address as typed; lookups now compare exactly
against one spelling (accounts.addresses), so store that spelling everywhere. Reminder opt-outs
were stored lowercased already; they are checked too."""

from django.db import migrations


def normalize(address: str) -> str:  # accounts.addresses.normalize_email, frozen here
    return address.strip().lower()


def one_spelling(apps, schema_editor):
    for name in ("Contact", "NotificationOptOut"):
        model = apps.get_model("onboarding", name)
        for pk, email in model._base_manager.values_list("pk", "email").iterator():
            if email != normalize(email):
                model._base_manager.filter(pk=pk).update(email=normalize(email))


class Migration(migrations.Migration):
    dependencies = [("onboarding", "0008_delivery_outcomes")]

    operations = [migrations.RunPython(one_spelling, migrations.RunPython.noop)]
