"""URLs of the status endpoint: ``path("tasks/", include("backroom.status.urls"))``."""

from django.urls import path

from . import views

app_name = "backroom_status"
urlpatterns = [
    path("<str:token>/", views.status_json, name="json"),
    path("<str:token>/events/", views.status_events, name="events"),
]
