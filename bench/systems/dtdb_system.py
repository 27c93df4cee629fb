"""django-tasks-db, the database backend of Django's Tasks framework, on SQLite and PostgreSQL.

Its worker (``manage.py db_worker``) runs one task at a time and polls; the
bench passes ``--interval 0.2`` (default 1 s) and ``--no-startup-delay``.
"""

from .base import Worker, manage
from .django_app import DjangoSystem


class DjangoTasksDb(DjangoSystem):
    tasks_backend = "django-tasks-db"
    note = "django-tasks-db: one task at a time per worker, which polls (run with --interval 0.2)."

    def worker_command(self, worker: Worker) -> list[str]:
        return manage("db_worker", "--interval", "0.2", "--no-startup-delay", "--no-reload")

    def reset(self) -> None:
        from django_tasks_db.models import DBTaskResult

        DBTaskResult.objects.all().delete()

    def count_finished(self) -> int:
        from django_tasks_db.models import DBTaskResult

        return DBTaskResult.objects.successful().count()


class DjangoTasksDbSqlite(DjangoTasksDb):
    name = "dtdb-sqlite"
    store = "sqlite"


class DjangoTasksDbPostgres(DjangoTasksDb):
    name = "dtdb-pg"
    store = "postgres"
