"""The results as one plain-text table: a column per system, backroom's ratio to the best peer, footnotes."""

from collections.abc import Mapping, Sequence

Figures = Mapping[str, float | str | None]

#: (metric, label, better): "high" for rates, "low" for times, "" for no ratio (a worker's name).
ROWS = (
    ("enqueue_one", "enqueue one by one (jobs/s)", "high"),
    ("enqueue_many", "enqueue_many (jobs/s)", "high"),
    ("drain_c1", "drain, concurrency 1 (jobs/s)", "high"),
    ("drain_c1_worker", "  worker", ""),
    ("drain_best", "drain, best worker (jobs/s)", "high"),
    ("drain_best_worker", "  worker", ""),
    ("pickup_worker", "pickup worker (concurrency 1)", ""),
    ("pickup_p50_ms", "pickup p50 (ms)", "low"),
    ("pickup_p95_ms", "pickup p95 (ms)", "low"),
    ("pickup_p99_ms", "pickup p99 (ms)", "low"),
    ("request_enqueue_p50_ms", "view enqueuing 1 job p50 (ms)", "low"),
    ("request_enqueue_p95_ms", "view enqueuing 1 job p95 (ms)", "low"),
    ("request_nothing_p50_ms", "same view, no enqueue p50 (ms)", "low"),
    ("request_nothing_p95_ms", "same view, no enqueue p95 (ms)", "low"),
)


def measured(value: float | str | None) -> float | None:
    """Return a figure's number; None for n/a and for a worker's name."""
    return float(value) if isinstance(value, int | float) else None


def number(value: float | str | None, metric: str) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if metric.endswith("_ms"):
        return f"{value:.1f}"
    return f"{value:,.0f}"


def best_peer(metric: str, better: str, peers: Mapping[str, Figures]) -> tuple[str, float] | None:
    """The peer with the best figure for ``metric``, or None when no peer has one."""
    values = [
        (name, value)
        for name, figures in peers.items()
        if (value := measured(figures.get(metric))) is not None
    ]
    if not values:
        return None
    pick = max if better == "high" else min
    return pick(values, key=lambda item: item[1])


def render(
    figures: Mapping[str, Figures],
    backroom: Sequence[str],
    stores: Mapping[str, str],
    references: Mapping[str, float | None],
    notes: Sequence[str],
    title: str,
) -> str:
    """The table of ``figures`` (system -> metric -> median), backroom's systems first."""
    systems = list(figures)
    ours = [name for name in systems if name in backroom]
    peers = {name: figures[name] for name in systems if name not in backroom}
    label_width = max(len(label) for _, label, _ in ROWS) + 1
    widths = {
        name: max(len(name), 7, *(len(number(figures[name].get(m), m)) for m, _, _ in ROWS)) + 2
        for name in systems
    }  # fmt: skip
    header = f"{'':<{label_width}}" + "".join(f"{name:>{widths[name]}}" for name in systems)
    best_width = max(
        [len(f"{best[0]} {number(best[1], metric)}") for metric, _, better in ROWS if better
         if (best := best_peer(metric, better, peers))] + [9]
    )  # fmt: skip
    ratios = {name: name.removeprefix("backroom-") + " x" for name in ours}
    ratio_widths = {name: max(9, len(ratio) + 2) for name, ratio in ratios.items()}
    if peers and ours:
        header += f"  | {'best peer':>{best_width}}" + "".join(
            f"{ratios[name]:>{ratio_widths[name]}}" for name in ours
        )
    lines = [title, header, "-" * len(header)]
    for metric, label, better in ROWS:
        line = f"{label:<{label_width}}" + "".join(
            f"{number(figures[name].get(metric), metric):>{widths[name]}}" for name in systems
        )
        if peers and ours:
            best = best_peer(metric, better, peers) if better else None
            line += f"  | {(f'{best[0]} ' + number(best[1], metric)) if best else '':>{best_width}}"
            for name in ours:
                value = measured(figures[name].get(metric))
                ratio = f"{value / best[1]:.2f}x" if best and value is not None and best[1] else ""
                line += f"{ratio:>{ratio_widths[name]}}"
        lines.append(line)
    lines.append("")
    lines.extend(reference_lines(figures, stores, references))
    lines.append("")
    lines.append(
        "x: a backroom store's figure divided by the best peer's (jobs/s: above 1 is faster; ms: below 1)."
    )
    lines.append("n/a: the system has no such operation.")
    lines.append(
        "worker: the configuration that did best for that figure (c: jobs at once); the JSON has them all."
    )
    lines.extend(notes)
    return "\n".join(lines)


#: Each store's physical reference (bench/reference.py), as the table names it.
REFERENCES = {
    "postgres": "PostgreSQL reference: one job-shaped row INSERTed per transaction, prepared (psycopg)",
    "redis": "Redis reference: one round trip per job, LPUSH of a job-shaped payload (redis-py)",
}


def reference_lines(
    figures: Mapping[str, Figures], stores: Mapping[str, str], references: Mapping[str, float | None]
) -> list[str]:
    """List each store's reference rate, and every system's enqueue and drain on it as % of it."""
    lines = []
    for store, label in REFERENCES.items():
        rate = references.get(store)
        if rate is None:
            continue
        lines.append(f"{label}: {rate:,.0f}/s")
        for name in (name for name in figures if stores.get(name) == store):
            shares = [
                f"{what} {value / rate:.0%}"
                for what, metric in (("enqueue", "enqueue_one"), ("drain", "drain_best"))
                if (value := measured(figures[name].get(metric))) is not None
            ]
            if shares:
                lines.append(f"  {name}: " + ", ".join(shares) + " of it")
    return lines
