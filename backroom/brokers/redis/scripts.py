"""The Lua scripts behind every Redis write, registered once per client.

Each script is ``common.lua`` followed by its own file, so the helpers that
several operations share (finishing an attempt, queueing a ready job) are
written once. Redis runs each script atomically.
"""

from dataclasses import dataclass, fields
from importlib.resources import files

import redis
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
    claim: Script
    persist: Script
    release: Script
    heartbeat: Script
    reap: Script
    unregister: Script
    set_progress: Script
    prune: Script
    prune_slots: Script

    @classmethod
    def register(cls, client: "redis.Redis") -> "Scripts":
        return cls(**{f.name: client.register_script(source(f.name)) for f in fields(cls)})
