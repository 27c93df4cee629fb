"""Server-Sent Events for one job: each change as it happens, an end event when it finishes.

The decisions (what to send, when to stop) live in ``StatusStream``; the two
drivers only read the store and wait, blocking under WSGI or awaiting under
ASGI, where a blocking iterator would be read to its end before anything is
sent. Each read returns the job's payload, or ``Gone`` when the stream must
end without one.
"""

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

#: How long EventSource waits before reconnecting to a stream that closed early.
RECONNECT_MILLISECONDS = 2000
KEEPALIVE = ": keep-alive\n\n"


class Gone(StrEnum):
    """Why a stream ends without a status: the reason its ``end`` event gives."""

    MISSING = "missing"  # the job was deleted since the stream opened
    EXPIRED = "expired"  # the token outlived BACKROOM["STATUS_TOKEN_MAX_AGE"]


Reading = dict[str, Any] | Gone


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamLimits:
    """How often the store is read, how long silence may last, and how long one stream lives."""

    poll_seconds: float = 0.5
    keepalive_seconds: float = 15.0
    max_seconds: float = 300.0


def sse_event(event: str, data: Any) -> str:
    """Frame one event; the data is one line of JSON."""
    return f"event: {event}\ndata: {json.dumps(data, cls=DjangoJSONEncoder, separators=(',', ':'))}\n\n"


class StatusStream:
    """Decide what to send after each read of a job's status.

    A finished job gets its last ``status`` event, then an ``end`` event, and
    the stream closes. A stream that reaches ``max_seconds`` closes without
    ``end``: EventSource reconnects by itself and the new stream goes on.
    """

    def __init__(self, limits: StreamLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self._opened_at = clock()
        self._last_sent_at = self._opened_at
        self._last_payload: dict[str, Any] | None = None

    def opening(self) -> str:
        return f"retry: {RECONNECT_MILLISECONDS}\n\n"

    def after_read(self, payload: Reading) -> tuple[list[str], bool]:
        """Return the chunks to send for this read, and whether the stream is over."""
        if isinstance(payload, Gone):
            return [sse_event("end", {"reason": payload.value})], True
        now = self.clock()
        chunks = []
        if payload != self._last_payload:
            chunks.append(sse_event("status", payload))
            self._last_payload = payload
        if payload["finished"]:
            return [*chunks, sse_event("end", {"reason": "finished"})], True
        if now - self._opened_at >= self.limits.max_seconds:
            return chunks, True
        if not chunks and now - self._last_sent_at >= self.limits.keepalive_seconds:
            chunks.append(KEEPALIVE)
        if chunks:
            self._last_sent_at = now
        return chunks, False


def stream(
    read: Callable[[], Reading],
    limits: StreamLimits,
    *,
    first: Reading | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[str]:
    """Yield the events of one job, reading its status every ``poll_seconds`` (``first``: read already)."""
    decide = StatusStream(limits, clock)
    yield decide.opening()
    reading = first if first is not None else read()
    while True:
        chunks, over = decide.after_read(reading)
        yield from chunks
        if over:
            return
        sleep(limits.poll_seconds)
        reading = read()


async def astream(
    read: Callable[[], Awaitable[Reading]],
    limits: StreamLimits,
    *,
    first: Reading | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[str]:
    """Yield the events of one job, awaiting its reads and the waits between them (ASGI)."""
    decide = StatusStream(limits, clock)
    yield decide.opening()
    reading = first if first is not None else await read()
    while True:
        chunks, over = decide.after_read(reading)
        for chunk in chunks:
            yield chunk
        if over:
            return
        await asyncio.sleep(limits.poll_seconds)
        reading = await read()
