"""The job, worker, schedule-run, database-schedule, paused-queue and limit tables.

The ORM serves the dashboard, the admin and migrations; the hot paths
(enqueue, claim, record) use the SQL in ``backroom.brokers.database``, and
so do the job table's indexes, which differ between databases (see
``Dialect.index_ddl``; migration 0001 creates them).
"""

from django.db import models

from .jobs.records import JobStatus

STATUS_CHOICES = [(status.value, status.label) for status in JobStatus]


class Job(models.Model):
    id = models.UUIDField(primary_key=True)
    task_path = models.CharField(max_length=255)
    queue_name = models.CharField(max_length=64)
    priority = models.SmallIntegerField(default=0)
    status = models.CharField(max_length=10, choices=STATUS_CHOICES, default=JobStatus.READY.value)
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
    # How often a worker died holding the job: above 0, the job runs alone.
    orphaned = models.IntegerField(default=0)
    # Not started by then, the job ends CANCELLED when a worker reaches it, never run.
    expires_at = models.DateTimeField(null=True, blank=True)
    # A workflow job's links (backroom.jobs.links.Links), written once at enqueue.
    links = models.JSONField(null=True, blank=True)
    # Parents' outcomes a workflow job still waits for: above 0 it is never claimed. Nullable (NULL: 0)
    # so that SQLite adds the column in place instead of rebuilding the table without its indexes.
    waiting_for = models.IntegerField(null=True, blank=True)
    # The group of a task's global limits (the task, or the task and its limit_key), and the limits.
    limit_key = models.CharField(max_length=255, null=True, blank=True)
    concurrency_limit = models.IntegerField(null=True, blank=True)
    rate_limit = models.CharField(max_length=32, null=True, blank=True)  # "count/seconds"
    # RabbitMQBackend only: the available_at a confirmed message was published for. A READY job whose
    # available_at differs has no message yet; the relay publishes it when due (docs/rabbitmq.md).
    dispatched_for = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "backroom_job"
        ordering = ["-id"]  # UUIDv7 ids: newest first, through the primary key

    def __str__(self) -> str:
        return f"{self.task_path} [{self.status}] {self.id}"


class PausedQueue(models.Model):
    """A queue whose jobs no worker claims until it is resumed; the row exists only while paused."""

    queue_name = models.CharField(max_length=64, primary_key=True)
    paused_at = models.DateTimeField()
    paused_by = models.CharField(max_length=255)

    class Meta:
        db_table = "backroom_paused_queue"
        ordering = ["queue_name"]

    def __str__(self) -> str:
        return self.queue_name


class LimitState(models.Model):
    """One limit group's lock and rate state: claims of its jobs lock this row, so no two race.

    ``limit_group`` is a job's ``limit_key`` or ``queue:<name>`` for a queue's limits;
    ``next_start_at`` is when the group's rate next lets a job start.
    """

    limit_group = models.CharField(max_length=255, primary_key=True)
    next_start_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "backroom_limit"
        ordering = ["limit_group"]

    def __str__(self) -> str:
        return self.limit_group


class Worker(models.Model):
    id = models.CharField(max_length=64, primary_key=True)
    hostname = models.CharField(max_length=255)
    pid = models.IntegerField()
    queues = models.JSONField(default=list)  # empty: every queue
    concurrency = models.IntegerField()
    backend = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    last_heartbeat_at = models.DateTimeField()
    abandoned_threads = models.IntegerField(default=0)  # threads stuck in a task past its timeout

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


class StoredSchedule(models.Model):
    """A schedule kept in the database, created and edited at runtime; ``backroom.scheduler.stored`` reads it.

    Its fields mirror ``backroom.scheduler.Schedule``; blank means the same as
    leaving the key out of a declared schedule. Edits are validated by
    ``backroom.scheduler.form.ScheduleForm``.
    """

    name = models.CharField(max_length=200, unique=True)
    task = models.CharField(max_length=255, help_text="Dotted path of a @task, e.g. myapp.tasks.send_digest.")
    cron = models.CharField(
        max_length=255, blank=True, help_text="Five cron fields, or @hourly, @daily...; or give an interval."
    )
    interval = models.DurationField(
        null=True, blank=True, help_text="Instead of cron: every so many seconds, or HH:MM:SS."
    )
    timezone = models.CharField(
        max_length=64, blank=True, help_text="IANA name the cron expression reads; blank: TIME_ZONE."
    )
    args = models.JSONField(default=list, blank=True, help_text="A JSON list.")
    kwargs = models.JSONField(default=dict, blank=True, help_text="A JSON object.")
    queue_name = models.CharField(max_length=64, blank=True, help_text="Blank: the task's own.")
    priority = models.SmallIntegerField(null=True, blank=True, help_text="Blank: the task's own.")
    backend = models.CharField(max_length=64, blank=True, help_text="TASKS alias; blank: the task's own.")
    # A value of backroom.scheduler.Missed (not imported: that package imports the backends, and they models).
    missed = models.CharField(max_length=6, default="latest")
    missed_limit = models.PositiveIntegerField(
        default=100, help_text="With missed 'all': the most slots run at once."
    )
    enabled = models.BooleanField(default=True, help_text="Untick to pause: no slot is enqueued meanwhile.")
    created_at = models.DateTimeField(auto_now_add=True)
    # Schedulers compare count and max(updated_at) every tick: a bulk update() must set it too.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "backroom_schedule"
        ordering = ["name"]
        verbose_name = "schedule"

    def __str__(self) -> str:
        return self.name
