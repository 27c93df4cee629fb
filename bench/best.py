"""A system's figures from its measurements: the median of the runs, and the best worker configuration.

A session measures the drain and the pickup once per worker configuration
(Celery's pools, RQ's worker classes, each concurrency). The table shows, per
figure, the configuration that did best on the median of the runs, and names
it: the drain at concurrency 1 and at any concurrency, and the pickup whose
p50 is lowest (its p95 and p99 come from the same configuration, so that the
three percentiles describe one worker).
"""

from collections.abc import Mapping, Sequence
from typing import Any

from measure import median

#: A session's figures that need no worker: enqueueing and the request cost.
SESSION_METRICS = (
    "enqueue_one",
    "enqueue_many",
    "request_enqueue_p50_ms",
    "request_enqueue_p95_ms",
    "request_nothing_p50_ms",
    "request_nothing_p95_ms",
)
PICKUP_PERCENTILES = (50, 95, 99)

#: One session's output: {"figures": {metric: value}, "drain": {label: jobs/s},
#: "pickup": {label: {"p50": ms, ...}}}.
Measurements = dict[str, Any]
Figure = float | str | None


def best_figures(runs: Sequence[Measurements], concurrency: Mapping[str, int]) -> dict[str, Figure]:
    """Reduce one system's runs to its figures; ``concurrency`` maps each worker label to its jobs at once."""
    figures: dict[str, Figure] = {
        metric: median([run["figures"].get(metric) for run in runs]) for metric in SESSION_METRICS
    }
    drain = _medians([run["drain"] for run in runs])
    figures.update(_best_drain("drain_c1", {w: r for w, r in drain.items() if concurrency.get(w) == 1}))
    figures.update(_best_drain("drain_best", drain))
    pickup = {
        f"p{pct}": _medians([{w: p[f"p{pct}"] for w, p in run["pickup"].items()} for run in runs])
        for pct in PICKUP_PERCENTILES
    }
    fastest = min(pickup["p50"], key=pickup["p50"].__getitem__, default=None)
    for pct in PICKUP_PERCENTILES:
        figures[f"pickup_p{pct}_ms"] = pickup[f"p{pct}"][fastest] if fastest else None
    figures["pickup_worker"] = fastest
    return figures


def _medians(runs: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Take, per key, the median over the runs that measured it."""
    keys = {key for run in runs for key in run}
    values = {key: median([run.get(key) for run in runs]) for key in keys}
    return {key: value for key, value in values.items() if value is not None}


def _best_drain(metric: str, rates: Mapping[str, float]) -> dict[str, Figure]:
    best = max(rates, key=rates.__getitem__, default=None)
    return {metric: rates[best] if best else None, f"{metric}_worker": best}
