"""URLs of the bare base domain: the platform admin for platform staff. No tenant here."""

from django.contrib import admin
from django.urls import include, path

from onboarding import views_health

urlpatterns = [
    path("healthz", views_health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls_allauth")),
]
