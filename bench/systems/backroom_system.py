"""backroom on each of its stores: SQLite, PostgreSQL, MariaDB, Redis, and PostgreSQL with RabbitMQ."""

from typing import Any

import backroom

from .base import Worker, manage
from .django_app import DjangoSystem


class Backroom(DjangoSystem):
    workers = (Worker("", 1), Worker("", 4), Worker("", 8))
    tasks_backend = "backroom-db"

    def enqueue_many(self, count: int) -> None:
        backroom.enqueue_many(self.tasks.noop, [((), {})] * count)

    def worker_command(self, worker: Worker) -> list[str]:
        # -v 0 logs warnings and errors only, as Celery runs here (--loglevel WARNING) and RQ (--quiet):
        # the line per job that -v 1 writes costs 10-20% of a no-op drain.
        return manage(
            "backroom", "worker", "--concurrency", str(worker.concurrency), "--no-scheduler", "-v", "0"
        )

    def reset(self) -> None:
        from backroom.models import Job

        Job.objects.all().delete()

    def count_finished(self) -> int:
        from backroom.models import Job, JobStatus

        return Job.objects.filter(status=JobStatus.SUCCESSFUL).count()


class BackroomSqlite(Backroom):
    name = "backroom-sqlite"
    store = "sqlite"
    note = "backroom-sqlite: SQLite cannot notify, its idle worker polls every 0.2 s (the default)."


class BackroomPostgres(Backroom):
    name = "backroom-pg"
    store = "postgres"


class BackroomMariaDB(Backroom):
    name = "backroom-maria"
    store = "mariadb"
    note = "backroom-maria: MariaDB cannot notify, its idle worker polls every 0.2 s (the default)."


class BackroomRedis(Backroom):
    name = "backroom-redis"
    store = "redis"
    tasks_backend = "backroom-redis"

    @property
    def redis(self) -> Any:
        from backroom.backends.stores import store_for

        return store_for("default").broker.redis  # type: ignore[attr-defined]

    def reset(self) -> None:
        self.redis.delete_all_keys()

    def teardown(self) -> None:
        self.reset()
        super().teardown()

    def count_finished(self) -> int:
        return int(self.redis.client.zcard(self.redis.keys.of_queue("default", "successful")))


class BackroomRabbitMQ(Backroom):
    """Jobs' rows in PostgreSQL, their dispatch through RabbitMQ quorum queues (docs/rabbitmq.md)."""

    name = "backroom-rabbitmq"
    store = "postgres"
    tasks_backend = "backroom-rabbitmq"
    note = "backroom-rabbitmq: rows in PostgreSQL, dispatch through RabbitMQ quorum queues."

    def reset(self) -> None:
        from backroom.backends.stores import store_for

        super().reset()
        store_for("default").broker.delete_queues()  # type: ignore[attr-defined]

    def teardown(self) -> None:
        from backroom.backends.stores import store_for

        self.reset()
        rabbitmq = store_for("default").broker.rabbitmq  # type: ignore[attr-defined]
        with rabbitmq.errors("delete the bench's exchange"):
            rabbitmq.channel().exchange_delete(rabbitmq.exchange)
        super().teardown()
