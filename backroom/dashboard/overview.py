"""The overview's numbers: one row per queue, and the last hour drawn as charts."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.safestring import SafeString

from ..brokers.contract import Inspector
from ..brokers.inspection import FinishedCount, QueueStats, Timings
from ..monitoring.health import Snapshot, worker_command
from .charts import Series, lines, stacked_bars

HISTORY_MINUTES = 60
BUCKET = timedelta(minutes=5)
#: Jobs per queue and minute whose wait and run times feed the percentiles.
SAMPLE_PER_MINUTE = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueRow:
    stats: QueueStats
    oldest_ready_age: timedelta | None
    live_workers: int
    unserved: bool
    paused: bool
    start_command: str


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueCharts:
    queue_name: str
    finished: int
    failed: int
    throughput: SafeString
    wait: SafeString
    run: SafeString
    latest: Timings | None  # the most recent bucket's percentiles, shown as text


def queue_rows(snapshot: Snapshot) -> list[QueueRow]:
    return [
        QueueRow(
            stats=queue,
            oldest_ready_age=snapshot.oldest_ready_age(queue),
            live_workers=len(snapshot.live_workers(queue.queue_name)),
            unserved=queue.queue_name in snapshot.unserved,
            paused=queue.queue_name in snapshot.paused,
            start_command=worker_command(snapshot.backend, queue.queue_name),
        )
        for queue in snapshot.queues
    ]


def _title(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%H:%M") if timezone.is_aware(moment) else f"{moment:%H:%M}"


def history_start(now: datetime) -> datetime:
    """The first minute the charts show: the last hour, whole minutes, this one included."""
    return now.replace(second=0, microsecond=0) - timedelta(minutes=HISTORY_MINUTES - 1)


def _throughput(counts: list[FinishedCount], since: datetime) -> tuple[list[float], list[float]]:
    successful = [0.0] * HISTORY_MINUTES
    failed = [0.0] * HISTORY_MINUTES
    for count in counts:
        slot = int((count.minute - since) / timedelta(minutes=1))
        if 0 <= slot < HISTORY_MINUTES:
            successful[slot] += count.successful
            failed[slot] += count.failed
    return successful, failed


def _percentiles(timings: list[Timings], since: datetime, slots: int) -> dict[str, list[float | None]]:
    series: dict[str, list[float | None]] = {
        key: [None] * slots for key in ("wait_p50", "wait_p95", "run_p50", "run_p95")
    }
    for timing in timings:
        slot = int((timing.start - since) / BUCKET)
        if 0 <= slot < slots:
            series["wait_p50"][slot] = timing.wait_p50_seconds
            series["wait_p95"][slot] = timing.wait_p95_seconds
            series["run_p50"][slot] = timing.run_p50_seconds
            series["run_p95"][slot] = timing.run_p95_seconds
    return series


def queue_charts(inspector: Inspector, now: datetime) -> list[QueueCharts]:
    """Read the last hour of history and draw throughput and timings of each queue that has some."""
    since = history_start(now)
    counts: dict[str, list[FinishedCount]] = defaultdict(list)
    for count in inspector.throughput(since):
        counts[count.queue_name].append(count)
    timings: dict[str, list[Timings]] = defaultdict(list)
    for timing in inspector.timings(since, BUCKET, SAMPLE_PER_MINUTE):
        timings[timing.queue_name].append(timing)
    minute_titles = [_title(since + timedelta(minutes=i)) for i in range(HISTORY_MINUTES)]
    buckets = HISTORY_MINUTES * timedelta(minutes=1) // BUCKET
    bucket_titles = [_title(since + BUCKET * i) for i in range(buckets)]
    charts = []
    for name in sorted(counts.keys() | timings.keys()):
        successful, failed = _throughput(counts[name], since)
        p = _percentiles(timings[name], since, buckets)
        charts.append(
            QueueCharts(
                queue_name=name,
                finished=int(sum(successful) + sum(failed)),
                failed=int(sum(failed)),
                throughput=stacked_bars(
                    [Series(name="successful", css_class="ok", values=successful),
                     Series(name="failed", css_class="bad", values=failed)],
                    label=f"{name}: jobs finished per minute",
                    slot_titles=minute_titles,
                ),
                wait=lines(
                    [Series(name="p50", css_class="p50", values=p["wait_p50"]),
                     Series(name="p95", css_class="p95", values=p["wait_p95"])],
                    label=f"{name}: wait before start",
                    slot_titles=bucket_titles,
                ),
                run=lines(
                    [Series(name="p50", css_class="p50", values=p["run_p50"]),
                     Series(name="p95", css_class="p95", values=p["run_p95"])],
                    label=f"{name}: run time",
                    slot_titles=bucket_titles,
                ),
                latest=max(timings[name], key=lambda t: t.start, default=None),
            )
        )  # fmt: skip
    return charts
