"""Bar charts of the figures as SVG: a bar per system, the store's physical reference as a line.

Horizontal bars, one row per system, coloured by the store the system keeps
its jobs in; a dashed vertical line marks each physical reference given
(PostgreSQL's INSERT rate, Redis's round-trip rate). Written with
ElementTree, so that names and labels are always escaped into valid XML.
"""

import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from table import ROWS, Figures, measured

SVG_NS = "http://www.w3.org/2000/svg"
COLOURS = {"sqlite": "#6b7b8c", "postgres": "#336791", "mariadb": "#c0765a", "redis": "#c8372d"}
STORE_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL", "mariadb": "MariaDB", "redis": "Redis"}
#: The figures a physical reference is drawn on: the rates of writing and of running jobs.
WITH_REFERENCE = ("enqueue_one", "drain_c1", "drain_best")

WIDTH = 760
LABEL_WIDTH = 190
ROW_HEIGHT = 30
TOP = 64
BOTTOM = 40
RIGHT = 90


@dataclass(frozen=True, slots=True)
class Bar:
    """One system's figure: None draws no bar ("n/a")."""

    system: str
    value: float | None
    store: str
    detail: str = ""  # the worker configuration that measured it


@dataclass(frozen=True, slots=True)
class Line:
    """A physical reference drawn across the bars."""

    label: str
    value: float
    store: str


def bar_chart(title: str, unit: str, bars: Sequence[Bar], lines: Sequence[Line] = ()) -> str:
    """Draw one figure as an SVG document."""
    height = TOP + ROW_HEIGHT * len(bars) + BOTTOM
    svg = ET.Element(
        "svg", xmlns=SVG_NS, width=str(WIDTH), height=str(height), viewBox=f"0 0 {WIDTH} {height}",
        attrib={"font-family": "sans-serif", "font-size": "12"},
    )  # fmt: skip
    _text(svg, 10, 22, title, size=15, weight="bold")
    _text(svg, 10, 42, unit, fill="#555")
    _legend(svg, [store for store in COLOURS if any(bar.store == store for bar in bars)])
    top = max([bar.value or 0.0 for bar in bars] + [line.value for line in lines] + [1e-9])
    span = WIDTH - LABEL_WIDTH - RIGHT

    def x_of(value: float) -> float:
        return LABEL_WIDTH + span * value / (top * 1.05)

    ET.SubElement(svg, "line", x1=str(LABEL_WIDTH), x2=str(LABEL_WIDTH), y1=str(TOP - 6),
                  y2=str(height - BOTTOM + 6), stroke="#999")  # fmt: skip
    for row, bar in enumerate(bars):
        y = TOP + row * ROW_HEIGHT
        _text(svg, LABEL_WIDTH - 8, y + 13, bar.system, anchor="end", weight="bold")
        if bar.detail:
            _text(svg, LABEL_WIDTH - 8, y + 25, bar.detail, anchor="end", size=10, fill="#555")
        if bar.value is None:
            _text(svg, LABEL_WIDTH + 6, y + 18, "n/a", fill="#555")
            continue
        rect = ET.SubElement(
            svg, "rect", x=str(LABEL_WIDTH), y=str(y + 4), width=f"{x_of(bar.value) - LABEL_WIDTH:.1f}",
            height=str(ROW_HEIGHT - 8), fill=COLOURS.get(bar.store, "#888"),
            attrib={"class": "bar", "data-system": bar.system},
        )  # fmt: skip
        ET.SubElement(rect, "title").text = f"{bar.system}: {_number(bar.value)} {unit}"
        _text(svg, x_of(bar.value) + 4, y + 18, _number(bar.value))
    for index, line in enumerate(lines):
        x = f"{x_of(line.value):.1f}"
        dashes = {"stroke-width": "2", "stroke-dasharray": "6 4"}
        ET.SubElement(
            svg, "line", x1=x, x2=x, y1=str(TOP - 4), y2=str(height - BOTTOM + 4),
            stroke=COLOURS.get(line.store, "#333"),
            attrib={**dashes, "class": "reference", "data-store": line.store},
        )  # fmt: skip
        label = f"{line.label}: {_number(line.value)}"
        _text(svg, float(x), height - BOTTOM + 18 + 12 * index, label, anchor="middle", size=10)
    return ET.tostring(svg, encoding="unicode", xml_declaration=True)


def write_charts(
    figures: Mapping[str, Figures],
    stores: Mapping[str, str],
    references: Mapping[str, float | None],
    directory: Path,
) -> list[Path]:
    """Write one SVG per figure of the table to ``directory``; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for position, (metric, label, better) in enumerate(ROWS):
        if not better:
            continue  # a worker's name, not a figure
        detail = _detail_metric(position)
        bars = [
            Bar(
                system=name,
                value=measured(figures[name].get(metric)),
                store=stores[name],
                detail=str(figures[name].get(detail) or "") if detail else "",
            )
            for name in figures
        ]
        lines = [
            Line(f"{STORE_NAMES[store]} reference", rate, store)
            for store, rate in references.items()
            if rate is not None and metric in WITH_REFERENCE and store in stores.values()
        ]
        unit = "jobs/s, higher is better" if better == "high" else "milliseconds, lower is better"
        path = directory / f"{metric}.svg"
        path.write_text(bar_chart(label.split(" (")[0], unit, bars, lines))
        written.append(path)
    return written


def _detail_metric(position: int) -> str | None:
    """Name the worker row that tells the configuration of the figure at ``position`` in ROWS, if any."""
    metric = ROWS[position][0]
    if metric.startswith("pickup_"):
        return "pickup_worker"
    following = ROWS[position + 1][0] if position + 1 < len(ROWS) else ""
    return following if following.endswith("_worker") and following.startswith(metric) else None


def _legend(svg: ET.Element, stores: Sequence[str]) -> None:
    """Draw a coloured square and the name of each store, at the top right."""
    x = WIDTH - 10 - 95 * len(stores)
    for store in stores:
        ET.SubElement(svg, "rect", x=str(x), y="30", width="10", height="10", fill=COLOURS[store],
                      attrib={"class": "legend"})  # fmt: skip
        _text(svg, x + 14, 39, STORE_NAMES[store], size=11)
        x += 95


def _number(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _text(parent: ET.Element, x: float, y: float, content: str, *, anchor: str = "start",
          size: int = 12, weight: str = "normal", fill: str = "#222") -> None:  # fmt: skip
    element = ET.SubElement(
        parent, "text", x=f"{x:.1f}", y=f"{y:.1f}", fill=fill,
        attrib={"text-anchor": anchor, "font-size": str(size), "font-weight": weight},
    )  # fmt: skip
    element.text = content
