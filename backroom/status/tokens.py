"""Signed tokens that name one task result, so that only its holder can read its status."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core import signing

from ..compat import TaskResult

SALT = "backroom.status"


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusGrant:
    """What a valid token allows: reading one result of one backend, maybe with its return value."""

    result_id: str
    backend: str
    expose_return_value: bool


def status_token(result: TaskResult, *, expose_return_value: bool = False) -> str:
    """Return a token for the status endpoint that reads ``result`` and nothing else.

    The token binds the result id and its backend alias; with
    ``expose_return_value=True`` the endpoint also shows the return value,
    which is otherwise never sent. It carries the time it was signed, which
    ``BACKROOM["STATUS_TOKEN_MAX_AGE"]`` is checked against.
    """
    payload: dict[str, Any] = {"id": result.id, "backend": result.backend}
    if expose_return_value:
        payload["rv"] = 1
    return signing.dumps(payload, salt=SALT)


def read_status_token(token: str, *, max_age_seconds: float | None = None) -> StatusGrant | None:
    """Return the grant a token carries, or None when it is forged, altered, malformed or too old."""
    try:
        max_age = None if max_age_seconds is None else timedelta(seconds=max_age_seconds)
        payload = signing.loads(token, salt=SALT, max_age=max_age)
    except signing.BadSignature:  # SignatureExpired too
        return None
    if not isinstance(payload, dict):
        return None
    result_id, backend = payload.get("id"), payload.get("backend")
    if not isinstance(result_id, str) or not isinstance(backend, str):
        return None
    return StatusGrant(result_id=result_id, backend=backend, expose_return_value=payload.get("rv") == 1)
