from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("", include("signup.urls")),
    path("outbox/", include("mailsink.urls")),
    # The end-user status endpoint: public, the signed token is the access control.
    path("tasks/", include("backroom.status.urls")),
    # backroom's dashboard and Django's admin: for staff (run.py prints the demo's staff user).
    path("backroom/", include("backroom.urls")),
    path("admin/", admin.site.urls),
]
