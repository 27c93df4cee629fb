"""Settings for backroom's tests: SQLite (always), PostgreSQL and Redis (when reachable).

The test process and the worker subprocesses it starts share databases
through environment variables set in conftest.py.
"""

import os
import tempfile
from collections.abc import Callable

import django

SECRET_KEY = "backroom-tests-only"
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "backroom",
    "tests",
]
if django.VERSION < (6, 0):
    INSTALLED_APPS.insert(0, "django_tasks")

STATIC_URL = "/static/"

if django.VERSION >= (6, 1):  # MAILERS replaces EMAIL_BACKEND; the test outbox (mail.outbox) either way
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

#: pytest-xdist runs the suite in several processes: each needs its own databases and Redis prefix.
_XDIST = os.environ.get("PYTEST_XDIST_WORKER", "")


def per_run_key(key: str) -> str:
    """The environment variable that holds ``key`` for this test run (and xdist worker)."""
    return f"{key}_{_XDIST}" if _XDIST else key


def _per_run(key: str, make: Callable[[], str]) -> str:
    """One value per test run (and per xdist worker), inherited by the worker subprocesses it starts."""
    key = per_run_key(key)
    if key not in os.environ:
        os.environ[key] = make()
    return os.environ[key]


def _decided(service: str, why_unavailable: Callable[[], str | None]) -> str | None:
    """Why a service is not used (None: used), decided once per run so worker subprocesses agree."""
    return _per_run(f"BACKROOM_TEST_{service}_UNAVAILABLE", lambda: why_unavailable() or "") or None


_run_dir = _per_run("BACKROOM_TEST_DIR", lambda: tempfile.mkdtemp(prefix="backroom-test-"))
_sqlite_path = os.path.join(_run_dir, "test.sqlite3")
_pg_name = _per_run("BACKROOM_TEST_PG_NAME", lambda: f"backroom_test_{os.getpid()}")
_maria_name = _per_run("BACKROOM_TEST_MARIADB_NAME", lambda: f"backroom_test_{os.getpid()}")
# Worker subprocesses connect to the databases the test run created.
_in_subprocess = os.environ.get("BACKROOM_TEST_SUBPROCESS") == "1"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _sqlite_path if _in_subprocess else os.path.join(_run_dir, "unused.sqlite3"),
        "OPTIONS": {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"},
        "TEST": {"NAME": _sqlite_path},
    },
}


def _postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used, or None. In CI it is always used: absent, tests fail."""
    if os.environ.get("CI"):
        return None
    if os.environ.get("BACKROOM_TEST_POSTGRES") == "0":
        return "BACKROOM_TEST_POSTGRES=0"
    try:
        import psycopg

        psycopg.connect(
            host=os.environ.get("BACKROOM_PG_HOST", "127.0.0.1"),
            port=os.environ.get("BACKROOM_PG_PORT", "5432"),
            user=os.environ.get("BACKROOM_PG_USER", "postgres"),
            dbname="test",
            connect_timeout=3,
        ).close()
    except Exception as exc:  # noqa: BLE001 - any failure means: skip PostgreSQL tests
        return f"PostgreSQL is not reachable: {exc}".strip()
    return None


POSTGRES_UNAVAILABLE = _decided("POSTGRES", _postgres_unavailable)
if POSTGRES_UNAVAILABLE is None:
    DATABASES["pg"] = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("BACKROOM_PG_HOST", "127.0.0.1"),
        "PORT": os.environ.get("BACKROOM_PG_PORT", "5432"),
        "USER": os.environ.get("BACKROOM_PG_USER", "postgres"),
        "NAME": _pg_name if _in_subprocess else "test",
        "TEST": {"NAME": _pg_name},
    }


def _mariadb_unavailable() -> str | None:
    """Why MariaDB cannot be used, or None. In CI it is always used: absent, tests fail."""
    if os.environ.get("CI"):
        return None
    if os.environ.get("BACKROOM_TEST_MARIADB") == "0":
        return "BACKROOM_TEST_MARIADB=0"
    try:
        import MySQLdb

        MySQLdb.connect(
            host=os.environ.get("BACKROOM_MARIADB_HOST", "127.0.0.1"),
            port=int(os.environ.get("BACKROOM_MARIADB_PORT", "3306")),
            user=os.environ.get("BACKROOM_MARIADB_USER", "root"),
            connect_timeout=3,
        ).close()
    except Exception as exc:  # noqa: BLE001 - any failure means: skip MariaDB tests
        return f"MariaDB is not reachable: {exc}".strip()
    return None


MARIADB_UNAVAILABLE = _decided("MARIADB", _mariadb_unavailable)
if MARIADB_UNAVAILABLE is None:
    DATABASES["maria"] = {
        "ENGINE": "django.db.backends.mysql",
        "HOST": os.environ.get("BACKROOM_MARIADB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("BACKROOM_MARIADB_PORT", "3306"),
        "USER": os.environ.get("BACKROOM_MARIADB_USER", "root"),
        "PASSWORD": "",
        "NAME": _maria_name if _in_subprocess else "test",
        "OPTIONS": {"charset": "utf8mb4"},
        "TEST": {"NAME": _maria_name, "CHARSET": "utf8mb4"},
    }


def _redis_unavailable() -> str | None:
    """Why Redis cannot be used, or None. In CI it is always used: absent, tests fail."""
    if os.environ.get("CI"):
        return None
    if os.environ.get("BACKROOM_TEST_REDIS") == "0":
        return "BACKROOM_TEST_REDIS=0"
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:  # noqa: BLE001 - any failure means: skip Redis tests
        return f"Redis is not reachable at {REDIS_URL}: {exc}".strip()
    return None


REDIS_URL = os.environ.get("BACKROOM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
# Every key of this run (and of its worker subprocesses) starts with this; Redis is shared.
REDIS_PREFIX = _per_run("BACKROOM_TEST_REDIS_PREFIX", lambda: f"backroom-test-{os.getpid()}")
REDIS_UNAVAILABLE = _decided("REDIS", _redis_unavailable)


def _rabbitmq_unavailable() -> str | None:
    """Why RabbitMQ (and the PostgreSQL its jobs' rows live in) cannot be used, or None. In CI: used."""
    if os.environ.get("CI"):
        return None
    if os.environ.get("BACKROOM_TEST_RABBITMQ") == "0":
        return "BACKROOM_TEST_RABBITMQ=0"
    if POSTGRES_UNAVAILABLE is not None:
        return POSTGRES_UNAVAILABLE
    try:
        import pika

        pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL + "?connection_attempts=1")).close()
    except Exception as exc:  # noqa: BLE001 - any failure means: skip RabbitMQ tests
        return f"RabbitMQ is not reachable: {exc!r}".strip()
    return None


RABBITMQ_URL = os.environ.get("BACKROOM_TEST_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
# This run's exchange and queues start with this (RabbitMQ is shared; tests/conftest.py deletes them).
RABBITMQ_PREFIX = _per_run("BACKROOM_TEST_RABBITMQ_PREFIX", lambda: f"backroom-test-{os.getpid()}")
RABBITMQ_UNAVAILABLE = _decided("RABBITMQ", _rabbitmq_unavailable)
if RABBITMQ_UNAVAILABLE is None:
    # The RabbitMQ store's rows: a PostgreSQL database of its own, so its tests see only its jobs.
    _rabbitmq_db = _per_run("BACKROOM_TEST_RABBITMQ_DB_NAME", lambda: f"backroom_test_rabbitmq_{os.getpid()}")
    DATABASES["rabbitmq"] = {
        **DATABASES["pg"],
        "NAME": _rabbitmq_db if _in_subprocess else "test",
        "TEST": {"NAME": _rabbitmq_db},
    }


def private_postgres(port: int) -> dict:
    """A private server a test starts and restarts (tests/reliability); prompt errors when down."""
    return {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "USER": "postgres",
        "NAME": "postgres",
        "OPTIONS": {"connect_timeout": 3},
    }


if os.environ.get("BACKROOM_TEST_PRIVATE_PG_PORT"):
    DATABASES["pg_private"] = private_postgres(int(os.environ["BACKROOM_TEST_PRIVATE_PG_PORT"]))

# Short leases, so that tests of lost workers end quickly; a test may ask its worker processes for another.
_fast = {
    "LEASE_SECONDS": float(os.environ.get("BACKROOM_TEST_LEASE_SECONDS", 3)),
    "HEARTBEAT_SECONDS": 0.5,
    "POLL_INTERVAL_SECONDS": 0.1,
}
TASKS = {
    "default": {"BACKEND": "backroom.backends.DatabaseBackend", "OPTIONS": dict(_fast)},
}
if "pg" in DATABASES:
    TASKS["pg"] = {
        "BACKEND": "backroom.backends.DatabaseBackend",
        "OPTIONS": {**_fast, "DATABASE": "pg"},
    }
if "maria" in DATABASES:
    TASKS["maria"] = {
        "BACKEND": "backroom.backends.DatabaseBackend",
        "OPTIONS": {**_fast, "DATABASE": "maria"},
    }
if REDIS_UNAVAILABLE is None:
    TASKS["redis"] = {
        "BACKEND": "backroom.backends.RedisBackend",
        "OPTIONS": {**_fast, "REDIS_URL": REDIS_URL, "KEY_PREFIX": REDIS_PREFIX},
    }


if RABBITMQ_UNAVAILABLE is None:
    TASKS["rabbitmq"] = {
        "BACKEND": "backroom.backends.RabbitMQBackend",
        "OPTIONS": {
            **_fast,
            "DATABASE": "rabbitmq",
            "RABBITMQ_URL": RABBITMQ_URL,
            "QUEUE_PREFIX": RABBITMQ_PREFIX,
        },
    }


def _redis_cluster_url() -> tuple[str | None, str | None]:
    """The URL of the test run's own Redis Cluster (started here, once per run), or why there is none."""
    if os.environ.get("BACKROOM_TEST_CLUSTER_URL"):  # a worker subprocess: the run's cluster
        return os.environ["BACKROOM_TEST_CLUSTER_URL"], None
    if not os.environ.get("CI"):
        if os.environ.get("BACKROOM_TEST_REDIS_CLUSTER") == "0":
            return None, "BACKROOM_TEST_REDIS_CLUSTER=0"
        if REDIS_UNAVAILABLE is not None:
            return None, REDIS_UNAVAILABLE
    import atexit

    from tests.redis_cluster import SERVER, start_cluster

    if SERVER is None and not os.environ.get("CI"):
        return None, "redis-server is not installed: no Redis Cluster to start"
    cluster = start_cluster()
    atexit.register(cluster.stop)
    os.environ["BACKROOM_TEST_CLUSTER_URL"] = cluster.url
    return cluster.url, None


REDIS_CLUSTER_URL, REDIS_CLUSTER_UNAVAILABLE = _redis_cluster_url()
if REDIS_CLUSTER_URL is not None:
    TASKS["cluster"] = {
        "BACKEND": "backroom.backends.RedisBackend",
        "OPTIONS": {
            **_fast,
            "REDIS_URL": REDIS_CLUSTER_URL,
            "REDIS_CLUSTER": True,
            "KEY_PREFIX": REDIS_PREFIX,
        },
    }

if "pg_private" in DATABASES:
    TASKS["pg_private"] = {
        "BACKEND": "backroom.backends.DatabaseBackend",
        "OPTIONS": {**_fast, "DATABASE": "pg_private"},
    }

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "loggers": {"backroom": {"handlers": ["stderr"], "level": "INFO"}},
}

# No schedule runs in the test workers unless a test declares one: not even
# backroom's hourly maintenance, which would add a job to tests that count them.
BACKROOM = {"SCHEDULES": {"backroom.prune": None}}
