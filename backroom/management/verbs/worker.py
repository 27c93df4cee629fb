"""``manage.py backroom worker``: run tasks until stopped."""

import logging
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...backends.stores import NotBackroom, store_for
from ...compat import DEFAULT_TASK_BACKEND_ALIAS
from ...metrics.worker import serve_worker_metrics
from ...store import Store
from ...worker.runner import DEFAULT_PREFETCH, Worker, WorkerOptions, install_signal_handlers
from ...worker.supervisor import Supervisor

HELP = "Run tasks: claim ready jobs, execute them, record the outcomes."


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--queue", "-q", action="append", dest="queues", default=[], metavar="QUEUE",
        help="Serve this queue (repeatable). Default: every queue.",
    )  # fmt: skip
    parser.add_argument(
        "--concurrency", "-c", type=int, default=1, help="Jobs run at once (threads). Default: 1."
    )
    parser.add_argument(
        "--prefetch", type=int, default=DEFAULT_PREFETCH, metavar="N",
        help="Claim up to N jobs beyond the free threads, while jobs are short (see docs/guide.md). "
        f"0: claim only for free threads. Default: {DEFAULT_PREFETCH}.",
    )  # fmt: skip
    parser.add_argument("--burst", action="store_true", help="Run what is ready, then exit.")
    parser.add_argument(
        "--backend", default=DEFAULT_TASK_BACKEND_ALIAS, help="TASKS alias. Default: default."
    )
    parser.add_argument(
        "--max-jobs", type=int, default=None, help="Exit after this many jobs (for recycling)."
    )
    parser.add_argument("--poll-interval", type=float, default=None, help="Seconds between polls when idle.")
    parser.add_argument(
        "--grace", type=float, default=None, help="Seconds running jobs get to finish on SIGTERM."
    )
    parser.add_argument(
        "--no-scheduler", action="store_false", dest="scheduler",
        help="Do not enqueue scheduled tasks from this worker (burst mode never does).",
    )  # fmt: skip
    parser.add_argument(
        "--metrics-port", type=int, default=None, metavar="PORT",
        help="Serve this worker's Prometheus metrics on PORT (0: any free port, logged).",
    )  # fmt: skip
    parser.add_argument(
        "--metrics-host", default="127.0.0.1", help="Address for --metrics-port. Default: 127.0.0.1."
    )
    parser.add_argument(
        "--processes", type=int, default=None,
        help="Run this many worker processes under a supervisor that replaces any that ends "
        "(a task crashing its process, or recycling). Default: one worker in this process.",
    )  # fmt: skip
    parser.add_argument(
        "--max-memory", type=int, default=None, metavar="MB",
        help="Recycle (exit 0 gracefully) once the process's resident memory exceeds MB.",
    )  # fmt: skip


def handle(command: BaseCommand, **options: Any) -> int:
    if options["concurrency"] < 1:
        raise CommandError("--concurrency must be at least 1.")
    if options["prefetch"] < 0:
        raise CommandError("--prefetch must be at least 0.")
    for name in ("max_jobs", "processes", "max_memory"):
        if options[name] is not None and options[name] < 1:
            raise CommandError(f"--{name.replace('_', '-')} must be at least 1.")
    if options["processes"] and options["burst"]:
        raise CommandError("--burst runs once; it cannot be combined with --processes.")
    store = backroom_store(options["backend"])
    unknown = [q for q in options["queues"] if store.queues and q not in store.queues]
    if unknown:
        raise CommandError(
            f"Unknown queue(s) {', '.join(unknown)}: TASKS[...]['QUEUES'] lists {sorted(store.queues)}."
        )
    if options["processes"] and options["metrics_port"]:
        raise CommandError(
            "With --processes, use --metrics-port 0: each worker process serves on a free port it logs."
        )
    log_to_stderr(options["verbosity"])
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


def log_to_stderr(verbosity: int) -> None:
    """Show backroom's log lines when the project's LOGGING does not route them anywhere."""
    logger = logging.getLogger("backroom")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbosity > 1 else logging.INFO if verbosity else logging.WARNING)
