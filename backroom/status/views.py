"""The status endpoint's views: one job's status as JSON, or as a stream of events.

Under WSGI the events view returns a plain iterator, read in the request
thread; under ASGI an asynchronous one, whose reads borrow a thread of
``reading`` (see there, and docs/status.md for what a stream holds).
"""

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from functools import partial

from django.core.handlers.asgi import ASGIRequest
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.utils import timezone
from django.views.decorators.http import require_GET

from ..backends.stores import NotBackroom, store_for
from ..redaction import redact
from ..store import Store
from .config import StatusSettings, status_settings
from .payload import is_due, status_payload
from .reading import in_read_thread, released
from .slots import NoSlot, Slot, StreamSlots
from .stream import Gone, Reading, StreamLimits, astream, stream
from .tokens import StatusGrant, read_status_token
from .workers import WorkerWatch

logger = logging.getLogger(__name__)
LIMITS = StreamLimits()
#: The open event streams of this process.
SLOTS = StreamSlots()
#: The workers of each store, as this process last listed them.
WORKERS = WorkerWatch()
#: What a refused stream's ``Retry-After`` asks for (EventSource itself reconnects after 2 s).
RETRY_AFTER_SECONDS = 5


def _resolve(token: str, config: StatusSettings) -> tuple[StatusGrant, Store]:
    """Check the token; anything wrong with it is a 404, like a result that does not exist."""
    grant = read_status_token(token, max_age_seconds=config.token_max_age_seconds)
    if grant is None:
        raise Http404("No such task result.")
    try:
        return grant, store_for(grant.backend)
    except NotBackroom:
        raise Http404("No such task result.") from None


def _read(grant: StatusGrant, store: Store) -> Reading:
    record = store.inspector.get(grant.result_id)
    if record is None:
        return Gone.MISSING
    now = timezone.now()
    no_worker = is_due(record, now) and not WORKERS.serves(store, record.queue_name, now)
    return status_payload(
        redact(record), now=now, expose_return_value=grant.expose_return_value, no_worker=no_worker
    )


def _read_while_valid(token: str, grant: StatusGrant, store: Store) -> Reading:
    """Read the job, unless the token has expired since the stream opened."""
    max_age = status_settings().token_max_age_seconds
    if max_age is not None and read_status_token(token, max_age_seconds=max_age) is None:
        return Gone.EXPIRED
    return _read(grant, store)


@require_GET
def status_json(request: HttpRequest, token: str) -> HttpResponse:
    """Answer the job's status as one JSON object."""
    payload = _read(*_resolve(token, status_settings()))
    if isinstance(payload, Gone):
        raise Http404("No such task result.")
    response = JsonResponse(payload)
    response["Cache-Control"] = "no-store"
    return response


class EventStreamResponse(StreamingHttpResponse):
    """An event stream that gives its slot back when it closes, whether it ran to its end or not."""

    def __init__(self, events: Iterator[str] | AsyncIterator[str], slot: Slot) -> None:
        super().__init__(events, content_type="text/event-stream")
        self.slot = slot
        self["Cache-Control"] = "no-store"
        self["X-Accel-Buffering"] = "no"  # nginx: pass events on as they come

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.slot.release()


def _refused(reason: str, result_id: str) -> HttpResponse:
    logger.warning("status stream refused result=%s open=%d: %s", result_id, SLOTS.open, reason)
    response = HttpResponse(
        f"{reason} Try again later, or read the JSON status instead.\n", status=503, content_type="text/plain"
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    # Logged above, once and as a warning: Django would log every refusal as a server ERROR.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


@require_GET
def status_events(request: HttpRequest, token: str) -> HttpResponseBase:
    """Stream the job's status as Server-Sent Events until it finishes; 503 past the stream caps."""
    config = status_settings()
    grant, store = _resolve(token, config)
    try:
        slot = SLOTS.take(
            f"{grant.backend}:{grant.result_id}",
            most=config.streams_max,
            most_per_key=config.streams_per_token,
        )
    except NoSlot as exc:
        return _refused(str(exc), grant.result_id)
    try:
        read: Callable[[], Reading] = partial(_read_while_valid, token, grant, store)
        first = released(read)()
        if isinstance(first, Gone):
            raise Http404("No such task result.")
        events: Iterator[str] | AsyncIterator[str] = (
            astream(in_read_thread(read), LIMITS, first=first)
            if isinstance(request, ASGIRequest)
            else stream(released(read), LIMITS, first=first)
        )
        return EventStreamResponse(events, slot)
    except BaseException:
        slot.release()
        raise
