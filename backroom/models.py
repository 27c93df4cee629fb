"""The job, worker and schedule-run tables.

The ORM serves the dashboard, the admin and migrations; the hot paths
(enqueue, claim, persist) use the SQL in ``backroom.brokers``.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class JobStatus(models.TextChoices):
    READY = "READY", _("Ready")
    RUNNING = "RUNNING", _("Running")
    SUCCESSFUL = "SUCCESSFUL", _("Successful")
    FAILED = "FAILED", _("Failed")
    CANCELLED = "CANCELLED", _("Cancelled")


ACTIVE_STATUSES = (JobStatus.READY, JobStatus.RUNNING)
FINISHED_STATUSES = (JobStatus.SUCCESSFUL, JobStatus.FAILED, JobStatus.CANCELLED)


class Job(models.Model):
    id = models.UUIDField(primary_key=True)
    task_path = models.CharField(max_length=255)
    queue_name = models.CharField(max_length=64)
    priority = models.SmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.READY)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    # The run_after the caller asked for; available_at is when the job may next
    # be claimed (run_after, or the enqueue time, pushed later by retries).
    run_after = models.DateTimeField(null=True, blank=True)
    available_at = models.DateTimeField()
    enqueued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    last_attempted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.IntegerField(default=0)
    max_attempts = models.IntegerField(default=1)
    timeout_seconds = models.FloatField(null=True, blank=True)
    retry = models.JSONField(default=dict)
    unique_key = models.CharField(max_length=255, null=True, blank=True)
    worker_id = models.CharField(max_length=64, null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    worker_ids = models.JSONField(default=list)
    errors = models.JSONField(default=list)
    return_value = models.JSONField(null=True, blank=True)
    progress = models.JSONField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)

    class Meta:
        db_table = "backroom_job"
        ordering = ["-enqueued_at"]
        indexes = [
            # The claim: ready jobs, highest priority first, then oldest; of every
            # queue (a worker's default) or of the queues a worker names.
            models.Index(
                fields=["-priority", "available_at"],
                name="backroom_job_ready",
                condition=models.Q(status=JobStatus.READY),
            ),
            models.Index(
                fields=["queue_name", "-priority", "available_at"],
                name="backroom_job_ready_queue",
                condition=models.Q(status=JobStatus.READY),
            ),
            # The reaper: running jobs whose lease ran out.
            models.Index(
                fields=["lease_expires_at"],
                name="backroom_job_running",
                condition=models.Q(status=JobStatus.RUNNING),
            ),
            # Pruning and the dashboard's lists of finished jobs.
            models.Index(fields=["status", "finished_at"], name="backroom_job_finished"),
            models.Index(fields=["task_path", "status"], name="backroom_job_task"),
            # The dashboard's and the admin's job lists: newest first.
            models.Index(fields=["-enqueued_at"], name="backroom_job_enqueued"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["unique_key"],
                name="backroom_job_unique_active",
                condition=models.Q(status__in=ACTIVE_STATUSES),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_path} [{self.status}] {self.id}"


class Worker(models.Model):
    id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=255)
    pid = models.IntegerField()
    queues = models.JSONField(default=list)  # empty: every queue
    concurrency = models.IntegerField()
    backend = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    last_heartbeat_at = models.DateTimeField()

    class Meta:
        db_table = "backroom_worker"
        ordering = ["hostname", "pid"]

    def __str__(self) -> str:
        return self.id


class ScheduleRun(models.Model):
    """One slot of a schedule, enqueued: the unique (schedule, slot) pair makes it happen once."""

    schedule_name = models.CharField(max_length=200)
    slot_at = models.DateTimeField()  # the slot's instant, in UTC
    job_id = models.UUIDField()  # the job serving the slot (not a foreign key: pruning removes jobs)
    enqueued_at = models.DateTimeField()

    class Meta:
        db_table = "backroom_schedule_run"
        ordering = ["schedule_name", "-slot_at"]
        constraints = [
            models.UniqueConstraint(fields=["schedule_name", "slot_at"], name="backroom_schedule_run_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.schedule_name} @ {self.slot_at.isoformat()}"
