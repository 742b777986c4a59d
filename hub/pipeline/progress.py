"""How a long run talks to whoever started it: progress, a stop request, refused records.

The engine, the erasure and the scheduler share these, so a terminal shows bars, the
scheduler stays quiet, and both can ask a run to stop at its next checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import update

from hub.clock import iso
from hub.connector import Rejection
from hub.store.schema import runs

if TYPE_CHECKING:
    from hub.store import Store


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


class Lines:
    """Progress as plain lines, for a log file or a pipe (no terminal, no bars).

    A line when a stage starts and ends, and one every `every` seconds in between, so an
    operator tailing a log sees that a long read is moving, and which system it is stuck on.
    """

    def __init__(self, write: Callable[[str], None], *, every: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._write = write
        self._every = every
        self._clock = clock
        self._name: str | None = None
        self._count = 0
        self._began = 0.0
        self._said = 0.0

    def stage(self, name: str, total: int | None) -> None:
        """Say which stage starts."""
        self._name, self._count = name, 0
        self._began = self._said = self._clock()
        self._write(f"{name} …" + (f" ({total} to do)" if total else ""))

    def advance(self, n: int = 1) -> None:
        """Count; say how far it got when `every` seconds passed since the last line."""
        self._count += n
        now = self._clock()
        if now - self._said >= self._every:
            self._said = now
            self._write(f"{self._name}: {self._count} so far")

    def done(self) -> None:
        """Say the stage ended, with its count and duration."""
        if self._name is None:
            return
        self._write(f"{self._name}: done, {self._count} in {self._clock() - self._began:.1f} s")
        self._name = None


class Checkpoints:
    """Passes progress on and leaves a sign of life on the run's row.

    The row says which stage the run is in and when it was last seen alive, so when the
    process dies (kill -9, a crash) the next run can say where and when it stopped
    (`hub.pipeline.crashes`). Writes at stage changes and at most every `every` seconds.
    """

    def __init__(self, inner: ProgressSink, store: Store, run_id: int, *,
                 wall: Callable[[], datetime], every: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._inner = inner
        self._store = store
        self._run_id = run_id
        self._wall = wall
        self._every = every
        self._clock = clock
        self._stage = "starting"
        self._count = 0
        self._said = clock()

    def stage(self, name: str, total: int | None) -> None:
        """Record the stage, then pass it on."""
        self._stage, self._count = name, 0
        self._record()
        self._inner.stage(name, total)

    def advance(self, n: int = 1) -> None:
        """Count and pass on; record now and then."""
        self._count += n
        if self._clock() - self._said >= self._every:
            self._record()
        self._inner.advance(n)

    def done(self) -> None:
        """Pass on."""
        self._inner.done()

    def _record(self) -> None:
        self._said = self._clock()
        with self._store.begin() as conn:
            conn.execute(update(runs).where(runs.c.id == self._run_id,
                                            runs.c.status == "running").values(
                summary={"stage": self._stage, "alive_at": iso(self._wall()),
                         "records": self._count}))
