"""The Lua scripts behind every Redis write, registered once per client.

Each script is ``common.lua`` followed by its own file, so the helpers that
several operations share (finishing an attempt, queueing a ready job) are
written once. Redis runs each script atomically; each touches the keys of
one queue (one hash slot), or of several queues only on a single Redis.
"""

from collections.abc import Iterator
from dataclasses import dataclass, fields
from importlib.resources import files
from typing import Any

from redis.commands.core import Script


def source(name: str) -> str:
    """Return the text of script ``name``, helpers included."""
    here = files(__package__)
    return here.joinpath("common.lua").read_text() + here.joinpath(f"{name}.lua").read_text()


@dataclass(frozen=True, slots=True)
class Scripts:
    """One callable per script; each runs by its SHA and is loaded when Redis lacks it."""

    enqueue: Script
    enqueue_many: Script
    enqueue_slot: Script
    enqueue_workflow: Script
    claim: Script
    record: Script
    release: Script
    heartbeat: Script
    expired: Script
    set_progress: Script
    prune: Script
    prune_slots: Script
    stats: Script
    retry: Script
    cancel: Script
    delete_failed: Script
    pause: Script
    resume: Script

    def __iter__(self) -> Iterator[Script]:
        return (getattr(self, f.name) for f in fields(self))

    @classmethod
    def register(cls, client: Any) -> "Scripts":
        return cls(**{f.name: client.register_script(source(f.name)) for f in fields(cls)})
