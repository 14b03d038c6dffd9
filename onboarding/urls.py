from django.urls import include, path

from . import views_portal, views_workspace

portal_patterns = (
    [
        path("", views_portal.portal_index, name="index"),
        path("o/<int:onboarding_id>/", views_portal.portal_onboarding, name="onboarding"),
        path("sign-in/<str:token>/", views_portal.sign_in, name="sign-in"),
    ],
    "portal",
)
workspace_patterns = (
    [
        path("", views_workspace.onboarding_list, name="onboardings"),
        path(
            "onboardings/<int:onboarding_id>/",
            views_workspace.onboarding_detail,
            name="onboarding",
        ),
    ],
    "workspace",
)

urlpatterns = [
    path("", views_portal.home, name="home"),
    path("brand/logo", views_portal.brand_logo, name="brand-logo"),
    path("portal/", include(portal_patterns)),
    path("app/", include(workspace_patterns)),
]
