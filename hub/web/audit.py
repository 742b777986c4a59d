"""The console's audit log: who did what, when, from where (the `audit_log` table).

Sign-ins (and refused ones), exports, erasures, retries and duplicate reviews are each one
row, written in the same transaction as the action where there is one, so an action without
its audit row cannot happen. Subjects are ids, never addresses: the log outlives erasure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from hub.clock import iso
from hub.store.schema import audit_log


def record(conn: Connection, *, actor: str, action: str, at: datetime,
           subject: str | None = None, detail: dict[str, Any] | None = None,
           remote: str | None = None) -> None:
    """Append one entry."""
    conn.execute(insert(audit_log).values(at=at, actor=actor, action=action, subject=subject,
                                          detail=detail, remote=remote))


def recent(conn: Connection, *, limit: int = 100) -> list[dict[str, Any]]:
    """The newest entries first."""
    rows = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(limit))
    return [{"id": r.id, "at": iso(r.at), "actor": r.actor, "action": r.action,
             "subject": r.subject, "detail": r.detail or {}, "remote": r.remote} for r in rows]
