"""The bench's SVG charts: valid XML, one bar per system that has the figure, the reference lines given."""

import importlib
import xml.etree.ElementTree as ET
from types import ModuleType

import pytest

from .support import ROOT

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def chart(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """Import bench/chart.py as run.py does (bench/ is scripts, not a package)."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    return importlib.import_module("chart")


def bars(svg: ET.Element) -> list[str]:
    return [rect.get("data-system", "") for rect in svg.iter(f"{SVG}rect") if rect.get("class") == "bar"]


def references(svg: ET.Element) -> list[str]:
    return [line.get("data-store", "") for line in svg.iter(f"{SVG}line") if line.get("class") == "reference"]


def test_a_chart_has_one_bar_per_measured_system_and_the_reference_line(chart):
    document = chart.bar_chart(
        "enqueue one by one",
        "jobs/s, higher is better",
        [
            chart.Bar("backroom-pg", 844.0, "postgres"),
            chart.Bar("dtdb-pg", 435.0, "postgres"),
            chart.Bar('celery <&> "prefork"', 544.0, "redis", detail="prefork c=2"),
            chart.Bar("nothing", None, "redis"),
        ],
        [chart.Line("PostgreSQL reference", 1720.0, "postgres")],
    )

    svg = ET.fromstring(document)
    assert svg.tag == f"{SVG}svg"
    assert bars(svg) == ["backroom-pg", "dtdb-pg", 'celery <&> "prefork"']
    assert references(svg) == ["postgres"]
    texts = [text.text for text in svg.iter(f"{SVG}text")]
    assert "n/a" in texts and "prefork c=2" in texts and "PostgreSQL reference: 1,720" in texts


def test_bars_are_drawn_to_one_scale_with_the_reference(chart):
    svg = ET.fromstring(
        chart.bar_chart(
            "drain",
            "jobs/s",
            [chart.Bar("a", 100.0, "redis"), chart.Bar("b", 200.0, "redis")],
            [chart.Line("Redis reference", 400.0, "redis")],
        )
    )

    widths = [float(rect.get("width", "0")) for rect in svg.iter(f"{SVG}rect") if rect.get("class") == "bar"]
    assert widths[1] == pytest.approx(2 * widths[0], rel=0.01)
    (line,) = (line for line in svg.iter(f"{SVG}line") if line.get("class") == "reference")
    left = chart.LABEL_WIDTH
    assert float(line.get("x1", "0")) - left == pytest.approx(4 * widths[0], rel=0.01)


def test_write_charts_writes_a_chart_per_figure_with_references_on_the_rates(chart, tmp_path):
    figures = {
        "backroom-pg": {"enqueue_one": 800.0, "drain_best": 700.0, "drain_best_worker": "c=4",
                        "pickup_p50_ms": 5.0, "pickup_worker": "c=1"},
        "celery": {"enqueue_one": 500.0, "enqueue_many": None, "drain_best": 580.0,
                   "drain_best_worker": "prefork c=2", "pickup_p50_ms": 2.0, "pickup_worker": "solo c=1"},
    }  # fmt: skip
    stores = {"backroom-pg": "postgres", "celery": "redis"}

    written = chart.write_charts(figures, stores, {"postgres": 1700.0, "redis": None}, tmp_path)

    names = {path.name for path in written}
    assert {"enqueue_one.svg", "enqueue_many.svg", "drain_best.svg", "pickup_p50_ms.svg"} <= names
    assert not any(name.endswith("_worker.svg") for name in names)  # a worker's name is no figure
    enqueue = ET.parse(tmp_path / "enqueue_one.svg").getroot()
    assert bars(enqueue) == ["backroom-pg", "celery"]
    assert references(enqueue) == ["postgres"]  # Redis's reference was not measured
    assert bars(ET.parse(tmp_path / "enqueue_many.svg").getroot()) == []
    pickup = ET.parse(tmp_path / "pickup_p50_ms.svg").getroot()
    assert references(pickup) == []
    assert "solo c=1" in [text.text for text in pickup.iter(f"{SVG}text")]
    drain = ET.parse(tmp_path / "drain_best.svg").getroot()
    assert "prefork c=2" in [text.text for text in drain.iter(f"{SVG}text")]
