"""JSON in and out of the store: arguments and return values, and nothing else."""

import inspect
import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from ..compat import normalize_json
from ..exceptions import InvalidArguments

#: The deepest nesting of lists and objects a job's JSON may have, the list of arguments included:
#: MariaDB's JSON_VALID (the CHECK on its JSON columns) refuses 32 levels.
MAX_DEPTH = 31
# A \u0000 escape not itself escaped (preceded by an even number of backslashes).
_NUL_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


_encode = json.JSONEncoder(allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode


def dumps(value: Any) -> str:
    """Encode JSON that every store keeps as it is.

    PostgreSQL's jsonb refuses NaN and Infinity, the NUL character and lone
    surrogates; refusing them here turns a store error (or a worker unable to
    record a result) into a clear error about the value.
    """
    try:
        try:
            # Most values are plain JSON already; normalizing them first would give the same text, slower.
            text = _encode(value)
        except TypeError:
            text = _encode(normalize_json(value))
    except RecursionError:
        raise ValueError(f"it nests lists or objects deeper than {MAX_DEPTH} levels") from None
    if text.count("[") + text.count("{") > MAX_DEPTH and _depth(text) > MAX_DEPTH:
        raise ValueError(f"it nests lists or objects deeper than {MAX_DEPTH} levels")
    if "\\u0000" in text and _NUL_ESCAPE.search(text):
        raise ValueError("text holding the NUL character (\\x00) cannot be stored")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"text holding a lone surrogate ({exc.object[exc.start]!r}) cannot be stored"
        ) from None
    return text


def _depth(text: str) -> int:
    """The deepest nesting of brackets in JSON text, brackets inside strings not counted."""
    depth = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def storable_text(text: str) -> str:
    """Escape what a store cannot hold (NUL, lone surrogates) in text backroom writes itself."""
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def _parameter_names(func: Callable[..., Any]) -> list[str]:
    try:
        return list(inspect.signature(func).parameters)
    except (TypeError, ValueError):
        return []


def encode_arguments(
    func: Callable[..., Any],
    task_path: str,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    *,
    takes_context: bool,
    max_bytes: int,
) -> tuple[str, str]:
    """Encode a call's arguments; name the first one that JSON cannot hold."""
    try:
        encoded_args = dumps(list(args)) if args else "[]"
        encoded_kwargs = dumps(kwargs) if kwargs else "{}"
    except (TypeError, ValueError) as exc:
        _raise_for_first_bad_argument(func, task_path, args, kwargs, takes_context)
        raise InvalidArguments(
            f"The arguments of task {task_path!r} cannot be stored as JSON: {exc}."
        ) from exc
    size = len(encoded_args) + len(encoded_kwargs)
    if size > max_bytes // 4:  # four bytes at most per character: only then count the bytes
        size = len(encoded_args.encode()) + len(encoded_kwargs.encode())
    if size > max_bytes:
        raise InvalidArguments(
            f"The arguments of task {task_path!r} take {size:,} bytes as JSON, over the "
            f"limit of {max_bytes:,} (OPTIONS['MAX_ARGUMENTS_BYTES']). Store large data "
            "elsewhere and pass a reference."
        )
    return encoded_args, encoded_kwargs


def _raise_for_first_bad_argument(
    func: Callable[..., Any],
    task_path: str,
    args: Sequence[Any],
    kwargs: dict[str, Any],
    takes_context: bool,
) -> None:
    names = _parameter_names(func)[1 if takes_context else 0 :]
    labelled = [
        (f"{names[i]!r} (position {i})" if i < len(names) else f"at position {i}", value)
        for i, value in enumerate(args)
    ] + [(repr(name), value) for name, value in kwargs.items()]
    for label, value in labelled:
        try:
            text = dumps(value)
        except (TypeError, ValueError) as exc:
            raise InvalidArguments(
                f"Argument {label} of task {task_path!r} cannot be stored as JSON: {exc}. "
                "Pass JSON values (str, int, float, bool, None, lists, dicts), "
                "for example a model's primary key instead of the instance."
            ) from exc
        if text.count("[") + text.count("{") >= MAX_DEPTH and (depth := _depth(text)) >= MAX_DEPTH:
            # The list of arguments (or the object of keyword arguments) around it is one level more.
            raise InvalidArguments(
                f"Argument {label} of task {task_path!r} nests lists or objects {depth} levels deep: "
                f"within the arguments, deeper than the {MAX_DEPTH} levels every store reads."
            )


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)
