"""URLs of the bare base domain: the platform admin for platform staff. No tenant here."""

from django.contrib import admin
from django.urls import include, path

from onboarding import views_health

# The platform host has no site of its own to view (portals live on the tenants' hosts).
admin.site.site_url = None

urlpatterns = [
    path("healthz", views_health.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("accounts.urls_allauth")),
]
