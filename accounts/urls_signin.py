from django.urls import path

from . import views_signin

urlpatterns = [
    path("", views_signin.request_code, name="sign-in-request"),
    path("code/", views_signin.enter_code, name="sign-in-code"),
]
