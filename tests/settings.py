"""Settings for backroom's tests: SQLite (always), PostgreSQL and Redis (when reachable).

The test process and the worker subprocesses it starts share databases
through environment variables set in conftest.py.
"""

import os
import tempfile

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

_run_dir = os.environ.setdefault("BACKROOM_TEST_DIR", tempfile.mkdtemp(prefix="backroom-test-"))
_sqlite_path = os.path.join(_run_dir, "test.sqlite3")
_pg_name = os.environ.setdefault("BACKROOM_TEST_PG_NAME", f"backroom_test_{os.getpid()}")
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
    if os.environ.get("CI") or os.environ.get("BACKROOM_TEST_SUBPROCESS"):
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


POSTGRES_UNAVAILABLE = _postgres_unavailable()
if POSTGRES_UNAVAILABLE is None:
    DATABASES["pg"] = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("BACKROOM_PG_HOST", "127.0.0.1"),
        "PORT": os.environ.get("BACKROOM_PG_PORT", "5432"),
        "USER": os.environ.get("BACKROOM_PG_USER", "postgres"),
        "NAME": _pg_name if _in_subprocess else "test",
        "TEST": {"NAME": _pg_name},
    }


def _redis_unavailable() -> str | None:
    """Why Redis cannot be used, or None. In CI it is always used: absent, tests fail."""
    if os.environ.get("CI") or os.environ.get("BACKROOM_TEST_SUBPROCESS"):
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
REDIS_PREFIX = os.environ.setdefault("BACKROOM_TEST_REDIS_PREFIX", f"backroom-test-{os.getpid()}")
REDIS_UNAVAILABLE = _redis_unavailable()


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

_fast = {"LEASE_SECONDS": 3, "HEARTBEAT_SECONDS": 0.5, "POLL_INTERVAL_SECONDS": 0.1}
TASKS = {
    "default": {"BACKEND": "backroom.backends.DatabaseBackend", "OPTIONS": dict(_fast)},
}
if "pg" in DATABASES:
    TASKS["pg"] = {
        "BACKEND": "backroom.backends.DatabaseBackend",
        "OPTIONS": {**_fast, "DATABASE": "pg"},
    }
if REDIS_UNAVAILABLE is None:
    TASKS["redis"] = {
        "BACKEND": "backroom.backends.RedisBackend",
        "OPTIONS": {**_fast, "REDIS_URL": REDIS_URL, "KEY_PREFIX": REDIS_PREFIX},
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
