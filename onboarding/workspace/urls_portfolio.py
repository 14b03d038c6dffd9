from django.urls import path

from onboarding import views_workspace

urlpatterns = [
    path("", views_workspace.onboarding_list, name="onboardings"),
    path(
        "onboardings/<int:onboarding_id>/",
        views_workspace.onboarding_detail,
        name="onboarding",
    ),
]
