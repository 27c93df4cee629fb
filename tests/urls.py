from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("backroom/", include("backroom.urls")),
    path("status/", include("backroom.status.urls")),
]
