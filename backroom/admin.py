"""The admin shows jobs and workers read-only, retry and cancel going through the store's Inspector,
and manages database schedules, which schedulers pick up at their next tick.

A job's page shows what may hold secrets (arguments, return value, progress,
errors, unique key) as the store's Inspector reads it, after ``BACKROOM["REDACT"]``.
"""

import json
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from .backends.stores import stores
from .brokers.contract import Cancelled, Inspector
from .brokers.database import DatabaseInspector
from .jobs.records import JobRecord
from .models import Job, StoredSchedule, Worker
from .redaction import REDACTABLE, redact
from .scheduler.form import ScheduleForm
from .scheduler.stored import as_schedule, set_enabled


def _inspector_for(database: str) -> Inspector | None:
    """The Inspector of the backend whose jobs live in the database the admin reads."""
    for store in stores().values():
        if isinstance(store.inspector, DatabaseInspector) and store.inspector.db.alias == database:
            return store.inspector
    return None


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Nothing added, edited or deleted by hand: the rows belong to backroom."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The change permission allows the list's actions; one row's page stays read-only.
        return obj is None and super().has_change_permission(request, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "task_path",
        "queue_name",
        "status",
        "attempts",
        "max_attempts",
        "enqueued_at",
        "finished_at",
    ]
    list_filter = ["status", "queue_name"]
    search_fields = ["=id", "task_path"]
    date_hierarchy = "enqueued_at"
    actions = ["retry_jobs", "cancel_jobs"]
    # A filtered list does not count the whole table again: millions of finished jobs make that slow.
    show_full_result_count = False

    # What may hold secrets is shown through the redaction, never from the model's fields.
    shown_fields = [f"shown_{f.name}" if f.name in REDACTABLE else f.name for f in Job._meta.fields]
    fields = tuple(shown_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self.shown_fields

    def _shown(self, obj: Job) -> JobRecord | None:
        """The job as people may see it, read once per page; None when no backroom backend reads it."""
        if not hasattr(obj, "_backroom_shown"):
            inspector = _inspector_for(obj._state.db or "default")
            record = None if inspector is None else inspector.get(str(obj.pk))
            obj._backroom_shown = None if record is None else redact(record)  # type: ignore[attr-defined]
        return obj._backroom_shown  # type: ignore[attr-defined, no-any-return]

    def _field(self, obj: Job, name: str) -> str:
        record = self._shown(obj)
        if record is None:
            return "(not shown: no backroom backend reads this database)"
        value = getattr(record, name)
        if name == "errors":
            return _pretty([error.to_json() for error in value])
        return value if name == "unique_key" and value is not None else _pretty(value)

    @admin.display(description="args")
    def shown_args(self, obj: Job) -> str:
        return self._field(obj, "args")

    @admin.display(description="kwargs")
    def shown_kwargs(self, obj: Job) -> str:
        return self._field(obj, "kwargs")

    @admin.display(description="return value")
    def shown_return_value(self, obj: Job) -> str:
        return self._field(obj, "return_value")

    @admin.display(description="progress")
    def shown_progress(self, obj: Job) -> str:
        return self._field(obj, "progress")

    @admin.display(description="errors")
    def shown_errors(self, obj: Job) -> str:
        return self._field(obj, "errors")

    @admin.display(description="unique key")
    def shown_unique_key(self, obj: Job) -> str:
        return self._field(obj, "unique_key")

    def _act(self, request: HttpRequest, queryset: QuerySet[Job]) -> tuple[Inspector, list[str]] | None:
        inspector = _inspector_for(queryset.db)
        if inspector is None:
            self.message_user(
                request, f"No backroom backend keeps its jobs in {queryset.db!r}.", messages.ERROR
            )
            return None
        return inspector, [str(pk) for pk in queryset.values_list("pk", flat=True)]

    @admin.action(description="Retry selected failed or cancelled jobs", permissions=["change"])
    def retry_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        if (found := self._act(request, queryset)) is None:
            return
        inspector, ids = found
        now = timezone.now()
        retried = sum(inspector.retry_job(job_id, now) for job_id in ids)
        self.message_user(
            request,
            f"{retried} of {len(ids)} job(s) are ready to run again "
            "(only failed or cancelled jobs can be retried).",
            messages.SUCCESS if retried else messages.WARNING,
        )

    @admin.action(description="Cancel selected ready jobs (ask running ones to stop)", permissions=["change"])
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        if (found := self._act(request, queryset)) is None:
            return
        inspector, ids = found
        now = timezone.now()
        by = f"{request.user.get_username()} (admin)"
        cancelled = asked = 0
        for job_id in ids:
            done = inspector.cancel(job_id, now, by=by)
            cancelled += done == Cancelled.CANCELLED
            asked += done == Cancelled.REQUESTED
        self.message_user(
            request,
            f"{cancelled} job(s) cancelled, {asked} running job(s) asked to stop, "
            f"{len(ids) - cancelled - asked} already finished.",
            messages.SUCCESS if cancelled or asked else messages.WARNING,
        )


@admin.register(Worker)
class WorkerAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "hostname",
        "pid",
        "queues",
        "concurrency",
        "backend",
        "started_at",
        "last_heartbeat_at",
    ]
    list_filter = ["backend", "hostname"]


@admin.register(StoredSchedule)
class StoredScheduleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ScheduleForm
    list_display = ["name", "task", "when", "enabled", "backend", "updated_at"]
    list_filter = ["enabled"]
    search_fields = ["name", "task"]
    readonly_fields = ["created_at", "updated_at"]
    actions = ["pause_schedules", "resume_schedules"]

    @admin.display(description="when")
    def when(self, obj: StoredSchedule) -> str:
        return as_schedule(obj).every

    @admin.action(description="Pause selected schedules", permissions=["change"])
    def pause_schedules(self, request: HttpRequest, queryset: QuerySet[StoredSchedule]) -> None:
        self.message_user(request, f"{set_enabled(queryset, False)} schedule(s) paused.")

    @admin.action(description="Resume selected schedules", permissions=["change"])
    def resume_schedules(self, request: HttpRequest, queryset: QuerySet[StoredSchedule]) -> None:
        self.message_user(request, f"{set_enabled(queryset, True)} schedule(s) resumed.")
