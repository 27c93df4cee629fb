"""Settings of the bench project, chosen by the BENCH_* environment variables a bench session sets.

BENCH_TASKS_BACKEND picks the system under test ("backroom-db", "backroom-redis", "backroom-rabbitmq",
"django-tasks-db", "procrastinate", or "none" for Celery and RQ, which only use
the web view); BENCH_PG_NAME, when set, puts the database on PostgreSQL,
BENCH_MARIADB_NAME on MariaDB, instead of the SQLite file BENCH_SQLITE_PATH.
"""

import os
from typing import Any

SECRET_KEY = "backroom-bench-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "benchsite.urls"
MIDDLEWARE: list[str] = []
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

_backend = os.environ.get("BENCH_TASKS_BACKEND", "none")
_redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
_prefix = os.environ.get("BENCH_PREFIX", "backroom-bench")

# Each system installs only its own app: none pays for another's imports when its worker starts
# (django_tasks_db alone imported django_stubs_ext, 47 ms of a backroom worker's start).
INSTALLED_APPS = ["django.contrib.contenttypes", "benchsite"]
if _backend.startswith("backroom-"):
    INSTALLED_APPS.insert(1, "backroom")
elif _backend == "django-tasks-db":
    INSTALLED_APPS.insert(1, "django_tasks_db")
elif _backend == "procrastinate":
    # Its migrations are PostgreSQL's own SQL: installed only for the system that uses it.
    INSTALLED_APPS.append("procrastinate.contrib.django")
    PROCRASTINATE_AUTODISCOVER_MODULE_NAME = ""  # benchsite.tasks holds django.tasks' tasks, not its
    PROCRASTINATE_IMPORT_PATHS = ["procrastinate_tasks"]

DATABASES: dict[str, dict[str, Any]]
if os.environ.get("BENCH_PG_NAME"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("BENCH_PG_HOST", "127.0.0.1"),
            "PORT": os.environ.get("BENCH_PG_PORT", "5432"),
            "USER": os.environ.get("BENCH_PG_USER", "postgres"),
            "NAME": os.environ["BENCH_PG_NAME"],
            # As a site would run it: a connection kept across requests, not opened for each.
            "CONN_MAX_AGE": 60,
            # Django's switch for psycopg's prepared statements (off by default for PgBouncer's sake):
            # backroom's enqueue and claim bind on the server, so they are prepared after 5 runs.
            "OPTIONS": {"prepare_threshold": 5},
        }
    }
elif os.environ.get("BENCH_MARIADB_NAME"):
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "HOST": os.environ.get("BENCH_MARIADB_HOST", "127.0.0.1"),
            "PORT": os.environ.get("BENCH_MARIADB_PORT", "3306"),
            "USER": os.environ.get("BENCH_MARIADB_USER", "root"),
            "NAME": os.environ["BENCH_MARIADB_NAME"],
            "OPTIONS": {"charset": "utf8mb4"},
            "CONN_MAX_AGE": 60,
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_SQLITE_PATH", "bench.sqlite3"),
            # As a site would run it: WAL so the web process and the worker read while one writes.
            "OPTIONS": {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }

_TASK_BACKENDS = {
    "backroom-db": {"BACKEND": "backroom.backends.DatabaseBackend"},
    "backroom-redis": {
        "BACKEND": "backroom.backends.RedisBackend",
        "OPTIONS": {"REDIS_URL": _redis_url, "KEY_PREFIX": f"{_prefix}-backroom"},
    },
    "backroom-rabbitmq": {
        "BACKEND": "backroom.backends.RabbitMQBackend",
        "OPTIONS": {
            "RABBITMQ_URL": os.environ.get("BENCH_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F"),
            "QUEUE_PREFIX": f"{_prefix}-backroom",
        },
    },
    "django-tasks-db": {"BACKEND": "django_tasks_db.DatabaseBackend"},
    "procrastinate": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"},
    "none": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"},
}
TASKS = {"default": _TASK_BACKENDS[_backend]}

# No schedule in the bench workers, not even backroom's hourly maintenance job.
BACKROOM = {"SCHEDULES": {"backroom.prune": None}}
