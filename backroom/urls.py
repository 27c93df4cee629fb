"""The dashboard and the metrics endpoint: ``path("backroom/", include("backroom.urls"))``."""

from django.urls import path

from .dashboard import actions, schedules, views
from .metrics.views import metrics

app_name = "backroom"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("jobs/", views.jobs, name="jobs"),
    path("jobs/<uuid:job_id>/", views.job, name="job"),
    path("jobs/<uuid:job_id>/retry", actions.retry_job, name="retry-job"),
    path("jobs/<uuid:job_id>/cancel", actions.cancel_job, name="cancel-job"),
    path("failed/<str:verb>/confirm", actions.confirm_failed, name="confirm-failed"),
    path("failed/<str:verb>", actions.act_on_failed, name="act-on-failed"),
    path("queues/<str:queue_name>/pause", actions.pause_queue, name="pause-queue"),
    path("queues/<str:queue_name>/resume", actions.resume_queue, name="resume-queue"),
    path("workers/", views.workers, name="workers"),
    path("schedules/", schedules.schedules, name="schedules"),
    path("schedules/add", schedules.add_schedule, name="add-schedule"),
    path("schedules/<int:pk>/", schedules.edit_schedule, name="edit-schedule"),
    path("schedules/<int:pk>/pause", schedules.pause_schedule, name="pause-schedule"),
    path("schedules/<int:pk>/resume", schedules.resume_schedule, name="resume-schedule"),
    path("schedules/<int:pk>/delete", schedules.delete_schedule, name="delete-schedule"),
    path("metrics", metrics, name="metrics"),
]
