from django.urls import include, path

from . import views_portal

portal_patterns = (
    [
        path("", views_portal.portal_index, name="index"),
        path("o/<int:onboarding_id>/", views_portal.portal_onboarding, name="onboarding"),
        path(
            "o/<int:onboarding_id>/milestones.ics",
            views_portal.milestones_ics,
            name="milestones-ics",
        ),
        path("o/<int:onboarding_id>/nps/", views_portal.nps, name="nps"),
        path(
            "o/<int:onboarding_id>/tasks/<int:task_id>/",
            views_portal.task_detail,
            name="task",
        ),
        path(
            "o/<int:onboarding_id>/tasks/<int:task_id>/status/",
            views_portal.task_status,
            name="task-status",
        ),
        path(
            "o/<int:onboarding_id>/tasks/<int:task_id>/comments/",
            views_portal.task_comment,
            name="task-comment",
        ),
        path(
            "o/<int:onboarding_id>/tasks/<int:task_id>/attachments/",
            views_portal.task_attachment,
            name="task-attachment",
        ),
        path(
            "o/<int:onboarding_id>/attachments/<int:attachment_id>/",
            views_portal.attachment_download,
            name="attachment",
        ),
        path(
            "o/<int:onboarding_id>/training/<int:resource_id>/open/",
            views_portal.training_open,
            name="training-open",
        ),
        path(
            "o/<int:onboarding_id>/training/<int:resource_id>/done/",
            views_portal.training_done,
            name="training-done",
        ),
        path("sign-in/<str:token>/", views_portal.sign_in, name="sign-in"),
    ],
    "portal",
)
urlpatterns = [
    path("", views_portal.home, name="home"),
    path("brand/logo", views_portal.brand_logo, name="brand-logo"),
    path("portal/", include(portal_patterns)),
    path("app/", include("onboarding.workspace.urls")),
]
