"""The onboarding domain. Every table here is tenant-owned and carries the tenant id itself."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

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

    class Meta:
        ordering = ["position", "due_date", "id"]

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
        indexes = [models.Index(fields=["tenant", "status", "due_date"])]
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


class ReminderDelivery(TenantOwned):
    """One reminder to one person about one task on one local day, claimed before it is sent."""

    class State(models.TextChoices):
        CLAIMED = "claimed", "Claimed"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="+")
    recipient = models.EmailField()
    kind = models.CharField(max_length=20)
    for_date = models.DateField()
    state = models.CharField(max_length=8, choices=State.choices, default=State.CLAIMED)
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "task", "recipient", "kind", "for_date"],
                name="one_reminder_per_recipient_task_kind_day",
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
