"""Custom domains are verified through DNS before they open a portal.

Domains registered before this existed are taken as verified: they were already serving their
tenant (each name was unique), and unverifying them would take live portals offline. Every
existing claim gets its own token.
"""

import secrets

from django.db import migrations, models
from django.utils import timezone

import accounts.models


def drop_unverified_claims(apps, schema_editor):
    apps.get_model("accounts", "TenantDomain").objects.filter(verified_at__isnull=True).delete()


def grandfather(apps, schema_editor):
    TenantDomain = apps.get_model("accounts", "TenantDomain")
    for domain in TenantDomain.objects.all():
        domain.verified_at = timezone.now()
        domain.verification_token = secrets.token_urlsafe(24)
        domain.save(update_fields=["verified_at", "verification_token"])


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0006_emails_in_one_spelling"),
    ]

    operations = [
        migrations.AddField(
            model_name="tenantdomain",
            name="verification_token",
            field=models.CharField(default=accounts.models.new_verification_token, max_length=64),
        ),
        migrations.AddField(
            model_name="tenantdomain",
            name="verified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(grandfather, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="tenantdomain",
            name="domain",
            field=models.CharField(max_length=253),
        ),
        # Undone, the old code serves every claim: unverified ones (a squat among them) are
        # dropped first, before the name is unique again.
        migrations.RunPython(migrations.RunPython.noop, drop_unverified_claims),
        migrations.AddConstraint(
            model_name="tenantdomain",
            constraint=models.UniqueConstraint(
                fields=("tenant", "domain"), name="one_claim_per_tenant"
            ),
        ),
        migrations.AddConstraint(
            model_name="tenantdomain",
            constraint=models.UniqueConstraint(
                condition=models.Q(("verified_at__isnull", False)),
                fields=("domain",),
                name="one_verified_holder_per_domain",
            ),
        ),
        migrations.AddConstraint(
            model_name="tenantdomain",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("is_primary", False), ("verified_at__isnull", False), _connector="OR"
                ),
                name="primary_domain_is_verified",
            ),
        ),
    ]
