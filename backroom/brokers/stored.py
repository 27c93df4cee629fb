"""Read a job's stored JSON defensively: a row edited into nonsense becomes a job that fails readably.

backroom writes these columns itself, so a value of the wrong shape means
someone edited the row (or an older version wrote it). Such a column reads as
empty, and the problem is reported so that the worker fails the job with it
instead of crashing on it.
"""

from collections.abc import Callable
from typing import Any

from ..serialization import loads


def _is_error(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("exception_class_path"), str)
        and isinstance(entry.get("traceback"), str)
    )


# Column -> (does the value have the shape backroom writes?, that shape in words, its empty value)
_SHAPES: dict[str, tuple[Callable[[Any], bool], str, Callable[[Any], Any]]] = {
    "args": (lambda v: isinstance(v, list), "a list", lambda v: []),
    "kwargs": (lambda v: isinstance(v, dict), "an object", lambda v: {}),
    "retry": (lambda v: isinstance(v, dict), "an object", lambda v: {}),
    "errors": (
        lambda v: isinstance(v, list) and all(_is_error(e) for e in v),
        "a list of error records",
        lambda v: [e for e in v if _is_error(e)] if isinstance(v, list) else [],
    ),
    "worker_ids": (
        lambda v: isinstance(v, list) and all(isinstance(w, str) for w in v),
        "a list of worker ids",
        lambda v: [w for w in v if isinstance(w, str)] if isinstance(v, list) else [],
    ),
}
_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}


def _describe(value: Any) -> str:
    return _JSON_TYPES.get(type(value), "a number")


def decode_columns(columns: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Decode a job's JSON columns; return them, and what was wrong with them or None."""
    decoded: dict[str, Any] = {}
    problems: list[str] = []
    for name, text in columns.items():
        try:
            value = loads(text)
        except ValueError as exc:
            problems.append(f"{name} is not valid JSON ({exc})")
            value = None
        if name in _SHAPES:
            fits, shape, empty = _SHAPES[name]
            if not fits(value):
                problems.append(f"{name} is {_describe(value)}, not {shape}")
                value = empty(value)
        decoded[name] = value
    return decoded, "; ".join(problems) or None
