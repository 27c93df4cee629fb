import os
import warnings
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from backroom.backends.stores import store_for
from backroom.worker.runner import Worker, WorkerOptions

from .support import ROOT, WorkerProcess, delete_rabbitmq_queues, delete_redis_keys, rabbitmq_in_use

STORES = ["default", "pg", "maria", "redis", "cluster", "rabbitmq"]
STORE_NAMES = {
    "default": "sqlite",
    "pg": "postgresql",
    "maria": "mariadb",
    "redis": "redis",
    "cluster": "redis-cluster",
    "rabbitmq": "rabbitmq",
}
#: The stores whose keys live in Redis: deleted after each test that used them.
REDIS_STORES = {"redis", "cluster"}


def pytest_sessionfinish(session):
    """RabbitMQ is shared: remove this run's queues and exchange (a database teardown cannot)."""
    if "rabbitmq" in getattr(settings, "TASKS", {}) and not os.environ.get("BACKROOM_TEST_SUBPROCESS"):
        from .support import sweep_rabbitmq

        sweep_rabbitmq()


def pytest_collection_modifyitems(items):
    """Tests that use a store get committed transactions (workers run in other
    threads and processes) and may reach every database."""
    stores = {"store", "sql_store", "pg", "maria", "redis_store"}
    for item in items:
        if stores & set(item.fixturenames) and not item.get_closest_marker("django_db"):
            item.add_marker(pytest.mark.django_db(transaction=True, databases="__all__"))


#: Why each store's service is missing, when it is (tests/settings.py finds out).
_UNAVAILABLE = {
    "pg": "POSTGRES_UNAVAILABLE",
    "maria": "MARIADB_UNAVAILABLE",
    "redis": "REDIS_UNAVAILABLE",
    "cluster": "REDIS_CLUSTER_UNAVAILABLE",
    "rabbitmq": "RABBITMQ_UNAVAILABLE",
}


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test databases, and before it drops them, the end of PostgreSQL sessions a
    finished test's thread left open: DROP DATABASE refuses while one is connected, and the database
    would be left behind. Each is named in a warning, so the leak can be found."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        for connection in connections.all():
            if connection.vendor != "postgresql":
                continue
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid, application_name, pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                stray = cursor.fetchall()
            if stray:
                names = ", ".join(f"{pid} {name!r}" for pid, name, _ in stray)
                warnings.warn(f"sessions left open on {connection.alias!r}, ended: {names}", stacklevel=1)


@pytest.fixture(scope="session")
def django_db_modify_db_settings_xdist_suffix():
    """Keep test database names as tests/settings.py made them: already one per xdist worker, and
    the worker subprocesses a test starts read them from there, not from pytest-django's suffix."""


def _skip_without(alias: str) -> None:
    """Skip (locally) when the store's service is absent; under CI the settings make it fail instead."""
    if alias not in settings.TASKS:
        pytest.skip(getattr(settings, _UNAVAILABLE[alias]))


@pytest.fixture(params=STORES, ids=[STORE_NAMES[s] for s in STORES])
def store(request):
    """The TASKS/DATABASES alias of each store; the test runs once per store."""
    _skip_without(request.param)
    with store_in_use(request.param):
        yield request.param
        if request.param == "rabbitmq":
            delete_rabbitmq_queues()
    if request.param in REDIS_STORES:
        delete_redis_keys(request.param)


def store_in_use(store: str) -> AbstractContextManager[object]:
    """Hold a store's shared service while a test uses it: RabbitMQ, which some tests stop."""
    return rabbitmq_in_use() if store == "rabbitmq" else nullcontext()


@pytest.fixture(params=["default", "pg", "maria"], ids=["sqlite", "postgresql", "mariadb"])
def sql_store(request):
    """Each SQL store, for tests about SQL itself (statements, plans, transactions)."""
    _skip_without(request.param)
    return request.param


@pytest.fixture
def redis_store():
    """The alias of the Redis store, for tests that need it alone; its keys are deleted after."""
    _skip_without("redis")
    yield "redis"
    delete_redis_keys()


@pytest.fixture
def maria():
    """The alias of the MariaDB store, for tests that need it alone."""
    _skip_without("maria")
    return "maria"


@pytest.fixture
def pg():
    """The alias of the PostgreSQL store, for tests that need it alone."""
    _skip_without("pg")
    return "pg"


@pytest.fixture
def run_worker():
    """Run an in-process worker (burst mode by default); return its exit code."""

    def run(store: str, clock=timezone.now, **options) -> int:
        options.setdefault("burst", True)
        return Worker(store_for(store), WorkerOptions(**options), clock=clock).run()

    return run


@pytest.fixture
def worker_process(tmp_path):
    """Start worker subprocesses (or other verbs, see WorkerProcess); each is killed at the end."""
    started: list[WorkerProcess] = []

    def start(*args: str, **kwargs) -> WorkerProcess:
        process = WorkerProcess(*args, log_dir=tmp_path, **kwargs)
        started.append(process)
        return process

    yield start
    for process in started:
        process.kill()


CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (never a downloaded browser).

    One per module: Playwright's loop must stop before other modules' tests call asyncio.run().
    """
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: ./dev test installs it with apt-get.")
        pytest.skip(f"{CHROMIUM} is missing (install Debian's chromium to run browser tests)")
    # Playwright's sync API keeps an event loop in this thread; Django's ORM,
    # used by the test itself, must not mistake the test for async code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser page; a screenshot of its last state is saved to test-artifacts/."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    new_page = context.new_page()
    new_page.set_default_timeout(15_000)
    yield new_page
    ARTIFACTS.mkdir(exist_ok=True)
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in request.node.name)
    new_page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    context.close()
