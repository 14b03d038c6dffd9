"""Tenant settings pages for admins, mounted at /app/settings/."""

app_name = "settings"
urlpatterns: list = []
