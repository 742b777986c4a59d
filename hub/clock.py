"""Time as hub stores and prints it: aware UTC inside, ISO-8601 with a ``Z`` outside.

Every timestamp a person or a script reads (the CLI's JSON, the run history, the funnel)
goes through `iso`, so the same moment is spelt the same way everywhere.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def utcnow() -> datetime:
    """The real clock; tests inject a fixed one through `ConnectorContext.clock`."""
    return datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """Aware UTC, whatever came in: a naive value is taken as UTC (as the store writes it)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@overload
def iso(moment: datetime) -> str: ...
@overload
def iso(moment: datetime | None) -> str | None: ...
def iso(moment: datetime | None) -> str | None:
    """ISO-8601 UTC with a Z, or None."""
    moment = as_utc(moment)
    return moment.isoformat().replace("+00:00", "Z") if moment else None
