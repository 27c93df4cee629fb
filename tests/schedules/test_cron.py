"""Cron expressions: validation, and the instants they name across daylight-saving changes. No database."""

from datetime import UTC, datetime, timedelta
from itertools import islice, pairwise
from zoneinfo import ZoneInfo

import pytest

from backroom.scheduler import cron

PARIS = ZoneInfo(
    "Europe/Paris"
)  # clocks go forward 2025-03-30 02:00 -> 03:00, back 2025-10-26 03:00 -> 02:00
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def paris(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=PARIS, fold=fold)


def run_times(expr: str, start: datetime, end: datetime, tz: ZoneInfo) -> list[datetime]:
    """Every instant ``expr`` names in (start, end], found by stepping with next_after."""
    found = []
    moment = start
    while (moment := cron.next_after(expr, moment, tz)) <= end:
        found.append(moment)
    return found


@pytest.mark.parametrize(
    "expr",
    ["* * * * *", "0 3 * * *", "*/5 9-17 * * MON-FRI", "0 0 1 JAN *", "30 2 L * *", "@daily", "@HOURLY"],
)
def test_valid_expressions_expand_to_five_fields(expr):
    assert len(cron.expand(expr).split()) == 5


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("61 * * * *", "Bad minute"),
        ("0 24 * * *", "Bad hour"),
        ("0 0 32 * *", "Bad day-of-month"),
        ("0 0 30 2 *", "Bad day-of-month"),  # February never has a 30th
        ("0 0 * 13 *", "Bad month"),
        ("0 0 * * 8", "Bad day-of-week"),
        ("* * * *", "has 4 fields"),
        ("0 0 0 * * *", "has 6 fields"),  # seconds are not cron
        ("", "has 0 fields"),
        ("@fortnightly", "has 1 fields"),
        ("every day", "has 2 fields"),
    ],
)
def test_invalid_expressions_say_why(expr, reason):
    with pytest.raises(cron.InvalidCron, match=reason):
        cron.expand(expr)


def test_non_string_is_invalid():
    with pytest.raises(cron.InvalidCron, match="is a string, not int"):
        cron.expand(5)  # type: ignore[arg-type]


def test_next_after_is_strictly_after_and_in_utc():
    assert cron.next_after("*/15 * * * *", utc(2025, 1, 1, 10, 0), UTC) == utc(2025, 1, 1, 10, 15)
    assert cron.next_after("*/15 * * * *", utc(2025, 1, 1, 10, 14, 59, 999999), UTC) == utc(
        2025, 1, 1, 10, 15
    )
    found = cron.next_after("0 3 * * *", utc(2025, 1, 1, 10, 0), PARIS)
    assert found.tzinfo == UTC
    assert found == utc(2025, 1, 2, 2, 0)  # 03:00 in Paris is 02:00 UTC in winter


def test_weekday_schedule_in_a_named_timezone():
    # Every Monday at 9 in New York, from a Saturday: the winter and summer offsets differ.
    assert run_times("0 9 * * MON", utc(2025, 3, 1), utc(2025, 3, 20), NEW_YORK) == [
        utc(2025, 3, 3, 14),  # EST, UTC-5
        utc(2025, 3, 10, 13),  # EDT from 2025-03-09, UTC-4
        utc(2025, 3, 17, 13),
    ]


def test_spring_forward_a_skipped_time_runs_once_after_the_gap():
    # 02:30 does not exist in Paris on 2025-03-30: the daily job runs at 03:00 that day, once.
    times = run_times("30 2 * * *", utc(2025, 3, 28, 12), utc(2025, 4, 1, 12), PARIS)
    assert [t.astimezone(PARIS) for t in times] == [
        paris(2025, 3, 29, 2, 30),
        paris(2025, 3, 30, 3, 0),
        paris(2025, 3, 31, 2, 30),
        paris(2025, 4, 1, 2, 30),
    ]
    assert times[1] - times[0] == timedelta(hours=23, minutes=30)


def test_spring_forward_hourly_job_skips_the_missing_hour():
    times = run_times("0 * * * *", paris(2025, 3, 30, 0, 30), paris(2025, 3, 30, 4, 30), PARIS)
    assert [t.astimezone(PARIS).hour for t in times] == [1, 3, 4]
    assert all(b - a == timedelta(hours=1) for a, b in pairwise(times))


def test_fall_back_a_repeated_time_runs_once_at_its_first_occurrence():
    # 02:30 happens twice in Paris on 2025-10-26 (CEST, then CET): the daily job runs once.
    times = run_times("30 2 * * *", utc(2025, 10, 24, 12), utc(2025, 10, 27, 12), PARIS)
    assert times == [utc(2025, 10, 25, 0, 30), utc(2025, 10, 26, 0, 30), utc(2025, 10, 27, 1, 30)]


def test_fall_back_from_inside_the_second_pass_does_not_go_back_in_time():
    second_pass = paris(2025, 10, 26, 2, 15, fold=1)  # 01:15 UTC, after the 02:30 run at 00:30 UTC
    assert cron.next_after("30 2 * * *", second_pass, PARIS) == utc(2025, 10, 27, 1, 30)


def test_fall_back_interval_like_expressions_follow_real_time():
    # Every 30 minutes: the repeated hour gets its runs too, 30 real minutes apart throughout.
    times = run_times("*/30 * * * *", utc(2025, 10, 25, 23, 50), utc(2025, 10, 26, 2, 10), PARIS)
    assert times == [utc(2025, 10, 26, 0, 0) + timedelta(minutes=30 * i) for i in range(5)]


@pytest.mark.parametrize(
    ("expr", "start", "end"),
    [
        ("30 2 * * *", utc(2025, 3, 25), utc(2025, 4, 3)),
        ("30 2 * * *", utc(2025, 10, 20), utc(2025, 10, 30)),
        ("0,30 2 * * *", utc(2025, 3, 25), utc(2025, 4, 3)),
        ("*/20 * * * *", utc(2025, 10, 25, 22), utc(2025, 10, 26, 4)),
        ("15 1-3 * * *", utc(2025, 10, 24), utc(2025, 10, 28)),
    ],
)
def test_back_from_names_the_same_instants_as_next_after(expr, start, end):
    forward = run_times(expr, start, end, PARIS)
    backward = []
    for instant in cron.back_from(expr, end, PARIS):
        if instant <= start:
            break
        backward.append(instant)
    assert backward[::-1] == forward
    assert len(set(forward)) == len(forward)


def test_back_from_includes_the_moment_itself():
    assert list(islice(cron.back_from("0 * * * *", utc(2025, 1, 1, 10), UTC), 2)) == [
        utc(2025, 1, 1, 10),
        utc(2025, 1, 1, 9),
    ]
    assert next(cron.back_from("0 * * * *", utc(2025, 1, 1, 9, 59, 59, 999999), UTC)) == utc(2025, 1, 1, 9)
