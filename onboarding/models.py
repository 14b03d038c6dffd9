"""The onboarding domain. Every table here is tenant-owned and carries the tenant id itself."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.addresses import normalize_email
from portal.tenancy.models import TenantOwned


class TouchModel(models.TextChoices):
    HIGH = "high", "High-touch"
    MID = "mid", "Mid-touch"
    LOW = "low", "Low-touch"


class Side(models.TextChoices):
    VENDOR = "vendor", "Vendor"
    CUSTOMER = "customer", "Customer"


class Customer(TenantOwned):
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint("tenant", Lower("name"), name="customer_name_unique_in_tenant")
        ]

    def __str__(self) -> str:
        return self.name


class Onboarding(TenantOwned):
    class Status(models.TextChoices):
        PRE_KICKOFF = "pre_kickoff", "Pre-kickoff"
        KICKOFF = "kickoff", "Kickoff"
        SETUP = "setup", "Setup"
        TRAINING = "training", "Training"
        GO_LIVE = "go_live", "Go-live"
        CLOSED = "closed", "Closed"

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="onboardings")
    name = models.CharField(max_length=200)
    model = models.CharField(max_length=4, choices=TouchModel.choices)
    start_date = models.DateField(help_text="Contract signature date, in the tenant's calendar.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PRE_KICKOFF)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The owning CSM.",
    )
    playbook = models.ForeignKey(
        "Playbook", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    welcome_message = models.TextField(blank=True)
    crm_source = models.CharField(max_length=20, blank=True)
    crm_record_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["start_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "crm_source", "crm_record_id"],
                condition=~models.Q(crm_record_id=""),
                name="onboarding_crm_record_unique_in_tenant",
            )
        ]

    def __str__(self) -> str:
        return self.name


class HandoffDocument(TenantOwned):
    onboarding = models.OneToOneField(Onboarding, on_delete=models.CASCADE, related_name="handoff")
    goals = models.JSONField(default=list, blank=True)
    commitments = models.JSONField(default=list, blank=True)
    risks = models.JSONField(default=list, blank=True)
    contract_value = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    seats = models.PositiveIntegerField(null=True, blank=True)
    modules = models.JSONField(default=list, blank=True)
    renewal_date = models.DateField(null=True, blank=True)
    account_executive = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    # Bumped on every save through the services; a stale version is refused (no lost updates).
    version = models.PositiveIntegerField(default=1)


class Contact(TenantOwned):
    """A person on either side of an onboarding; customer contacts may be invited to the portal."""

    onboarding = models.ForeignKey(Onboarding, on_delete=models.CASCADE, related_name="contacts")
    side = models.CharField(max_length=8, choices=Side.choices)
    name = models.CharField(max_length=200)
    email = models.EmailField(blank=True)
    role = models.CharField(max_length=200, blank=True, help_text="Role in the buying committee.")
    phone = models.CharField(max_length=40, blank=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_primary = models.BooleanField(default=False)
    is_key_contact = models.BooleanField(default=False, help_text="Shown in the client portal.")
    is_escalation_contact = models.BooleanField(
        default=False, help_text="Told when a task stays blocked."
    )
    is_champion = models.BooleanField(default=False)
    champion_trained_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["side", "name"]
        constraints = [
            models.UniqueConstraint(
                "tenant",
                "onboarding",
                Lower("email"),
                condition=~models.Q(email=""),
                name="contact_email_unique_in_onboarding",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_side_display()})"

    def save(self, *args, **kwargs):
        # One spelling, compared exactly: see accounts.addresses.
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)


class PortalAccess(TenantOwned):
    """A client user's invitation to one onboarding's portal."""

    onboarding = models.ForeignKey(Onboarding, on_delete=models.CASCADE, related_name="accesses")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="accesses")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    invited_at = models.DateTimeField(default=timezone.now)
    accepted_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "onboarding", "user"], name="one_access_per_user_and_onboarding"
            )
        ]


class Milestone(TenantOwned):
    onboarding = models.ForeignKey(Onboarding, on_delete=models.CASCADE, related_name="milestones")
    name = models.CharField(max_length=200)
    success_criteria = models.TextField(blank=True)
    due_date = models.DateField()
    position = models.PositiveIntegerField(default=0)
    achieved_at = models.DateTimeField(null=True, blank=True)
    # Calendar (.ics) revision: grows each time the date changes, so clients update the event.
    ics_sequence = models.PositiveIntegerField(default=0)
    is_first_value = models.BooleanField(
        default=False, help_text="Reaching it is the onboarding's time to first value."
    )

    class Meta:
        ordering = ["position", "due_date", "id"]
        indexes = [
            # The reminder build looks up the milestones coming up in the next few days.
            models.Index(
                fields=["tenant", "due_date"],
                condition=models.Q(achieved_at__isnull=True),
                name="open_milestone_by_due_date",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Task(TenantOwned):
    class Status(models.TextChoices):
        NOT_STARTED = "not_started", "Not started"
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETE = "complete", "Complete"
        BLOCKED = "blocked", "Blocked"

    onboarding = models.ForeignKey(Onboarding, on_delete=models.CASCADE, related_name="tasks")
    milestone = models.ForeignKey(
        Milestone, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    owner_side = models.CharField(max_length=8, choices=Side.choices)
    owner_contact = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    due_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.NOT_STARTED)
    blocked_reason = models.TextField(blank=True)
    blocked_on = models.DateField(
        null=True, blank=True, help_text="Local date the task became blocked."
    )
    position = models.PositiveIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    # Bumped on every save through the services; a stale version is refused (no lost updates).
    version = models.PositiveIntegerField(default=1)
    depends_on = models.ManyToManyField(
        "self",
        through="TaskDependency",
        through_fields=("task", "depends_on"),
        symmetrical=False,
        related_name="dependents",
        blank=True,
    )

    class Meta:
        ordering = ["due_date", "position", "id"]
        indexes = [
            models.Index(fields=["tenant", "status", "due_date"]),
            models.Index(
                fields=["tenant", "due_date"],
                condition=~models.Q(status="complete"),
                name="open_task_by_due_date",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status="blocked") | ~models.Q(blocked_reason=""),
                name="blocked_task_has_reason",
            )
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.COMPLETE


class TaskDependency(TenantOwned):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")
    depends_on = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "task", "depends_on"], name="task_dependency_unique"
            ),
            models.CheckConstraint(
                condition=~models.Q(task=models.F("depends_on")), name="task_not_own_dependency"
            ),
        ]


class TrainingResource(TenantOwned):
    class Kind(models.TextChoices):
        SESSION = "session", "Live session"
        VIDEO = "video", "Video"
        GUIDE = "guide", "Guide"
        KNOWLEDGE_BASE = "kb", "Knowledge base"

    onboarding = models.ForeignKey(
        Onboarding, on_delete=models.CASCADE, related_name="training_resources"
    )
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.GUIDE)
    url = models.URLField(blank=True)
    audience = models.CharField(max_length=120, blank=True, help_text="User group it is for.")
    group = models.ForeignKey(
        "TrainingGroup", null=True, blank=True, on_delete=models.SET_NULL, related_name="resources"
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]


class FaqEntry(TenantOwned):
    question = models.CharField(max_length=300)
    answer = models.TextField()
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]


class Playbook(TenantOwned):
    name = models.CharField(max_length=120)
    model = models.CharField(max_length=4, choices=TouchModel.choices)
    length_days = models.PositiveSmallIntegerField()
    is_default = models.BooleanField(default=False, help_text="Used for its model by imports.")

    class Meta:
        ordering = ["model", "name"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="playbook_name_unique"),
            models.UniqueConstraint(
                fields=["tenant", "model"],
                condition=models.Q(is_default=True),
                name="one_default_playbook_per_model",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class PlaybookMilestone(TenantOwned):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="milestones")
    key = models.SlugField(max_length=60)
    name = models.CharField(max_length=200)
    success_criteria = models.TextField(blank=True)
    due_offset_days = models.PositiveSmallIntegerField()
    position = models.PositiveIntegerField(default=0)
    is_first_value = models.BooleanField(default=False)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "playbook", "key"], name="playbook_milestone_key_unique"
            )
        ]


class PlaybookTask(TenantOwned):
    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="tasks")
    milestone = models.ForeignKey(
        PlaybookMilestone, null=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    key = models.SlugField(max_length=60)
    phase = models.CharField(max_length=12, choices=Onboarding.Status.choices)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    owner_side = models.CharField(max_length=8, choices=Side.choices)
    due_offset_days = models.PositiveSmallIntegerField()
    depends_on_keys = models.JSONField(default=list, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "playbook", "key"], name="playbook_task_key_unique"
            )
        ]


class KeyContact(TenantOwned):
    """A vendor person shown in every portal of the tenant (configured by admins)."""

    name = models.CharField(max_length=200)
    role = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    photo = models.ImageField(upload_to="contacts/", blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class TaskComment(TenantOwned):
    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    body = models.TextField()
    internal = models.BooleanField(
        default=False, help_text="Vendor staff only; never in the portal."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]


class TaskAttachment(TenantOwned):
    """A file attached to a task; its type comes from the server, never from the upload."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="attachments")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    file = models.FileField(upload_to="attachments/%Y/%m/")
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]


class TrainingCompletion(TenantOwned):
    resource = models.ForeignKey(
        TrainingResource, on_delete=models.CASCADE, related_name="completions"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    completed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "resource", "user"], name="one_completion_per_user_and_resource"
            )
        ]


class NpsResponse(TenantOwned):
    onboarding = models.ForeignKey(Onboarding, on_delete=models.CASCADE, related_name="nps")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "onboarding", "user"], name="one_nps_answer_per_user"
            ),
            models.CheckConstraint(condition=models.Q(score__lte=10), name="nps_score_0_to_10"),
        ]


class EngagementEvent(TenantOwned):
    """What client users do in the portal: the raw material of engagement and health."""

    class Kind(models.TextChoices):
        SIGN_IN = "sign_in", "Signed in"
        VISIT = "visit", "Visited the portal"
        RESOURCE_OPEN = "resource", "Opened a resource"

    onboarding = models.ForeignKey(
        Onboarding, null=True, on_delete=models.CASCADE, related_name="engagement"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    resource = models.ForeignKey(
        TrainingResource, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["tenant", "onboarding", "kind", "created_at"])]


class ReminderKind(models.TextChoices):
    DUE_SOON = "due_soon", "Due soon"
    DUE_TODAY = "due_today", "Due today"
    OVERDUE = "overdue", "Overdue"
    BLOCKED = "blocked", "Blocked too long"
    MILESTONE = "milestone", "Milestone approaching"


class ReminderDigest(TenantOwned):
    """One email per recipient per local day, grouping that day's reminder items.

    Claimed (pending -> sending) by a conditional UPDATE before the SMTP conversation; a digest
    whose sender died mid-send is marked uncertain for an admin to look at, never sent twice.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Nothing left to send"  # items gone or opted out before sending
        FAILED = "failed", "Failed (gave up)"
        UNCERTAIN = "uncertain", "Delivery uncertain"

    recipient = models.EmailField()
    recipient_name = models.CharField(max_length=200, blank=True)
    for_date = models.DateField(help_text="The tenant's local date.")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "recipient", "for_date"], name="one_digest_per_recipient_day"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "state", "next_attempt_at"]),
            # The fan-out's look across tenants every few minutes (tenants_with_reminder_work):
            # only the few digests waiting or in flight, not the sent ones of every past day.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(state="pending"),
                name="pending_digest_by_next_try",
            ),
            models.Index(
                fields=["claimed_at"],
                condition=models.Q(state="sending"),
                name="sending_digest_by_claim",
            ),
        ]


class ReminderItem(TenantOwned):
    """One thing one person is reminded of, once: (recipient, item, kind, key date) is unique."""

    # Items are written in bulk (100,000 a day for a large tenant) by INSERT ... SELECT statements
    # that take every id from the rows they read; database-level foreign keys would check each
    # row at commit (measured by `manage.py bench`). Django's on_delete still cascades.
    tenant = models.ForeignKey(
        "accounts.Tenant",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,  # both indexes below start with tenant
    )
    recipient = models.EmailField()
    queued_for = models.DateField(help_text="The local date of the digest that carries it.")
    kind = models.CharField(max_length=10, choices=ReminderKind.choices)
    item_key = models.CharField(max_length=40, help_text="task:<id> or milestone:<id>")
    key_date = models.DateField(help_text="The due date, overdue cycle or blocked-since date.")
    task = models.ForeignKey(
        Task, null=True, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    milestone = models.ForeignKey(
        Milestone, null=True, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "recipient", "kind", "item_key", "key_date"],
                name="one_reminder_per_recipient_item_kind_date",
            )
        ]
        indexes = [models.Index(fields=["tenant", "queued_for", "recipient"])]


class DigestRun(TenantOwned):
    """Marks that a tenant's digests for a local date were built; the row is the build's lock."""

    for_date = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "for_date"], name="one_digest_run_per_day")
        ]


class NotificationOptOut(TenantOwned):
    """A person turned a kind of reminder off (kind "all": every reminder)."""

    email = models.EmailField()
    kind = models.CharField(max_length=10)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "email", "kind"], name="one_opt_out_per_kind")
        ]


class HealthFormula(TenantOwned):
    """Weights and thresholds in force from `created_at`; every score keeps the version it used."""

    version = models.PositiveIntegerField()
    w_usage = models.PositiveSmallIntegerField(default=25)
    w_support = models.PositiveSmallIntegerField(default=15)
    w_engagement = models.PositiveSmallIntegerField(default=15)
    w_training = models.PositiveSmallIntegerField(default=15)
    w_on_time = models.PositiveSmallIntegerField(default=15)
    w_milestones = models.PositiveSmallIntegerField(default=15)
    green_min = models.PositiveSmallIntegerField(default=70)
    yellow_min = models.PositiveSmallIntegerField(default=40)
    created_at = models.DateTimeField(default=timezone.now)

    COMPONENTS = ("usage", "support", "engagement", "training", "on_time", "milestones")

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "version"], name="health_formula_version"),
            models.CheckConstraint(
                condition=models.Q(yellow_min__lte=models.F("green_min")),
                name="yellow_below_green",
            ),
        ]

    def weights(self) -> dict[str, int]:
        return {c: getattr(self, f"w_{c}") for c in self.COMPONENTS}


class HealthScore(TenantOwned):
    class Kind(models.TextChoices):
        DAILY = "daily", "Daily"
        DAY30 = "day30", "Day-30 snapshot"
        DAY90 = "day90", "Day-90 snapshot"

    class Band(models.TextChoices):
        GREEN = "green", "Green"
        YELLOW = "yellow", "Yellow"
        RED = "red", "Red"

    # Scores are derived rows written in bulk (100,000 a night for a large tenant) by one INSERT
    # ... SELECT that takes every id from the rows it reads. A database-level foreign key would
    # check and lock the referenced row once per score at commit, about a fifth of the run
    # (`manage.py bench`); Django's on_delete still cascades and protects as declared.
    tenant = models.ForeignKey(
        "accounts.Tenant",
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,  # the unique constraint below starts with tenant
    )
    onboarding = models.ForeignKey(
        Onboarding, on_delete=models.CASCADE, related_name="health", db_constraint=False
    )
    formula = models.ForeignKey(
        HealthFormula, on_delete=models.PROTECT, related_name="+", db_constraint=False
    )
    kind = models.CharField(max_length=6, choices=Kind.choices)
    for_date = models.DateField()
    usage = models.FloatField()
    support = models.FloatField()
    engagement = models.FloatField()
    training = models.FloatField()
    on_time = models.FloatField()
    milestones = models.FloatField()
    score = models.FloatField()
    band = models.CharField(max_length=6, choices=Band.choices)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["for_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "onboarding", "kind", "for_date"], name="one_score_per_day"
            ),
            models.UniqueConstraint(
                fields=["tenant", "onboarding", "kind"],
                condition=models.Q(kind__in=["day30", "day90"]),
                name="one_snapshot_per_kind",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "kind", "for_date"])]


class UsageRecord(TenantOwned):
    """Product usage of a customer on a day (CSV upload now, API later)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="usage")
    date = models.DateField()
    active_users = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "customer", "date"], name="one_usage_per_day")
        ]


class SupportTicket(TenantOwned):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tickets")
    external_id = models.CharField(max_length=64)
    opened_at = models.DateTimeField()
    subject = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "customer", "external_id"], name="ticket_id_unique"
            )
        ]
        indexes = [models.Index(fields=["tenant", "customer", "opened_at"])]


class NpsRequest(TenantOwned):
    """The NPS question emailed once to one client user at an onboarding's close: the claim made
    before the SMTP conversation, then what came of it."""

    class State(models.TextChoices):
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        NOT_SENT = "not_sent", "Not sent yet, will be retried"
        FAILED = "failed", "Failed (gave up)"
        UNCERTAIN = "uncertain", "Delivery uncertain"

    onboarding = models.ForeignKey(Onboarding, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.SENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "onboarding", "user"], name="one_nps_request_per_user"
            )
        ]


class Kickoff(TenantOwned):
    """Step 2: the kickoff call, scheduled and then recorded."""

    onboarding = models.OneToOneField(Onboarding, on_delete=models.CASCADE, related_name="kickoff")
    scheduled_at = models.DateTimeField(null=True, blank=True)
    duration_minutes = models.PositiveSmallIntegerField(default=60)
    location = models.CharField(max_length=300, blank=True, help_text="Meeting link or room.")
    attendees = models.ManyToManyField(
        Contact, through="KickoffAttendee", related_name="kickoffs", blank=True
    )
    held_at = models.DateTimeField(null=True, blank=True)
    goals_confirmed = models.BooleanField(default=False)
    criteria_day30 = models.TextField(blank=True)
    criteria_day60 = models.TextField(blank=True)
    criteria_day90 = models.TextField(blank=True)
    definition_of_done = models.TextField(blank=True)
    cadence = models.CharField(max_length=200, blank=True, help_text="e.g. weekly, Tuesdays 10:00")
    channel = models.CharField(max_length=200, blank=True, help_text="e.g. shared Slack channel")
    vendor_escalation = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    customer_escalation = models.ForeignKey(
        Contact, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ics_sequence = models.PositiveIntegerField(default=0)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)


class KickoffAttendee(TenantOwned):
    kickoff = models.ForeignKey(Kickoff, on_delete=models.CASCADE, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "kickoff", "contact"], name="kickoff_attendee_unique"
            )
        ]


class RequirementItem(TenantOwned):
    """Step 3: one item of the requirements intake; it can become a task in the plan."""

    class Category(models.TextChoices):
        INTEGRATION = "integration", "Integration"
        ACCOUNTS = "accounts", "User accounts and permissions"
        MIGRATION = "migration", "Data migration"
        CONFIGURATION = "configuration", "Custom configuration"
        SECURITY = "security", "Security and compliance"

    onboarding = models.ForeignKey(
        Onboarding, on_delete=models.CASCADE, related_name="requirements"
    )
    category = models.CharField(max_length=14, choices=Category.choices)
    title = models.CharField(max_length=300)
    details = models.TextField(blank=True)
    # Security specifics the intake asks for explicitly.
    sso = models.BooleanField(default=False)
    ip_allowlisting = models.BooleanField(default=False)
    data_residency = models.CharField(max_length=100, blank=True)
    task = models.ForeignKey(
        Task, null=True, blank=True, on_delete=models.SET_NULL, related_name="requirements"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["category", "id"]


class TrainingGroup(TenantOwned):
    """Step 5: a group of users trained together."""

    class Sophistication(models.TextChoices):
        LOW = "low", "New to tools like this"
        MEDIUM = "medium", "Some experience"
        HIGH = "high", "Power users"

    onboarding = models.ForeignKey(
        Onboarding, on_delete=models.CASCADE, related_name="training_groups"
    )
    name = models.CharField(max_length=120)
    size = models.PositiveIntegerField()
    sophistication = models.CharField(max_length=6, choices=Sophistication.choices)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "onboarding", "name"], name="training_group_name_unique"
            )
        ]


class TrainingSession(TenantOwned):
    group = models.ForeignKey(TrainingGroup, on_delete=models.CASCADE, related_name="sessions")
    title = models.CharField(max_length=200)
    scheduled_at = models.DateTimeField()
    live_url = models.URLField(blank=True)
    recording_url = models.URLField(blank=True)
    held_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["scheduled_at", "id"]


class CloseReview(TenantOwned):
    """Step 6: the formal close. Closing requires it; a closed onboarding is read-only."""

    class Met(models.TextChoices):
        YES = "yes", "Met"
        PARTLY = "partly", "Partly met"
        NO = "no", "Not met"

    onboarding = models.OneToOneField(
        Onboarding, on_delete=models.CASCADE, related_name="close_review"
    )
    day90_criteria_met = models.CharField(max_length=6, choices=Met.choices)
    usage_at_close = models.TextField(blank=True)
    health_at_close = models.FloatField(null=True, blank=True)
    open_items = models.TextField(blank=True, help_text="Carried forward, one per line.")
    next_quarter_goals = models.TextField(blank=True)
    ongoing_csm = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ongoing_csm_introduced = models.BooleanField(default=False)
    qbr_date = models.DateField(null=True, blank=True)
    qbr_ics_sequence = models.PositiveIntegerField(default=0)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    reviewed_at = models.DateTimeField(default=timezone.now)


class ChecklistTick(TenantOwned):
    """A phase-checklist item ticked by hand (items the data can tell are never stored)."""

    onboarding = models.ForeignKey(Onboarding, on_delete=models.CASCADE, related_name="ticks")
    item_key = models.SlugField(max_length=60)
    ticked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "onboarding", "item_key"], name="one_tick_per_item"
            )
        ]


class ActivityEntry(TenantOwned):
    """Who changed what and when, in words a person reads."""

    onboarding = models.ForeignKey(Onboarding, on_delete=models.CASCADE, related_name="activity")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "onboarding", "created_at"])]


class CalendarTombstone(TenantOwned):
    """A calendar event that was removed: served as METHOD:CANCEL with its last UID/SEQUENCE."""

    onboarding = models.ForeignKey(Onboarding, on_delete=models.CASCADE, related_name="+")
    uid = models.CharField(max_length=200)
    sequence = models.PositiveIntegerField()
    summary = models.CharField(max_length=300)
    starts_on = models.DateField()
    removed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "uid"], name="one_tombstone_per_uid")
        ]


class PlaybookResource(TenantOwned):
    """Training material a playbook gives every onboarding started from it."""

    playbook = models.ForeignKey(Playbook, on_delete=models.CASCADE, related_name="resources")
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=TrainingResource.Kind.choices)
    url = models.URLField(blank=True)
    audience = models.CharField(max_length=120, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
