"""The SQL store: jobs in a table of a Django database (PostgreSQL, SQLite, MariaDB or MySQL)."""

from .broker import DatabaseBroker
from .connection import dialect_for
from .inspector import DatabaseInspector

__all__ = ["DatabaseBroker", "DatabaseInspector", "dialect_for"]
