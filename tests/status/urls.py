from django.urls import include, path

urlpatterns = [path("status/", include("backroom.status.urls"))]
