"""SQL that differs between databases, one module per vendor."""

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from django.db.backends.base.base import BaseDatabaseWrapper

from . import postgresql, sqlite


class Dialect(Protocol):
    vendor: str
    default_poll_interval_seconds: float
    skip_locked: str
    json_param: str
    text_param: str
    is_same: str

    def json(self, value_sql: str) -> str: ...

    def json_append(self, column: str, value_sql: str) -> str: ...

    def rows(self, sql_types: Sequence[str], count: int) -> str: ...

    def rows_params(self, rows: Sequence[Sequence[Any]]) -> list[Any]: ...

    def json_pop(self, column: str) -> str: ...

    def insert_returning(self, insert_sql: str) -> str: ...

    def insert_many(self, columns: str, shared_values: str, rows: int) -> str: ...

    def insert_many_params(
        self, shared: list[Any], ids: list[str], args: list[str], kwargs: list[str], queue: str
    ) -> list[Any]: ...

    def batch_rows(self, connection: BaseDatabaseWrapper, shared_params: int) -> int: ...

    def listen(
        self,
        connection: BaseDatabaseWrapper,
        wake: Callable[[str], None],
        stop: threading.Event,
    ) -> None: ...


_DIALECTS = {"postgresql": postgresql, "sqlite": sqlite}


def dialect_for(connection: BaseDatabaseWrapper) -> Dialect:
    try:
        return _DIALECTS[connection.vendor]  # type: ignore[return-value]
    except KeyError:
        supported = ", ".join(sorted(_DIALECTS))
        raise NotImplementedError(
            f"backroom's database backend supports {supported}, not {connection.vendor} "
            f"(database {connection.alias!r})."
        ) from None
