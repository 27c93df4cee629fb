"""Small SVG charts drawn on the server: no JavaScript library, no asset to fetch.

Each function takes plain numbers and returns markup ready for a template.
Values scale to the largest one shown; every bar or point carries a
``<title>`` so hovering tells the exact value.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 240
HEIGHT = 48


@dataclass(frozen=True, slots=True, kw_only=True)
class Series:
    """One named series; ``css_class`` colours it, None marks a gap."""

    name: str
    css_class: str
    values: Sequence[float | None]


def _number(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _svg(body: str, label: str, width: int, height: int) -> SafeString:
    # Every piece of text inside was escaped by the caller.
    return mark_safe(
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(label)}</title>{body}</svg>"
    )


def _empty(label: str, width: int, height: int) -> SafeString:
    text = (
        f'<text class="chart-empty" x="{width / 2:g}" y="{height / 2 + 4:g}" '
        'text-anchor="middle">no data</text>'
    )
    return _svg(text, label, width, height)


def stacked_bars(
    series: Sequence[Series],
    *,
    label: str,
    slot_titles: Sequence[str],
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """Draw one column per slot, the series stacked bottom-up (None counts as 0)."""
    slots = len(slot_titles)
    totals = [sum(s.values[i] or 0 for s in series) for i in range(slots)]
    peak = max(totals, default=0)
    if peak <= 0:
        return _empty(label, width, height)
    step = width / slots
    bars = []
    for i, title in enumerate(slot_titles):
        bottom = float(height)
        parts = ", ".join(f"{s.name} {_number(s.values[i] or 0)}" for s in series)
        for s in series:
            value = s.values[i] or 0
            if value <= 0:
                continue
            size = value / peak * height
            bottom -= size
            bars.append(
                f'<rect class="{escape(s.css_class)}" x="{i * step:.2f}" y="{bottom:.2f}" '
                f'width="{max(step - 1, 1):.2f}" height="{size:.2f}">'
                f"<title>{escape(title)}: {escape(parts)}</title></rect>"
            )
    return _svg("".join(bars), f"{label} (peak {_number(peak)})", width, height)


def lines(
    series: Sequence[Series],
    *,
    label: str,
    slot_titles: Sequence[str],
    unit: str = "s",
    width: int = WIDTH,
    height: int = HEIGHT,
) -> SafeString:
    """Draw each series as a line over the slots, breaking at gaps; dots carry the values."""
    slots = len(slot_titles)
    known = [v for s in series for v in s.values if v is not None]
    if not known:
        return _empty(label, width, height)
    peak = max(known)
    scale = (height - 4) / peak if peak > 0 else 0.0
    step = width / max(slots - 1, 1)
    body = []
    for s in series:
        runs: list[list[str]] = [[]]
        for i, value in enumerate(s.values):
            if value is None:
                runs.append([])
                continue
            x, y = i * step, height - 2 - value * scale
            runs[-1].append(f"{x:.2f},{y:.2f}")
            body.append(
                f'<circle class="{escape(s.css_class)}" cx="{x:.2f}" cy="{y:.2f}" r="1.5">'
                f"<title>{escape(slot_titles[i])}: {escape(s.name)} {_number(value)}{escape(unit)}</title>"
                "</circle>"
            )
        body.extend(
            f'<polyline class="{escape(s.css_class)}" fill="none" points="{" ".join(points)}"/>'
            for points in runs
            if len(points) > 1
        )
    return _svg("".join(body), f"{label} (peak {_number(peak)}{unit})", width, height)
