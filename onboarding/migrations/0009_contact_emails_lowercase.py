"""Contacts imported from CRM exports kept the address as typed; lookups now compare exactly
against the lowercased spelling (accounts.addresses), so store that spelling everywhere."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("onboarding", "0008_delivery_outcomes")]

    operations = [
        migrations.RunSQL(
            "UPDATE onboarding_contact SET email = LOWER(email) WHERE email <> LOWER(email)",
            reverse_sql=migrations.RunSQL.noop,
        )
    ]
