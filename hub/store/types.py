"""Column types the store needs beyond SQLAlchemy's own.

SQLite has no time zone type: a DateTime comes back naive, PostgreSQL's comes back in the
session's zone. Comparing either with hub's aware UTC clock fails or lies, so every datetime
column is `UtcDateTime` and code reading the store never has to repair what it got.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator

from hub.clock import as_utc


class UtcDateTime(TypeDecorator[datetime]):
    """DateTime(timezone=True) that reads back aware UTC on every backend.

    A naive value written is taken as UTC (what the store has always assumed), and an aware
    one is converted, so SQLite's zone-less text always holds UTC. The database column is
    exactly DateTime(timezone=True): the migrations and existing databases stay as they are.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """To UTC before the driver (SQLite's text form drops the offset)."""
        return as_utc(value)

    def process_result_value(self, value: datetime | None,
                             dialect: Dialect) -> datetime | None:
        """Aware UTC, whatever the backend handed back."""
        return as_utc(value)

