"""The systems the bench compares, by the name used in --systems and in the table."""

from .backroom_system import BackroomMariaDB, BackroomPostgres, BackroomRedis, BackroomSqlite
from .base import Scratch, System, Worker, running
from .celery_system import Celery
from .dtdb_system import DjangoTasksDbPostgres, DjangoTasksDbSqlite
from .procrastinate_system import Procrastinate
from .rq_system import Rq

SYSTEMS: dict[str, type[System]] = {
    system.name: system
    for system in (
        BackroomSqlite, BackroomPostgres, BackroomMariaDB, BackroomRedis,
        DjangoTasksDbSqlite, DjangoTasksDbPostgres, Procrastinate, Celery, Rq,
    )
}  # fmt: skip
BACKROOM = ("backroom-sqlite", "backroom-pg", "backroom-maria", "backroom-redis")

__all__ = ["BACKROOM", "SYSTEMS", "Scratch", "System", "Worker", "running"]
