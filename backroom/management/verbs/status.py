"""``manage.py backroom status``: queues and workers at a glance, and a health check's exit code."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ...backends.stores import stores
from ...monitoring.health import Snapshot, take_snapshot, worker_command
from ...monitoring.humanize import duration

HELP = "Show queues and workers; exit 1 when ready jobs wait and no live worker serves their queue."


def add_arguments(parser: CommandParser) -> None:
    parser.add_argument(
        "--backend", default=None, metavar="ALIAS",
        help="Show only the backroom backend TASKS[ALIAS]. Default: every backroom backend.",
    )  # fmt: skip


def table(headers: list[str], rows: list[list[str]]) -> str:
    """Align columns: text to the left, numbers to the right."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    numeric = [all(row[i].isdigit() for row in rows) and bool(rows) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(headers), *(line(row) for row in rows)])


def _queues(snapshot: Snapshot) -> str:
    rows = [
        [
            q.queue_name, str(q.ready), str(q.scheduled), str(q.running), str(q.failed),
            duration(snapshot.oldest_ready_age(q)), str(len(snapshot.live_workers(q.queue_name))),
            "yes" if q.queue_name in snapshot.paused else "no",
        ]
        for q in snapshot.queues
    ]  # fmt: skip
    if not rows:
        return "no queue has jobs waiting, running or failed"
    headers = ["QUEUE", "READY", "SCHEDULED", "RUNNING", "FAILED", "OLDEST READY", "LIVE WORKERS", "PAUSED"]
    return table(headers, rows)


def _workers(snapshot: Snapshot) -> str:
    rows = [
        [
            w.state.id, w.state.hostname, str(w.state.pid), ",".join(w.state.queues) or "*",
            str(w.state.concurrency), duration(w.uptime), f"{duration(w.heartbeat_age)} ago",
            "live" if w.live else "STALE", str(len(w.state.running)),
        ]
        for w in snapshot.workers
    ]  # fmt: skip
    if not rows:
        return "no worker registered"
    headers = ["WORKER", "HOST", "PID", "QUEUES", "CONCURRENCY", "UPTIME", "HEARTBEAT", "STATE", "RUNNING"]
    return table(headers, rows)


def handle(command: BaseCommand, **options: Any) -> int:
    found = stores()
    if options["backend"] is not None:
        if options["backend"] not in found:
            raise CommandError(f"TASKS[{options['backend']!r}] is not a backroom backend.")
        found = {options["backend"]: found[options["backend"]]}
    now = timezone.now()
    unserved = []
    for alias, store in found.items():
        snapshot = take_snapshot(store, now)
        command.stdout.write(f"backend {alias}\n\n{_queues(snapshot)}\n\n{_workers(snapshot)}\n\n")
        unserved += [(alias, queue) for queue in snapshot.unserved]
    for alias, queue in unserved:
        command.stderr.write(
            f"No worker is running for queue {queue} (backend {alias}): "
            f"start one with `{worker_command(alias, queue)}`"
        )
    return 1 if unserved else 0
