from django.urls import path

from onboarding import views_workspace

urlpatterns = [
    path("", views_workspace.onboarding_list, name="onboardings"),
    path("my/", views_workspace.my_onboardings, name="my"),
    path("overdue/", views_workspace.overdue, name="overdue"),
    path(
        "onboardings/<int:onboarding_id>/",
        views_workspace.onboarding_detail,
        name="onboarding",
    ),
    path(
        "onboardings/<int:onboarding_id>/activity/",
        views_workspace.activity,
        name="activity",
    ),
    # item_key: a manual item of onboarding/checklists.py (a fixed vocabulary, not an id).
    path(
        "onboardings/<int:onboarding_id>/checklist/<slug:item_key>/",
        views_workspace.checklist_tick,
        name="checklist-tick",
    ),
]
