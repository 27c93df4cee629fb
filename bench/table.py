"""The results as one plain-text table: a column per system, backroom's ratio to the best peer, footnotes."""

from collections.abc import Mapping, Sequence

Figures = Mapping[str, float | None]

#: (metric, label, better): "high" for rates, "low" for times, "" for no ratio.
ROWS = (
    ("enqueue_one", "enqueue one by one (jobs/s)", "high"),
    ("enqueue_many", "enqueue_many (jobs/s)", "high"),
    ("drain_c1", "drain, concurrency 1 (jobs/s)", "high"),
    ("drain_best", "drain, best concurrency (jobs/s)", "high"),
    ("drain_best_concurrency", "  best concurrency", ""),
    ("pickup_p50_ms", "pickup p50 (ms)", "low"),
    ("pickup_p95_ms", "pickup p95 (ms)", "low"),
    ("pickup_p99_ms", "pickup p99 (ms)", "low"),
    ("request_enqueue_p50_ms", "view enqueuing 1 job p50 (ms)", "low"),
    ("request_enqueue_p95_ms", "view enqueuing 1 job p95 (ms)", "low"),
    ("request_nothing_p50_ms", "same view, no enqueue p50 (ms)", "low"),
    ("request_nothing_p95_ms", "same view, no enqueue p95 (ms)", "low"),
)


def number(value: float | None, metric: str) -> str:
    if value is None:
        return "n/a"
    if metric.endswith("_ms"):
        return f"{value:.1f}"
    if metric == "drain_best_concurrency":
        return f"c={value:.0f}"
    return f"{value:,.0f}"


def best_peer(metric: str, better: str, peers: Mapping[str, Figures]) -> tuple[str, float] | None:
    """The peer with the best figure for ``metric``, or None when no peer has one."""
    values = [(name, figures[metric]) for name, figures in peers.items() if figures.get(metric) is not None]
    if not values:
        return None
    pick = max if better == "high" else min
    return pick(values, key=lambda item: item[1])  # type: ignore[arg-type, return-value]


def render(
    figures: Mapping[str, Figures],
    backroom: Sequence[str],
    references: Mapping[str, float | None],
    notes: Sequence[str],
    title: str,
) -> str:
    """The table of ``figures`` (system -> metric -> median), backroom's systems first."""
    systems = list(figures)
    ours = [name for name in systems if name in backroom]
    peers = {name: figures[name] for name in systems if name not in backroom}
    label_width = max(len(label) for _, label, _ in ROWS) + 1
    widths = {name: max(len(name), 7) + 2 for name in systems}
    header = f"{'':<{label_width}}" + "".join(f"{name:>{widths[name]}}" for name in systems)
    if peers and ours:
        ratios = (name.removeprefix("backroom-") + " x" for name in ours)
        header += f"  | {'best peer':>15}" + "".join(f"{ratio:>9}" for ratio in ratios)
    lines = [title, header, "-" * len(header)]
    for metric, label, better in ROWS:
        line = f"{label:<{label_width}}" + "".join(
            f"{number(figures[name][metric], metric):>{widths[name]}}" for name in systems
        )
        if peers and ours:
            best = best_peer(metric, better, peers) if better else None
            line += f"  | {(f'{best[0]} ' + number(best[1], metric)) if best else '':>15}"
            for name in ours:
                value = figures[name][metric]
                ratio = f"{value / best[1]:.2f}x" if best and value is not None and best[1] else ""
                line += f"{ratio:>9}"
        lines.append(line)
    lines.append("")
    lines.extend(reference_lines(figures, references))
    lines.append("")
    lines.append(
        "x: a backroom store's figure divided by the best peer's (jobs/s: above 1 is faster; ms: below 1)."
    )
    lines.append("n/a: the system has no such operation.")
    lines.extend(notes)
    return "\n".join(lines)


def reference_lines(figures: Mapping[str, Figures], references: Mapping[str, float | None]) -> list[str]:
    """PostgreSQL's INSERT and Redis's LPUSH rates, with backroom's enqueue and drain as % of them."""
    lines = []
    for store, key, label in (
        ("backroom-pg", "postgres_insert", "PostgreSQL single-row INSERT, autocommit (psycopg)"),
        ("backroom-redis", "redis_lpush", "Redis LPUSH, one round trip each (redis-py)"),
    ):
        rate = references.get(key)
        if rate is None:
            continue
        line = f"{label}: {rate:,.0f}/s"
        if store in figures and figures[store]["enqueue_one"] is not None:
            shares = [
                f"{what} {value / rate:.0%}"
                for what, value in (
                    ("enqueue", figures[store]["enqueue_one"]),
                    ("drain", figures[store]["drain_best"]),
                )
                if value is not None
            ]
            line += f"; {store} " + ", ".join(shares) + " of it"
        lines.append(line)
    return lines
