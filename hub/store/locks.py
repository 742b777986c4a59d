"""Locks the database (or the kernel) holds for hub and drops by itself when the holder dies.

A process killed with -9 frees its locks at once, with no expiry to wait for and no clock to
trust:

- PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection the lock
  keeps open while held. A dead process closes its socket; the server ends the session and
  releases the lock.
- SQLite (one machine by definition): an exclusive ``flock`` on a file next to the database;
  the kernel releases it when the process exits, however it exits.

`writer_lease` is the store's own lock, held by every sync while it writes (one writer per
store); `hub.ops.lease` builds the per-pipeline leases of `hub run` from the same kinds.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, text

from hub.store import Store

log = logging.getLogger("hub.lease")


class Lease(Protocol):
    """A held-or-not lock (on one pipeline, or on the store's writes)."""

    def acquire(self) -> bool:
        """Take the lease if nobody holds it; never waits."""

    def alive(self) -> bool:
        """True while the lease is certainly still ours (checked by the run's heartbeat)."""

    def release(self) -> None:
        """Give the lease up (idempotent)."""


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` (the same on every node)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


#: The name of the one lease every sync of a store holds while it writes.
WRITER = "hub:store-writer"


class AdvisoryLease:
    """PostgreSQL session advisory lock on a connection of its own."""

    def __init__(self, store: Store, key: int) -> None:
        self._store = store
        self._key = key
        self._conn: Connection | None = None

    def acquire(self) -> bool:
        """``pg_try_advisory_lock`` on a fresh connection; keep the connection if it worked."""
        conn = self._store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"),
                                    {"k": self._key}).scalar())
        except Exception:
            conn.invalidate()
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def alive(self) -> bool:
        """The session (and so its lock) lives while the server answers on it."""
        if self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
        except Exception:
            log.warning("the lease connection failed; stopping the run at its next checkpoint")
            return False
        return True

    def release(self) -> None:
        """Unlock, and drop the connection so no pooled session keeps the lock by mistake."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key})
        except Exception:
            log.warning("could not unlock a lease (key %s); closing its connection instead",
                        self._key)
        finally:
            conn.invalidate()  # closing the session is what guarantees the lock is gone
            conn.close()


class FileLease:
    """An exclusive ``flock`` on a file beside the database (SQLite stores).

    ``<database>.<pipeline>.lease`` for a pipeline, ``<database>.writer.lease`` for the writer.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def acquire(self) -> bool:
        """Non-blocking exclusive lock; the kernel drops it when the process dies."""
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def alive(self) -> bool:
        """A held flock cannot be lost while the process lives."""
        return self._fd is not None

    def release(self) -> None:
        """Unlock and close."""
        fd, self._fd = self._fd, None
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


class _Solo:
    """The writer lease of an in-memory store: no other process can open that store."""

    def __init__(self) -> None:
        self._held = False

    def acquire(self) -> bool:
        """Held unless this process holds it already."""
        if self._held:
            return False
        self._held = True
        return True

    def alive(self) -> bool:
        """Held until released."""
        return self._held

    def release(self) -> None:
        """Give it up."""
        self._held = False


def writer_lease(store: Store) -> Lease:
    """The store-wide lease a sync holds from its first write to its last.

    Every run (a manual `hub sync`, a scheduled pipeline, a takeover) resolves and merges over
    the whole store, so two of them at once would double writes to the systems they share and
    race on the same contacts. One writer per store is the simple rule that excludes both;
    pipelines over different systems take turns.
    """
    if store.dialect == "postgresql":
        return AdvisoryLease(store, lock_key(WRITER))
    database = store.engine.url.database or ""
    if not database or database == ":memory:":
        return _Solo()
    return FileLease(Path(f"{database}.writer.lease"))
