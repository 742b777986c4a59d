"""Pipeline leases: one pipeline never runs on two `hub run` nodes at once.

The lease is a lock the database (or the operating system) holds for us and drops by itself
when its holder dies, so a node killed with -9 frees its pipelines at once, with no expiry to
wait for and no clock to trust:

- PostgreSQL: a session advisory lock (``pg_try_advisory_lock``) on a connection the lease
  keeps open for the whole run. A dead process closes its socket; the server ends the session
  and releases the lock.
- SQLite (one machine by definition): an exclusive ``flock`` on a file next to the database;
  the kernel releases it when the process exits, however it exits.

A lease only says "nobody else runs this pipeline now". Which schedule slot has been run is
recorded under the lease in the `pipelines` table (`claim_slot`), so two nodes woken for the
same slot run it once between them. The store's *writer* lease (`writer_lease`), the same
kind of lock under another name, is held by every sync while it writes: one writer per
store; and whoever holds it may mark runs still 'running' as crashed (`mark_crashed`).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Connection, select, text, update

from hub.clock import iso
from hub.errors import ConfigError
from hub.pipeline.summary import RunSummary
from hub.store import Store, upsert
from hub.store.schema import pipelines, runs

log = logging.getLogger("hub.lease")


class Lease(Protocol):
    """A held-or-not lock on one pipeline."""

    def acquire(self) -> bool:
        """Take the lease if nobody holds it; never waits."""

    def alive(self) -> bool:
        """True while the lease is certainly still ours (checked by the run's heartbeat)."""

    def release(self) -> None:
        """Give the lease up (idempotent)."""


def lock_key(pipeline: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_lock`` (the same on every node)."""
    return _key(f"hub:pipeline:{pipeline}")


def _key(name: str) -> int:
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


#: The name of the one lease every sync of a store holds while it writes.
WRITER = "hub:store-writer"


class AdvisoryLease:
    """PostgreSQL session advisory lock on a connection of its own."""

    def __init__(self, store: Store, pipeline: str, *, key: int | None = None) -> None:
        self._store = store
        self._key = lock_key(pipeline) if key is None else key
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
            log.warning("could not unlock a pipeline lease; closing its connection instead")
        finally:
            conn.invalidate()  # closing the session is what guarantees the lock is gone
            conn.close()


class FileLease:
    """An exclusive ``flock`` on ``<database>.<pipeline>.lease`` (SQLite stores)."""

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


def open_lease(store: Store, pipeline: str) -> Lease:
    """The right lease for the store's database."""
    if store.dialect == "postgresql":
        return AdvisoryLease(store, pipeline)
    database = store.engine.url.database or ""
    if not database or database == ":memory:":
        raise ConfigError("`hub run` needs a store in a file or on PostgreSQL, not in memory",
                          key="hub.store", hint='use store = "sqlite:///hub.db"')
    return FileLease(Path(f"{database}.{pipeline}.lease"))


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
        return AdvisoryLease(store, WRITER, key=_key(WRITER))
    database = store.engine.url.database or ""
    if not database or database == ":memory:":
        return _Solo()
    return FileLease(Path(f"{database}.writer.lease"))


def claim_slot(conn: Connection, pipeline: str, slot: datetime, *, node: str,
               now: datetime) -> bool:
    """Record that `node` runs `slot` of `pipeline`; False if that slot was run already.

    Call it holding the lease: the read and the write are then free of races between nodes.
    """
    last = conn.execute(select(pipelines.c.last_slot).where(
        pipelines.c.name == pipeline)).scalar()
    if last is not None and last >= slot:
        return False
    upsert(conn, pipelines, [{"name": pipeline, "last_slot": slot, "holder": node,
                              "held_since": now}], ("name",))
    return True


def hold(conn: Connection, pipeline: str, *, node: str, now: datetime) -> None:
    """Note who holds the pipeline (a run outside the schedule: takeover, `--once`)."""
    upsert(conn, pipelines, [{"name": pipeline, "holder": node, "held_since": now}], ("name",))


def let_go(conn: Connection, pipeline: str) -> None:
    """The pipeline is held by nobody (shown by `hub status`)."""
    conn.execute(update(pipelines).where(pipelines.c.name == pipeline).values(
        holder=None, held_since=None))


def mark_crashed(conn: Connection, *, by: str, now: datetime) -> list[dict[str, Any]]:
    """Mark every run still 'running' as crashed; call it holding the writer lease.

    Holding that lease proves no live process writes to the store, so a 'running' row is a
    run whose process died (kill -9, a crash, a full disk, a node that vanished). The row
    says where it stopped and when it was last seen alive (from the checkpoints the engine
    records on it); its committed pages and undrained outbox are simply resumed by the next
    run. Returns what `run_finished` plugins hear about each: nobody told them before.
    """
    dead = conn.execute(select(runs).where(runs.c.status == "running")
                        .order_by(runs.c.id)).all()
    reported = []
    for row in dead:
        seen: dict[str, Any] = dict(row.summary or {})
        stage = seen.get("stage") or "starting"
        alive_at = seen.get("alive_at") or iso(row.started_at)
        message = (f"the process ({row.node or 'a manual hub sync'}) stopped during "
                   f"{stage!r} and never finished; last sign of life {alive_at}"
                   + (f", {seen['records']} records into that stage" if seen.get("records")
                      else "")
                   + f". Found by {by}; the next run resumes from the last checkpoint.")
        summary = {"run_id": row.id, "status": "crashed", "exit_code": None, "plan": False,
                   "pipeline": row.pipeline, "trigger": row.trigger, "node": row.node,
                   "started_at": iso(row.started_at), "finished_at": alive_at,
                   "stopped_in": stage, "stopped_at": alive_at, "found_by": by,
                   "found_at": iso(now), "rejected_total": 0,
                   "errors": [{"connector": "-", "message": message}], "message": message}
        conn.execute(update(runs).where(runs.c.id == row.id).values(
            status="crashed", finished_at=_parsed(alive_at) or now, exit_code=None,
            summary=summary))
        reported.append(summary)
    return reported


def _parsed(moment: str | None) -> datetime | None:
    return datetime.fromisoformat(moment.replace("Z", "+00:00")) if moment else None


def end_crashed_run(conn: Connection, pipeline: str, *, error: str,
                    now: datetime) -> RunSummary | None:
    """A run that died of an unexpected error in this process: mark it 'error' (holding the
    lease, so the running row is this node's) and return its summary, for alerts."""
    row = conn.execute(select(runs).where(runs.c.pipeline == pipeline,
                                          runs.c.status == "running")
                       .order_by(runs.c.id.desc()).limit(1)).first()
    if row is None:
        return None
    summary = RunSummary.from_dict({
        **(row.summary or {}), "run_id": row.id, "pipeline": pipeline, "status": "error",
        "exit_code": 2, "plan": False, "node": row.node, "rejected_total": 0,
        "errors": [{"connector": "-", "message": error}]})
    conn.execute(update(runs).where(runs.c.id == row.id).values(
        status="error", finished_at=now, exit_code=2, summary=summary.as_dict()))
    return summary


def marked_running(conn: Connection, pipeline: str) -> bool:
    """Whether a run of `pipeline` is marked running (alive elsewhere, or dead: ask the lease)."""
    return conn.execute(select(runs.c.id).where(
        runs.c.pipeline == pipeline, runs.c.status == "running").limit(1)).first() is not None
