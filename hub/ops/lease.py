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

from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, select, update

from hub.errors import EXIT_CRASH, ConfigError
from hub.pipeline.crashes import mark_crashed
from hub.pipeline.summary import RunSummary
from hub.store import Store, upsert
from hub.store.locks import AdvisoryLease, FileLease, Lease, lock_key, writer_lease
from hub.store.schema import pipelines, runs

__all__ = ["AdvisoryLease", "FileLease", "Lease", "claim_slot", "end_crashed_run", "hold",
           "let_go", "lock_key", "mark_crashed", "marked_running", "open_lease",
           "writer_lease"]


def open_lease(store: Store, pipeline: str) -> Lease:
    """The right lease for the store's database."""
    if store.dialect == "postgresql":
        return AdvisoryLease(store, lock_key(f"hub:pipeline:{pipeline}"))
    database = store.engine.url.database or ""
    if not database or database == ":memory:":
        raise ConfigError("`hub run` needs a store in a file or on PostgreSQL, not in memory",
                          key="hub.store", hint='use store = "sqlite:///hub.db"')
    return FileLease(Path(f"{database}.{pipeline}.lease"))


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
        "exit_code": EXIT_CRASH, "plan": False, "node": row.node, "rejected_total": 0,
        "errors": [{"connector": "-", "message": error}]})
    conn.execute(update(runs).where(runs.c.id == row.id).values(
        status="error", finished_at=now, exit_code=EXIT_CRASH, summary=summary.as_dict()))
    return summary


def marked_running(conn: Connection, pipeline: str) -> bool:
    """Whether a run of `pipeline` is marked running (alive elsewhere, or dead: ask the lease)."""
    return conn.execute(select(runs.c.id).where(
        runs.c.pipeline == pipeline, runs.c.status == "running").limit(1)).first() is not None
