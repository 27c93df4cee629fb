from django.urls import include, path

urlpatterns = [
    path("", include("signup.urls")),
    path("outbox/", include("mailsink.urls")),
    # The end-user status endpoint: public, the signed token is the access control.
    path("tasks/", include("backroom.status.urls")),
]
