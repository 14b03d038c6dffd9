"""URLs served on a tenant's host. The platform host has its own in urls_platform."""

from django.urls import include, path

from onboarding import views_health

urlpatterns = [
    path("healthz", views_health.healthz, name="healthz"),
    path("accounts/", include("accounts.urls_allauth")),
    path("app/settings/health/", include("onboarding.urls_health_settings")),
    path("app/settings/", include("accounts.urls_settings")),
    path("app/metrics/", include("onboarding.urls_metrics")),
    path("sign-in/", include("accounts.urls_signin")),
    path("notifications/", include("onboarding.urls_notifications")),
    path("", include("onboarding.urls")),
    path("api/v1/", include("onboarding.api.urls")),
]
