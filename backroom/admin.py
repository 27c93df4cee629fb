"""The admin shows jobs and workers read-only; retry and cancel go through the store's Inspector."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from .brokers.database import DatabaseBroker
from .brokers.inspection import Inspector
from .models import Job, Worker
from .monitoring import inspectors


def _inspector_for(database: str) -> Inspector | None:
    """The Inspector of the backend whose jobs live in the database the admin reads."""
    for inspector in inspectors().values():
        if isinstance(inspector, DatabaseBroker) and inspector.alias == database:
            return inspector
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
            if inspector.cancel_job(job_id, now, by=by):
                cancelled += 1
            elif inspector.request_cancel(job_id):
                asked += 1
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
