"""How a long run talks to whoever started it: progress, a stop request, refused records.

The engine, the erasure and the scheduler share these, so a terminal shows bars, the
scheduler stays quiet, and both can ask a run to stop at its next checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from hub.connector import Rejection


class ProgressSink(Protocol):
    """Where long work reports progress: rich bars on a terminal, nothing under the scheduler."""

    def stage(self, name: str, total: int | None) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def done(self) -> None: ...


class StopSignal(Protocol):
    """A request to stop at the next checkpoint (a `threading.Event` is one)."""

    def is_set(self) -> bool: ...


class Silent:
    """The progress sink for scripts, the scheduler and tests."""

    def stage(self, name: str, total: int | None) -> None:
        """Ignore."""

    def advance(self, n: int = 1) -> None:
        """Ignore."""

    def done(self) -> None:
        """Ignore."""


#: A record refused before it reached the store: (connector, rejection).
RejectionSink = Callable[[str, Rejection], None]
