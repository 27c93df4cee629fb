from django.urls import path

from . import views

urlpatterns = [path("", views.outbox_page, name="outbox")]
