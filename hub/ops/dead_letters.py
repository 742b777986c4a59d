"""`hub dead-letters --retry`: give refused writes another chance once ops fixed the cause.

A write a system refused (or a plugin vetoed) stays in the outbox as a dead row and never goes
out again by itself: the same desired state has the same outbox key, so the next runs do not
queue it twice. After a fix (a field mapping, a plugin's rule, the system's own validation),
`--retry` puts those rows back to pending for the next run, unless a newer desired state for
the same contact is already waiting — then the stale one is simply settled. Records that could
not be *read* come back by themselves when they change in their system (or with
`hub sync --full --connector NAME`), so they are only counted here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select, update

from hub.clock import iso
from hub.store.schema import dead_letters, outbox


def open_counts(conn: Connection) -> dict[str, int]:
    """Unresolved dead letters per connector (`hub status`, pipelines, `/metrics`)."""
    return {name: n for name, n in conn.execute(
        select(dead_letters.c.connector, func.count()).where(dead_letters.c.resolved_at.is_(None))
        .group_by(dead_letters.c.connector))}


def open_letters(conn: Connection, *, limit: int = 50,
                 connector: str | None = None) -> list[dict[str, Any]]:
    """Unresolved dead letters (all, or one connector's), newest first (`hub dead-letters`).

    The connector filter is in the query, not applied to the newest `limit` afterwards: a
    connector whose letters are older than everyone else's newest must still list them.
    """
    query = select(dead_letters).where(dead_letters.c.resolved_at.is_(None))
    if connector is not None:
        query = query.where(dead_letters.c.connector == connector)
    rows = conn.execute(query.order_by(dead_letters.c.id.desc()).limit(limit))
    return [{"id": r.id, "run_id": r.run_id, "connector": r.connector, "stage": r.stage,
             "record_id": r.record_id, "origin": r.origin, "reason": r.reason,
             "at": iso(r.created_at)} for r in rows]


@dataclass
class Retried:
    """What `--retry` did."""

    requeued: int = 0
    superseded: int = 0
    read_rejections: int = 0


def retry(conn: Connection, *, now: datetime, connector: str | None = None) -> Retried:
    """Requeue refused writes (all, or one connector's) and settle their dead letters."""
    result = Retried()
    query = select(dead_letters).where(dead_letters.c.resolved_at.is_(None))
    if connector is not None:
        query = query.where(dead_letters.c.connector == connector)
    for letter in conn.execute(query.order_by(dead_letters.c.id)).all():
        origin = letter.origin or ""
        if letter.stage == "read" or not origin.startswith("outbox "):
            result.read_rejections += 1
            continue
        row = conn.execute(select(outbox).where(
            outbox.c.key == origin.removeprefix("outbox "))).first()
        if row is not None and row.status == "dead":
            newer = conn.execute(select(outbox.c.id).where(
                outbox.c.connector == row.connector, outbox.c.contact_id == row.contact_id,
                outbox.c.status == "pending", outbox.c.id > row.id).limit(1)).first()
            if newer is None:
                conn.execute(update(outbox).where(outbox.c.id == row.id).values(
                    status="pending", attempts=0, last_error=None))
                result.requeued += 1
            else:
                result.superseded += 1
        else:
            result.superseded += 1  # already written since, or replaced
        conn.execute(update(dead_letters).where(dead_letters.c.id == letter.id).values(
            resolved_at=now))
    return result
