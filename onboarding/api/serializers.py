from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from rest_framework import serializers

from accounts.models import User
from onboarding.models import Contact, Customer, Milestone, Onboarding, Task
from onboarding.services.onboardings import possible_owners

from .fields import ScopedPrimaryKeyRelatedField


def _owners(serializer) -> object:
    """Who may be named owner, plus the one it has: a CSM who left keeps their onboardings until
    they are reassigned, and a round trip of the row must not fail over them."""
    owners = Q(pk__in=possible_owners(serializer.context["request"].tenant).values("pk"))
    current = getattr(serializer.instance, "owner_id", None)
    return User.objects.filter(owners | Q(pk=current) if current is not None else owners)


class OnboardingSerializer(serializers.ModelSerializer):
    customer = ScopedPrimaryKeyRelatedField(scope=lambda s: Customer.objects.all())
    owner = ScopedPrimaryKeyRelatedField(scope=_owners, allow_null=True, required=False)
    task_count = serializers.IntegerField(read_only=True)
    tasks_done = serializers.IntegerField(read_only=True)
    tasks_blocked = serializers.IntegerField(read_only=True)

    class Meta:
        model = Onboarding
        fields = [
            "id",
            "name",
            "customer",
            "model",
            "start_date",
            "status",
            "owner",
            "crm_source",
            "crm_record_id",
            "task_count",
            "tasks_done",
            "tasks_blocked",
        ]
        # The phase moves only through services.phases (the handoff gate) and the close review.
        read_only_fields = ["status", "crm_source", "crm_record_id"]


def _same_onboarding(model):
    """Ids of `model` rows in the onboarding the task belongs to (or is being created in)."""

    def scope(serializer):
        onboarding_id = serializer.onboarding_id()
        if onboarding_id is None:
            return model.objects.none()
        return model.objects.filter(onboarding_id=onboarding_id)

    return scope


class TaskSerializer(serializers.ModelSerializer):
    onboarding = ScopedPrimaryKeyRelatedField(scope=lambda s: Onboarding.objects.all())
    milestone = ScopedPrimaryKeyRelatedField(
        scope=_same_onboarding(Milestone), allow_null=True, required=False
    )
    owner_contact = ScopedPrimaryKeyRelatedField(
        scope=_same_onboarding(Contact), allow_null=True, required=False
    )
    depends_on = ScopedPrimaryKeyRelatedField(
        scope=_same_onboarding(Task), many=True, required=False
    )
    version = serializers.IntegerField(
        required=False, help_text="Send the version you loaded; a newer one on the server is a 409."
    )

    class Meta:
        model = Task
        fields = [
            "id",
            "onboarding",
            "milestone",
            "title",
            "description",
            "owner_side",
            "owner_contact",
            "due_date",
            "status",
            "blocked_reason",
            "depends_on",
            "position",
            "completed_at",
            "version",
        ]
        read_only_fields = ["completed_at"]

    def onboarding_id(self) -> int | None:
        if self.instance is not None and isinstance(self.instance, Task):
            return self.instance.onboarding_id
        raw = self.initial_data.get("onboarding") if hasattr(self, "initial_data") else None
        try:
            return Onboarding.objects.filter(pk=int(raw)).values_list("pk", flat=True).first()
        except (TypeError, ValueError):
            return None

    def validate(self, attrs):
        if self.instance is not None and "onboarding" in attrs:
            if attrs["onboarding"].pk != self.instance.onboarding_id:
                raise serializers.ValidationError(
                    {"onboarding": "A task cannot move to another onboarding."}
                )
        return attrs


def django_errors(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(
        exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    )
