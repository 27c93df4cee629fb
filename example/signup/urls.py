from django.urls import path

from . import views

urlpatterns = [
    path("", views.signup_page, name="signup"),
    path("register/", views.register_user, name="register_user"),
]
