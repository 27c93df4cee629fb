"""Where everything lives in Redis: the key names, and how a job id finds its queue.

Each queue's keys share a hash tag, ``{prefix:queue}``, so that they live in
one hash slot of a Redis Cluster and one script can touch them all. The few
keys of the whole store (the queue list, the worker registry, the wake-up
channel) share ``{prefix}``. A job's hash lives with its queue; its id
carries the queue's hash slot (14 bits of the UUID's random part), so that
a job is found by id alone without a cross-slot index.
"""

from redis.crc import key_slot

SLOTS = 16384
#: Where the slot sits in an id: the first four hex digits of its last group.
_SLOT_DIGITS = slice(24, 28)


class Keys:
    """Key names under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        store = "{" + prefix + "}"
        self.queues = f"{store}:queues"  # set of queue names
        self.workers = f"{store}:workers"  # hash: worker id -> its description (JSON)
        self.heartbeats = f"{store}:heartbeats"  # sorted set: worker id -> last heartbeat (us)
        self.channel = f"{store}:enqueued"  # pub/sub: a queue name when it has a job ready

    def base(self, queue: str) -> str:
        """The common start (and hash tag) of one queue's keys."""
        return "{" + self.prefix + ":" + queue + "}"

    def ready(self, queue: str) -> str:
        """The queue's ready set: the key scripts name, so that Redis Cluster routes them."""
        return self.base(queue) + ":ready"

    def job(self, queue: str, job_id: str) -> str:
        return f"{self.base(queue)}:job:{job_id}"

    def of_queue(self, queue: str, name: str) -> str:
        return f"{self.base(queue)}:{name}"

    def slot(self, queue: str) -> int:
        return int(key_slot(self.base(queue).encode()))


def with_slot(job_id: str, slot: int) -> str:
    """A new id carrying ``slot`` in place of four of its random hex digits."""
    return f"{job_id[:24]}{slot:04x}{job_id[28:]}"


def slot_of(job_id: str) -> int | None:
    """The slot an id carries, or None when it cannot be one of ours."""
    if len(job_id) != 36:
        return None
    try:
        slot = int(job_id[_SLOT_DIGITS], 16)
    except ValueError:
        return None
    return slot if slot < SLOTS else None
