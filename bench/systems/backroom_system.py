"""backroom on each of its stores: SQLite, PostgreSQL, Redis."""

from typing import Any

import backroom

from .base import manage
from .django_app import DjangoSystem


class Backroom(DjangoSystem):
    concurrencies = (1, 4, 8)
    tasks_backend = "backroom-db"

    def enqueue_many(self, count: int) -> None:
        backroom.enqueue_many(self.tasks.noop, [((), {})] * count)

    def worker_command(self, concurrency: int) -> list[str]:
        return manage("backroom", "worker", "--concurrency", str(concurrency), "--no-scheduler")

    def reset(self) -> None:
        from backroom.models import Job

        Job.objects.all().delete()

    def count_finished(self) -> int:
        from backroom.models import Job, JobStatus

        return Job.objects.filter(status=JobStatus.SUCCESSFUL).count()


class BackroomSqlite(Backroom):
    name = "backroom-sqlite"
    note = "backroom-sqlite: SQLite cannot notify, its idle worker polls every 0.2 s (the default)."


class BackroomPostgres(Backroom):
    name = "backroom-pg"
    postgres = True


class BackroomRedis(Backroom):
    name = "backroom-redis"
    tasks_backend = "backroom-redis"

    @property
    def broker(self) -> Any:
        from django.tasks import task_backends

        return task_backends["default"].broker  # type: ignore[attr-defined]

    def reset(self) -> None:
        self.broker.delete_all_keys()

    def teardown(self) -> None:
        self.reset()
        super().teardown()

    def count_finished(self) -> int:
        return int(self.broker.client.zcard(self.broker.key("queue", "default", "successful")))
