from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView
from rest_framework.routers import SimpleRouter

from .views import OnboardingViewSet, TaskViewSet

router = SimpleRouter()
router.register("onboardings", OnboardingViewSet, basename="onboarding")
router.register("tasks", TaskViewSet, basename="task")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("", include(router.urls)),
]
