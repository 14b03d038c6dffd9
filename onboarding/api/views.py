from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from onboarding.models import Onboarding, Task
from onboarding.selectors import onboardings_with_progress
from onboarding.services import onboardings as onboarding_services
from onboarding.services import tasks as task_services

from .serializers import OnboardingSerializer, TaskSerializer, django_errors


class OnboardingViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = OnboardingSerializer
    lookup_url_kwarg = "onboarding_id"

    def get_queryset(self):
        return onboardings_with_progress()

    def perform_create(self, serializer):
        try:
            created = onboarding_services.create_onboarding(
                self.request.tenant, serializer.validated_data, self.request.user
            )
        except DjangoValidationError as exc:
            raise django_errors(exc) from exc
        serializer.instance = self.get_queryset().get(pk=created.pk)

    def perform_update(self, serializer):
        try:
            onboarding_services.update_onboarding(
                self.request.tenant,
                serializer.instance,
                serializer.validated_data,
                self.request.user,
            )
        except DjangoValidationError as exc:
            raise django_errors(exc) from exc
        # Read back with the progress counts the response shows.
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)


@extend_schema_view(
    list=extend_schema(
        parameters=[OpenApiParameter("onboarding", int, description="Only this onboarding's tasks")]
    )
)
class TaskViewSet(viewsets.ModelViewSet):
    serializer_class = TaskSerializer
    lookup_url_kwarg = "task_id"

    def get_queryset(self):
        qs = (
            Task.objects.select_related("onboarding")
            .prefetch_related("depends_on")
            .order_by("onboarding_id", "due_date", "position", "id")
        )
        onboarding = self.request.query_params.get("onboarding")
        if onboarding is not None:
            qs = qs.filter(onboarding_id=onboarding if onboarding.isdigit() else -1)
        return qs

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        data.pop("version", None)
        depends_on = data.pop("depends_on", None)
        try:
            serializer.instance = task_services.create_task(depends_on=depends_on, **data)
        except DjangoValidationError as exc:
            raise django_errors(exc) from exc

    def update(self, request, *args, **kwargs):
        partial = kwargs.pop("partial", False)
        task = self.get_object()
        serializer = self.get_serializer(task, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        changes = dict(serializer.validated_data)
        changes.pop("onboarding", None)
        expected = changes.pop("version", None)
        depends_on = changes.pop("depends_on", None)
        try:
            with transaction.atomic():
                task = task_services.update_task(
                    task, changes, expected_version=expected, depends_on=depends_on
                )
        except task_services.StaleVersion as stale:
            current = self.get_serializer(stale.current).data
            return Response(
                {"detail": str(stale), "current": current}, status=status.HTTP_409_CONFLICT
            )
        except DjangoValidationError as exc:
            raise django_errors(exc) from exc
        return Response(self.get_serializer(task).data)

    def perform_destroy(self, instance):
        if instance.onboarding.status == Onboarding.Status.CLOSED:
            raise django_errors(DjangoValidationError("This onboarding is closed."))
        instance.delete()
