"""Tasks for the chaos, soak and fault tests: each records its runs in the Run table."""

import ctypes
import os
import random
import time

from backroom import task
from tests import tasks as core_tasks
from tests.support import runs


@task(max_attempts=20)
def chaos_job(label: str, using: str, max_ms: float) -> str:
    """Record the run first thing, then work a random while, so that kills land mid-job."""
    runs(using).create(label=label, pid=os.getpid())
    time.sleep(random.uniform(0, max_ms) / 1000)
    return label


@task
def exit_process(code: int) -> None:
    """A poison job: end the whole worker process at once, as a crashing C extension would."""
    os._exit(code)


@task
def segfault() -> None:
    """A poison job: read address 0."""
    ctypes.string_at(0)


@task
def exhaust_memory(step_mb: int) -> None:
    """A poison job: allocate until the address-space limit refuses (calloc'd, so never resident)."""
    blocks = []
    while True:
        blocks.append(bytes(step_mb << 20))


@task
def leak_memory(label: str, using: str, mb: int) -> str:
    """Keep ``mb`` megabytes alive for the rest of the process, as a leaking task would."""
    _LEAKED.append(b"x" * (mb << 20))  # written, so resident: bytes(n) would stay virtual
    runs(using).create(label=label, pid=os.getpid())
    return label


_LEAKED: list[bytes] = []


@task(max_attempts=1)
def echo(*args, **kwargs):
    """Return the arguments as received: what went in must come back unchanged."""
    return {"args": list(args), "kwargs": kwargs}


@task(max_attempts=1)
def raise_message(message: str) -> None:
    raise ValueError(message)


@task(max_attempts=1)
def returns_text(code_point: int, raises: bool = False) -> str:
    """Return (or raise with) a text holding ``chr(code_point)``: NUL and lone surrogates are hard."""
    text = f"a{chr(code_point)}b"
    if raises:
        raise ValueError(text)
    return text


#: A real task under a second name: a stored path must name a task by its own name.
renamed_record = core_tasks.record
