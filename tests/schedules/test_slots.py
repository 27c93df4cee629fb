"""Which slots a scheduler enqueues at a given moment, under each missed-slot policy. No database."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backroom.scheduler import Missed, Schedule
from backroom.scheduler.slots import MISSED_AFTER, due, next_slot, slots_back

PARIS = ZoneInfo("Europe/Paris")
T0 = datetime(2025, 6, 2, 10, 0, tzinfo=UTC)


def every_minute(**options) -> Schedule:
    return Schedule(name="m", task="tests.tasks.noop", interval=timedelta(minutes=1), **options)


def test_interval_slots_are_aligned_on_the_epoch():
    five = Schedule(name="five", task="tests.tasks.noop", interval=timedelta(minutes=5))
    assert next_slot(five, T0 + timedelta(minutes=2, seconds=7), UTC) == T0 + timedelta(minutes=5)
    assert next_slot(five, T0, UTC) == T0 + timedelta(minutes=5)
    slots = slots_back(five, T0 + timedelta(minutes=4, seconds=59), UTC)
    assert [next(slots), next(slots)] == [T0, T0 - timedelta(minutes=5)]
    # The timezone plays no part: an interval is real time.
    assert next_slot(five, T0, PARIS) == next_slot(five, T0, UTC)


def test_cron_slots_read_the_clock_in_the_timezone():
    nightly = Schedule(name="n", task="tests.tasks.noop", cron="0 3 * * *")
    assert next_slot(nightly, T0, PARIS) == datetime(2025, 6, 3, 1, 0, tzinfo=UTC)  # 03:00 CEST
    assert next_slot(nightly, T0, UTC) == datetime(2025, 6, 3, 3, 0, tzinfo=UTC)


def test_nothing_due_before_the_next_slot():
    found = due(every_minute(), T0, T0 + timedelta(seconds=59), UTC)
    assert found.run == [] and not found.dropped


def test_a_slot_on_time_runs_under_every_policy():
    for policy in Missed:
        found = due(every_minute(missed=policy), T0, T0 + timedelta(minutes=1, seconds=2), UTC)
        assert found.run == [T0 + timedelta(minutes=1)], policy
        assert not found.dropped


def test_latest_collapses_missed_slots_into_one_run():
    found = due(every_minute(), T0, T0 + timedelta(minutes=10, seconds=30), UTC)
    assert found.run == [T0 + timedelta(minutes=10)]
    assert found.dropped


def test_latest_runs_a_long_missed_nightly_slot_once():
    nightly = Schedule(name="n", task="tests.tasks.noop", cron="0 3 * * *")
    last = datetime(2025, 6, 1, 1, 0, tzinfo=UTC)  # 03:00 CEST on June 1st
    now = datetime(2025, 6, 4, 9, 0, tzinfo=UTC)  # three nights missed
    found = due(nightly, last, now, PARIS)
    assert found.run == [datetime(2025, 6, 4, 1, 0, tzinfo=UTC)]
    assert found.dropped


def test_skip_drops_missed_slots_and_keeps_those_on_time():
    schedule = every_minute(missed=Missed.SKIP)
    now = T0 + timedelta(minutes=10, seconds=30)
    found = due(schedule, T0, now, UTC)
    assert found.run == [T0 + timedelta(minutes=10)]  # 30 s late: on time
    assert found.dropped
    five = Schedule(name="5", task="tests.tasks.noop", interval=timedelta(minutes=5), missed=Missed.SKIP)
    late = due(five, T0, T0 + timedelta(minutes=10) + MISSED_AFTER + timedelta(seconds=1), UTC)
    assert late.run == [] and late.dropped


def test_all_runs_every_missed_slot_oldest_first():
    found = due(every_minute(missed=Missed.ALL), T0, T0 + timedelta(minutes=5), UTC)
    assert found.run == [T0 + timedelta(minutes=i) for i in range(1, 6)]
    assert not found.dropped


def test_all_is_capped_at_the_latest_slots():
    found = due(every_minute(missed=Missed.ALL, missed_limit=3), T0, T0 + timedelta(hours=2), UTC)
    assert found.run == [T0 + timedelta(minutes=m) for m in (118, 119, 120)]
    assert found.dropped


def test_all_over_a_daylight_saving_night():
    hourly_local = Schedule(name="h", task="tests.tasks.noop", cron="30 1-3 * * *", missed=Missed.ALL)
    since = datetime(2025, 10, 25, 12, tzinfo=UTC)
    found = due(hourly_local, since, datetime(2025, 10, 26, 12, tzinfo=UTC), PARIS)
    # 01:30 CEST, 02:30 CEST (the repeated 02:30 CET does not run again), 03:30 CET
    assert found.run == [
        datetime(2025, 10, 25, 23, 30, tzinfo=UTC),
        datetime(2025, 10, 26, 0, 30, tzinfo=UTC),
        datetime(2025, 10, 26, 2, 30, tzinfo=UTC),
    ]


@pytest.mark.parametrize("policy", list(Missed))
def test_missing_all_history_is_cheap(policy):
    """A per-minute schedule missed for a year: the policy looks back over a bounded number of slots."""
    schedule = every_minute(missed=policy, missed_limit=5)
    found = due(schedule, T0 - timedelta(days=365), T0, UTC)
    assert len(found.run) <= 5 and found.dropped
