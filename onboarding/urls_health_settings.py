"""Health-score settings, mounted at /app/settings/health/ (namespace "health-settings").

No URL kwargs: both pages act on the current tenant only.
"""

from django.urls import path

from . import views_health_settings as views

app_name = "health-settings"
urlpatterns = [
    path("formula/", views.formula, name="formula"),
    path("inputs/", views.inputs, name="inputs"),
]
