from django.urls import path

from . import views

urlpatterns = [
    path("nothing/", views.nothing),
    path("enqueue/", views.enqueue),
]
