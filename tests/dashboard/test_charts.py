"""The server-drawn SVG charts, the job timeline and durations: pure functions of their input."""

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from backroom.dashboard.charts import Series, lines, stacked_bars
from backroom.dashboard.overview import HISTORY_MINUTES, history_start
from backroom.dashboard.timeline import timeline
from backroom.jobs.records import ErrorRecord
from backroom.monitoring.humanize import duration
from tests.support import job_record

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: str) -> ET.Element:
    return ET.fromstring(str(markup))


def test_stacked_bars_scale_to_the_tallest_column():
    svg = parse(
        stacked_bars(
            [
                Series(name="ok", css_class="ok", values=[1, 4, 0]),
                Series(name="bad", css_class="bad", values=[1, 0, 0]),
            ],
            label="jobs",
            slot_titles=["a", "b", "c"],
            width=30,
            height=40,
        )
    )
    rects = svg.findall(f"{SVG}rect")
    assert [(r.get("class"), float(r.get("height"))) for r in rects] == [
        ("ok", 10.0),
        ("bad", 10.0),
        ("ok", 40.0),
    ]
    assert float(rects[1].get("y")) == 20.0  # stacked on top of the first
    assert rects[2].find(f"{SVG}title").text == "b: ok 4, bad 0"
    assert svg.find(f"{SVG}title").text == "jobs (peak 4)"


def test_charts_without_data_say_so():
    for svg in (
        stacked_bars([Series(name="ok", css_class="ok", values=[0, 0])], label="x", slot_titles=["a", "b"]),
        lines([Series(name="p50", css_class="p50", values=[None, None])], label="x", slot_titles=["a", "b"]),
    ):
        assert parse(svg).find(f"{SVG}text").text == "no data"


def test_lines_break_at_gaps_and_scale_to_the_peak():
    svg = parse(
        lines(
            [Series(name="p95", css_class="p95", values=[1.0, 2.0, None, 4.0, 2.0])],
            label="wait",
            slot_titles=["a", "b", "c", "d", "e"],
            width=40,
            height=44,
        )
    )
    polylines = svg.findall(f"{SVG}polyline")
    assert [p.get("points") for p in polylines] == [
        "0.00,32.00 10.00,22.00",
        "30.00,2.00 40.00,22.00",
    ]
    assert len(svg.findall(f"{SVG}circle")) == 4
    assert svg.find(f"{SVG}circle/{SVG}title").text == "a: p95 1s"


def test_text_in_charts_is_escaped():
    svg = stacked_bars(
        [Series(name="<b>", css_class='x" onload="alert(1)', values=[1])],
        label="<script>",
        slot_titles=["&"],
    )
    assert "<script>" not in svg and 'onload="' not in svg
    assert parse(svg).find(f"{SVG}title").text == "<script> (peak 1)"


def test_history_covers_the_last_sixty_whole_minutes():
    now = datetime(2026, 1, 1, 12, 30, 45, tzinfo=UTC)
    assert history_start(now) == datetime(2026, 1, 1, 11, 31, tzinfo=UTC)
    assert history_start(now) + timedelta(minutes=HISTORY_MINUTES - 1) == now.replace(second=0)


def at(seconds: int) -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)


def test_timeline_of_a_job_that_failed_then_succeeded_on_three_attempts():
    errors = [
        ErrorRecord(
            exception_class_path="builtins.OSError", traceback="", attempt=1, at=at(2), started_at=at(1)
        ),
        ErrorRecord(exception_class_path="backroom.exceptions.WorkerLost", traceback="", attempt=2, at=at(9)),
    ]
    job = job_record(
        status="SUCCESSFUL", attempts=3, started_at=at(1), last_attempted_at=at(10), finished_at=at(11),
        worker_ids=["w1", "w2", "w3"], errors=errors,
    )  # fmt: skip
    events = [(e.at, e.what, e.attempt, e.worker_id) for e in timeline(job)]
    assert events == [
        (at(0), "enqueued on queue q", None, None),
        (at(1), "started", 1, "w1"),
        (at(2), "failed: OSError", 1, None),
        (None, "started", 2, "w2"),  # the reaper does not know when the lost attempt began
        (at(9), "failed: WorkerLost", 2, None),
        (at(10), "started", 3, "w3"),
        (at(11), "succeeded", 3, None),
    ]


def test_timeline_of_a_cancelled_job_and_a_running_one():
    cancel = ErrorRecord(
        exception_class_path="backroom.exceptions.JobCancelled", traceback="", at=at(5), cancelled_by="ann"
    )
    assert [e.what for e in timeline(job_record(status="CANCELLED", errors=[cancel]))] == [
        "enqueued on queue q",
        "cancelled by ann",
    ]
    running = job_record(
        status="RUNNING",
        attempts=1,
        started_at=at(1),
        last_attempted_at=at(1),
        worker_ids=["w"],
        worker_id="w",
    )
    assert [(e.what, e.worker_id) for e in timeline(running)][-2:] == [("started", "w"), ("running now", "w")]


@pytest.mark.parametrize(
    ("value", "said"),
    [
        (None, "-"), (0.0123, "12ms"), (4.24, "4.2s"), (59, "59s"), (200, "3m 20s"),
        (timedelta(hours=2, minutes=5), "2h 05m"), (timedelta(days=3, hours=4, minutes=9), "3d 04h"),
    ],
)  # fmt: skip
def test_durations_read_at_a_glance(value, said):
    assert duration(value) == said
