from django.core.management.base import BaseCommand, CommandError

from accounts.addresses import normalize_email
from accounts.models import User
from accounts.services import issue_sign_in_link
from onboarding.models import PortalAccess
from portal.tenancy.commands import tenant_by_slug
from portal.tenancy.context import tenant_context


class Command(BaseCommand):
    help = "Print a fresh single-use sign-in URL for a client user invited on a tenant."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--email", required=True)

    def handle(self, *args, tenant: str, email: str, **options):
        tenant_obj = tenant_by_slug(tenant)
        with tenant_context(tenant_obj):
            user = User.objects.filter(email=normalize_email(email)).first()
            invited = (
                user is not None
                and PortalAccess.objects.filter(user=user, revoked_at__isnull=True).exists()
            )
            if not invited:
                raise CommandError(f"{email} has no portal invitation on {tenant_obj.slug}.")
            self.stdout.write(issue_sign_in_link(tenant_obj, user))
