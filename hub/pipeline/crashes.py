"""Crash records: runs whose process died are found and marked by the next run.

A run notes its stage and a sign of life on its row as it goes (`progress.Checkpoints`); a
process that dies (kill -9, a crash, a full disk, a vanished node) leaves that row
'running'. The next run, holding the store's writer lease, knows no live process writes, so
it marks every such row `crashed` with where and when it stopped, and tells the plugins.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from hub.clock import iso
from hub.store.schema import runs


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
            status="crashed", finished_at=_parsed(alive_at), exit_code=None,
            summary=summary))
        reported.append(summary)
    return reported


def _parsed(moment: str) -> datetime:
    return datetime.fromisoformat(moment.replace("Z", "+00:00"))
