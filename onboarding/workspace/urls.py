"""The workspace at /app/ (namespace "workspace"). Each area owns one included URL module.

URL kwargs name the object they resolve (onboarding_id, task_id, milestone_id, ...): the tenant
isolation walk (tests/test_isolation_walk.py) maps each kwarg name to an object and fails on a
name it does not know.
"""

from django.urls import include, path

app_name = "workspace"
urlpatterns = [
    path("", include("onboarding.workspace.urls_portfolio")),
    path("", include("onboarding.workspace.urls_steps")),
    path("", include("onboarding.workspace.urls_plan")),
    path("", include("onboarding.workspace.urls_delivery")),
]
