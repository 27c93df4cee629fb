"""``manage.py backroom worker``: run tasks until stopped."""

import logging
import socket
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...backends.stores import NotBackroom, store_for
from ...compat import TASKS_LOGGER
from ...metrics.worker import serve_worker_metrics
from ...store import Store
from ...worker.runner import (
    DEFAULT_PREFETCH,
    PREFETCH_SECONDS,
    Worker,
    WorkerOptions,
    install_signal_handlers,
)
from ...worker.supervisor import Supervisor
from ..arguments import add_backend, integer, number

HELP = "Run tasks: claim ready jobs, execute them, record the outcomes."


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--queue", "-q", action="append", dest="queues", default=[], metavar="QUEUE",
        help="Serve this queue (repeatable). Default: every queue.",
    )  # fmt: skip
    parser.add_argument(
        "--concurrency", "-c", type=integer(1), default=1, metavar="N",
        help="Run up to N jobs at once, each on its own thread. Default: 1.",
    )  # fmt: skip
    parser.add_argument(
        "--prefetch", type=integer(0), default=DEFAULT_PREFETCH, metavar="N",
        help="While jobs are short, hold up to N ready jobs beyond the free threads, so that threads "
        "never wait for the store; a job held ahead stays READY, uncharged, and goes back if no thread "
        f"starts it within {PREFETCH_SECONDS * 1000:.0f} ms. 0: claim only for free threads. "
        f"Default: {DEFAULT_PREFETCH}.",
    )  # fmt: skip
    parser.add_argument(
        "--burst", action="store_true",
        help="Run the jobs that are ready, then exit (for tests and cron). Never runs schedules.",
    )  # fmt: skip
    add_backend(parser)
    parser.add_argument(
        "--max-jobs", type=integer(1), default=None, metavar="N",
        help="Stop gracefully (exit 0) after N jobs, for a supervisor to start a fresh process.",
    )  # fmt: skip
    parser.add_argument(
        "--poll-interval", type=number(0, above=True), default=None, metavar="SECONDS",
        help="Look for ready jobs this often when nothing wakes the worker. Default: the backend's "
        "POLL_INTERVAL_SECONDS, else 5 on PostgreSQL (whose NOTIFY wakes workers at once), 1 on Redis, "
        "0.2 on SQLite and MariaDB.",
    )  # fmt: skip
    parser.add_argument(
        "--grace", type=number(0), default=None, metavar="SECONDS",
        help="On SIGTERM, give running jobs this long to finish before handing them back uncharged. "
        "Default: the backend's SHUTDOWN_GRACE_SECONDS (30).",
    )  # fmt: skip
    parser.add_argument(
        "--no-scheduler", action="store_false", dest="scheduler",
        help="Do not enqueue scheduled tasks from this worker (burst mode never does).",
    )  # fmt: skip
    parser.add_argument(
        "--metrics-port", type=integer(0, 65535), default=None, metavar="PORT",
        help="Serve this worker's Prometheus metrics on PORT (0: any free port, logged).",
    )  # fmt: skip
    parser.add_argument(
        "--metrics-host", default="127.0.0.1", metavar="ADDRESS",
        help="Address for --metrics-port. Default: 127.0.0.1.",
    )  # fmt: skip
    parser.add_argument(
        "--processes", type=integer(1), default=None, metavar="N",
        help="Run N worker processes under a supervisor that replaces any that ends "
        "(a task crashing its process, or recycling). Default: one worker in this process.",
    )  # fmt: skip
    parser.add_argument(
        "--max-memory", type=integer(1), default=None, metavar="MB",
        help="Recycle (exit 0 gracefully) once the process's resident memory exceeds MB.",
    )  # fmt: skip


def handle(command: BaseCommand, **options: Any) -> int:
    if options["processes"] and options["burst"]:
        raise CommandError("--burst runs once; it cannot be combined with --processes.")
    store = backroom_store(options["backend"])
    check_queues(store, options["queues"])
    if options["processes"] and options["metrics_port"]:
        raise CommandError(
            "With --processes, use --metrics-port 0: each worker process serves on a free port it logs."
        )
    if options["metrics_port"] is not None:
        can_serve(options["metrics_host"], options["metrics_port"])
    log_to_stderr(options["verbosity"])
    one_line_per_job()
    worker_options = WorkerOptions(
        queues=tuple(options["queues"]),
        concurrency=options["concurrency"],
        prefetch=options["prefetch"],
        burst=options["burst"],
        max_jobs=options["max_jobs"],
        poll_interval_seconds=options["poll_interval"],
        shutdown_grace_seconds=options["grace"],
        scheduler=options["scheduler"],
        max_memory_mb=options["max_memory"],
    )

    def make_worker() -> Worker:
        """Build the worker, in this process or in a supervised one, with its metrics if asked."""
        if options["metrics_port"] is not None:
            serve_worker_metrics(options["metrics_host"], options["metrics_port"])
        return Worker(store, worker_options)

    if options["processes"]:
        return Supervisor(options["processes"], make_worker).run()
    worker = make_worker()
    install_signal_handlers(worker)
    return worker.run()


def backroom_store(alias: str) -> Store:
    """Return the store of TASKS[alias]; refuse an alias that is not a backroom backend."""
    try:
        return store_for(alias)
    except NotBackroom as exc:
        raise CommandError(str(exc)) from None


def check_queues(store: Store, queues: Sequence[str]) -> None:
    """Refuse queue names the backend does not declare (when it declares its QUEUES)."""
    unknown = [q for q in queues if store.queues and q not in store.queues]
    if unknown:
        raise CommandError(
            f"Unknown queue(s) {', '.join(unknown)}: TASKS[...]['QUEUES'] lists {sorted(store.queues)}."
        )


def can_serve(host: str, port: int) -> None:
    """Refuse an address the metrics could not be served on, before any worker process starts."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the metrics server does
            probe.bind((host, port))
    except OSError as exc:
        raise CommandError(f"Cannot serve metrics on {host}:{port}: {exc.strerror or exc}.") from None


def log_to_stderr(verbosity: int) -> None:
    """Show backroom's log lines when the project's LOGGING does not route them anywhere."""
    logger = logging.getLogger("backroom")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO if verbosity else logging.WARNING)


def one_line_per_job() -> None:
    """Keep Django's own started/finished lines out of the log: backroom's outcome line says it all.

    Django's ERROR record of a failed task, with its traceback, still passes.
    A project that names Django's tasks logger in LOGGING gets what it configured.
    """
    if TASKS_LOGGER not in getattr(settings, "LOGGING", {}).get("loggers", {}):
        logging.getLogger(TASKS_LOGGER).setLevel(logging.WARNING)
