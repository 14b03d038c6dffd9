from __future__ import annotations

import functools
import secrets
import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from accounts.addresses import normalize_email
from portal.tenancy.models import TenantOwned

hex_colour = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Enter a colour as #rrggbb.")
slug_validator = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$",
    "Lower-case letters, digits and inner hyphens only (it becomes a host name).",
)


def default_handoff_required_fields() -> list[str]:
    return ["goals", "stakeholders", "commitments", "contract_value", "seats", "renewal_date"]


# Not zones a tenant lives in: "localtime" is whatever the server's clock is set to, "Factory"
# a placeholder that names itself "-00".
NOT_PLACES = {"localtime", "Factory"}


@functools.cache
def time_zone_names() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones() - NOT_PLACES))


def validate_time_zone(value: str) -> None:
    if value not in time_zone_names():
        raise ValidationError(f"{value!r} is not a known time zone.")


class Tenant(models.Model):
    """A vendor company. Its data lives in tenant-owned tables keyed by this row."""

    name = models.CharField(max_length=200)
    slug = models.CharField(max_length=40, unique=True, validators=[slug_validator])
    time_zone = models.CharField(max_length=64, default="UTC", validators=[validate_time_zone])
    created_at = models.DateTimeField(default=timezone.now)

    # Branding shown in the client portal and emails.
    portal_name = models.CharField(max_length=200, blank=True)
    primary_color = models.CharField(max_length=7, default="#1f4e79", validators=[hex_colour])
    accent_color = models.CharField(max_length=7, default="#f2a900", validators=[hex_colour])
    logo = models.ImageField(upload_to="logos/", blank=True)
    welcome_message = models.TextField(blank=True, help_text="Markdown.")
    welcome_video_url = models.URLField(blank=True, help_text="YouTube, Vimeo or Loom.")
    email_sender_name = models.CharField(max_length=120, blank=True)

    # Operations.
    # Reminders: due in N days, overdue again every M days, blocked over K days escalates.
    reminder_days_ahead = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    overdue_repeat_days = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(30)]
    )
    blocked_escalation_days = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    milestone_days_ahead = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    digest_hour = models.PositiveSmallIntegerField(
        default=9, validators=[MaxValueValidator(23)], help_text="Local hour the digest goes out."
    )
    skip_weekends = models.BooleanField(default=True)
    # Handoff fields that must be filled before kickoff (names of HandoffDocument fields, plus
    # "stakeholders": at least one customer contact with a role).
    handoff_required_fields = models.JSONField(default=default_handoff_required_fields, blank=True)
    high_touch_min_amount = models.DecimalField(max_digits=14, decimal_places=2, default=100_000)
    mid_touch_min_amount = models.DecimalField(max_digits=14, decimal_places=2, default=25_000)
    # {"hubspot": {"company": "Company name"}}: the tenant's own CRM column names.
    crm_column_overrides = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def sender_name(self) -> str:
        return self.email_sender_name or self.display_name

    @property
    def display_name(self) -> str:
        return self.portal_name or self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def local_today(self):
        return timezone.now().astimezone(self.tz).date()

    @property
    def canonical_host(self) -> str:
        """The host emailed links point to: the primary custom domain, else the subdomain."""
        primary = next((d for d in self.domains.all() if d.is_primary), None)
        if primary is not None:
            return primary.domain
        return self.subdomain_host

    @property
    def subdomain_host(self) -> str:
        """The tenant's host under the platform's own domain, which only the platform serves."""
        host = f"{self.slug}.{settings.BASE_DOMAIN}"
        return f"{host}:{settings.PORTAL_PORT}" if settings.PORTAL_PORT else host

    def absolute_url(self, path: str) -> str:
        return f"{settings.PORTAL_SCHEME}://{self.canonical_host}{path}"

    def subdomain_url(self, path: str) -> str:
        return f"{settings.PORTAL_SCHEME}://{self.subdomain_host}{path}"


def new_verification_token() -> str:
    return secrets.token_urlsafe(24)


class TenantDomain(models.Model):
    """A custom domain a tenant claims. It opens the tenant's portal only once verified: the
    tenant published the claim's token in DNS (accounts.domain_verification), proving it
    controls the name. Any tenant may claim a name; only one can hold it verified, so one host
    never resolves to two tenants and nobody can squat on another's name."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253)
    is_primary = models.BooleanField(default=False)
    verification_token = models.CharField(max_length=64, default=new_verification_token)
    verified_at = models.DateTimeField(null=True, blank=True)
    # Verified through its TXT record, which is then checked again every day: a domain that
    # lapses or changes hands does not stay with the tenant. (Domains kept from before
    # verification existed, or verified by platform staff, are not.)
    verified_by_dns = models.BooleanField(default=False)
    failed_rechecks = models.PositiveSmallIntegerField(default=0)
    rechecked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant"], condition=models.Q(is_primary=True), name="one_primary_domain"
            ),
            models.UniqueConstraint(fields=["tenant", "domain"], name="one_claim_per_tenant"),
            models.UniqueConstraint(
                fields=["domain"],
                condition=models.Q(verified_at__isnull=False),
                name="one_verified_holder_per_domain",
            ),
            models.CheckConstraint(
                condition=models.Q(is_primary=False) | models.Q(verified_at__isnull=False),
                name="primary_domain_is_verified",
            ),
        ]

    def __str__(self) -> str:
        return self.domain

    def save(self, *args, **kwargs):
        self.domain = self.domain.strip().lower().rstrip(".")
        super().save(*args, **kwargs)


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra):
        if not email:
            raise ValueError("Users need an email address")
        user = self.model(email=email, **extra)  # save() stores the one spelling
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username):
        # Password sign-in and the admin look accounts up by the stored spelling.
        return super().get_by_natural_key(normalize_email(username))

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person: tenant staff (through memberships) or a client user (through portal access)."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Platform admin site access.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name or self.email

    def get_short_name(self) -> str:
        return (self.full_name or self.email).split(" ")[0]

    def save(self, *args, **kwargs):
        # Lookups compare exactly (see accounts.addresses), so every path that stores an address,
        # the admin's forms included, stores the one spelling.
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    CSM = "csm", "Customer success manager"
    AE = "ae", "Account executive"
    VIEWER = "viewer", "Viewer"


class Membership(TenantOwned):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="one_membership_per_tenant")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class SignInLink(TenantOwned):
    """A one-time sign-in link for a client user, bound to one email on one tenant.

    Only a hash of the token is stored. Opening the link shows a button; the POST behind it uses
    the link, so a mail scanner that fetches every URL does not spend it.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField()
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # The same sign-in as a short code typed on the tenant's sign-in page; wrong guesses count.
    code_hash = models.CharField(max_length=64, blank=True)
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    # The id of the Celery message that emails this link. A message delivered again (its worker
    # died before acknowledging it) finds its link already issued and sends nothing: the first
    # delivery may have sent the email, and one copy is the promise.
    message_id = models.CharField(max_length=255, null=True, blank=True, unique=True)

    class Meta:
        indexes = [models.Index(fields=["tenant", "user"])]
