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
]
