"""Invitations used to write the first inviting tenant's contact name into the shared account,
where every other tenant that invited the same person saw it. Client-only accounts (no
membership, not platform staff) got their name that way; each tenant keeps its own on its
Contact, which pages now show (onboarding.people)."""

from django.db import migrations


def forget_tenant_labels(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    User.objects.filter(memberships__isnull=True, is_staff=False).exclude(full_name="").update(
        full_name=""
    )


class Migration(migrations.Migration):
    dependencies = [("accounts", "0004_workspace_steps")]

    operations = [migrations.RunPython(forget_tenant_labels, migrations.RunPython.noop)]
