from django.urls import path

from . import views_notifications

urlpatterns = [
    path("", views_notifications.preferences, name="notification-preferences"),
    path(
        "unsubscribe/<str:unsubscribe_token>/",
        views_notifications.unsubscribe,
        name="unsubscribe",
    ),
    path("problems/", views_notifications.delivery_problems, name="delivery-problems"),
    path(
        "problems/digests/<int:digest_id>/send-again/",
        views_notifications.send_digest_again,
        name="digest-send-again",
    ),
    path(
        "problems/nps/<int:request_id>/send-again/",
        views_notifications.send_nps_request_again,
        name="nps-send-again",
    ),
]
