"""The metrics page, mounted at /app/metrics/ (namespace "metrics")."""

from django.urls import path

from . import views_metrics

app_name = "metrics"

urlpatterns = [
    path("", views_metrics.metrics_page, name="index"),
    path("export.csv", views_metrics.metrics_export, name="export"),
]
