"""The status endpoint's views: one job's status as JSON, or as a stream of events."""

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

from ..brokers.base import Broker
from ..compat import task_backends
from .payload import status_payload
from .stream import Payload, StreamLimits, astream, stream
from .tokens import StatusGrant, read_status_token

LIMITS = StreamLimits()


def _resolve(token: str) -> tuple[StatusGrant, Broker]:
    """Check the token; anything wrong with it is a 404, like a result that does not exist."""
    grant = read_status_token(token)
    if grant is None or grant.backend not in task_backends:
        raise Http404("No such task result.")
    broker = getattr(task_backends[grant.backend], "broker", None)
    if broker is None:
        raise Http404("No such task result.")
    return grant, broker


def _read(grant: StatusGrant, broker: Broker) -> Payload:
    record = broker.get(grant.result_id)
    if record is None:
        return None
    return status_payload(record, now=timezone.now(), expose_return_value=grant.expose_return_value)


@require_GET
def status_json(request: HttpRequest, token: str) -> HttpResponse:
    """Answer the job's status as one JSON object."""
    payload = _read(*_resolve(token))
    if payload is None:
        raise Http404("No such task result.")
    response = JsonResponse(payload)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def status_events(request: HttpRequest, token: str) -> HttpResponseBase:
    """Stream the job's status as Server-Sent Events until it finishes."""
    read = partial(_read, *_resolve(token))
    if read() is None:
        raise Http404("No such task result.")
    events = astream(read, LIMITS) if isinstance(request, ASGIRequest) else stream(read, LIMITS)
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: pass events on as they come
    return response
