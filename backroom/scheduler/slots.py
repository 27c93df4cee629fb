"""When a schedule's slots fall, and which of them a scheduler enqueues now.

Pure functions: the time and the timezone are passed in. Interval slots are
aligned on the Unix epoch (UTC), so every scheduler computes the same instants
(an hourly interval falls on the hour, a daily one at midnight UTC); cron
slots follow ``backroom.cron``.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from . import cron
from .declaration import Missed, Schedule

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: A slot enqueued later than this after its time was missed; the "skip" policy drops it.
MISSED_AFTER = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Due:
    """The slots to enqueue now, oldest first, and whether the policy left missed ones out."""

    run: list[datetime]
    dropped: bool


def next_slot(schedule: Schedule, moment: datetime, tz: tzinfo) -> datetime:
    """Return the schedule's first slot strictly after ``moment``."""
    if schedule.cron is not None:
        return cron.next_after(schedule.cron, moment, tz)
    assert schedule.interval is not None
    return EPOCH + ((moment - EPOCH) // schedule.interval + 1) * schedule.interval


def slots_back(schedule: Schedule, moment: datetime, tz: tzinfo) -> Iterator[datetime]:
    """Yield the schedule's slots at or before ``moment``, latest first."""
    if schedule.cron is not None:
        yield from cron.back_from(schedule.cron, moment, tz)
        return
    assert schedule.interval is not None
    slot = EPOCH + ((moment - EPOCH) // schedule.interval) * schedule.interval
    while True:
        yield slot
        slot -= schedule.interval


def due(schedule: Schedule, since: datetime, now: datetime, tz: tzinfo) -> Due:
    """Return the slots in (since, now] to enqueue now under the schedule's missed-slot policy.

    "latest" collapses every due slot into one run, for the latest; "skip"
    runs only the slots not yet ``MISSED_AFTER`` old; "all" runs every due
    slot, the latest ``missed_limit`` at most.
    """
    limit = {Missed.LATEST: 1, Missed.ALL: schedule.missed_limit}.get(Missed(schedule.missed))
    wanted: list[datetime] = []
    for slot in slots_back(schedule, now, tz):
        if slot <= since:
            return Due(run=wanted[::-1], dropped=False)
        late = schedule.missed == Missed.SKIP and now - slot > MISSED_AFTER
        if late or len(wanted) == limit:
            return Due(run=wanted[::-1], dropped=True)
        wanted.append(slot)
    return Due(run=wanted[::-1], dropped=False)  # no earlier slot at all
