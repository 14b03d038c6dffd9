from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from accounts.addresses import normalize_email
from accounts.models import User
from onboarding.crm_import.parsing import UnrecognisedExport
from onboarding.services.crm_import import import_handoffs
from portal.tenancy.commands import tenant_by_slug
from portal.tenancy.context import tenant_context


class Command(BaseCommand):
    help = "Import closed-won deals from a HubSpot or Salesforce CSV export into a tenant."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--tenant", required=True, help="Tenant slug")
        parser.add_argument(
            "--date-format", help="strptime format of non-ISO dates, e.g. %%m/%%d/%%Y"
        )
        parser.add_argument("--csm", help="Email of the member who owns the new onboardings")

    def handle(self, *args, file: Path, tenant: str, date_format, csm, **options):
        tenant_obj = tenant_by_slug(tenant)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}") from exc
        with tenant_context(tenant_obj):
            owner = None
            if csm:
                owner = User.objects.filter(
                    email=normalize_email(csm), memberships__tenant=tenant_obj
                ).first()
                if owner is None:
                    raise CommandError(f"{csm} is not a member of {tenant_obj.slug}.")
            try:
                report = import_handoffs(tenant_obj, data, date_format=date_format, owner=owner)
            except (UnrecognisedExport, ValueError) as exc:
                raise CommandError(str(exc)) from exc
        if not report.ok:
            for error in report.errors:
                self.stderr.write(f"{file.name}: {error}")
            raise CommandError(
                f"{len(report.errors)} problem(s) found; nothing was imported. Fix the rows above."
            )
        self.stdout.write(f"{report.format_label}: {file.name}")
        for onboarding in report.created:
            self.stdout.write(
                f"  created  {onboarding.name} ({onboarding.get_model_display()}, "
                f"starts {onboarding.start_date:%Y-%m-%d})"
            )
        for record_id in report.already_imported:
            self.stdout.write(f"  exists   record {record_id} (imported before, unchanged)")
        for stage, count in sorted(report.skipped_stages.items()):
            self.stdout.write(f"  skipped  {count} row(s) in stage {stage!r}")
        self.stdout.write(
            self.style.SUCCESS(
                f"{len(report.created)} created, {len(report.already_imported)} already imported, "
                f"{sum(report.skipped_stages.values())} skipped."
            )
        )
