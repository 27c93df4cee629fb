"""The systems the bench compares, by the name used in --systems and in the table."""

from .backroom_system import (
    BackroomMariaDB,
    BackroomPostgres,
    BackroomRabbitMQ,
    BackroomRedis,
    BackroomSqlite,
)
from .base import Scratch, System, Worker, running
from .celery_system import Celery, CeleryAmqp
from .dtdb_system import DjangoTasksDbPostgres, DjangoTasksDbSqlite
from .procrastinate_system import Procrastinate
from .rq_system import Rq

SYSTEMS: dict[str, type[System]] = {
    system.name: system
    for system in (
        BackroomSqlite, BackroomPostgres, BackroomMariaDB, BackroomRedis, BackroomRabbitMQ,
        DjangoTasksDbSqlite, DjangoTasksDbPostgres, Procrastinate, Celery, CeleryAmqp, Rq,
    )
}  # fmt: skip
BACKROOM = ("backroom-sqlite", "backroom-pg", "backroom-maria", "backroom-redis", "backroom-rabbitmq")

__all__ = ["BACKROOM", "SYSTEMS", "Scratch", "System", "Worker", "running"]
