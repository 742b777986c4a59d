"""`hub dead-letters --retry`: refused writes go out again unless a newer change replaced
them; read rejections are only counted; every retried letter is settled."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select

from hub.ops.dead_letters import retry
from hub.store import Store
from hub.store.schema import dead_letters, outbox
from tests.conftest import FIXED_NOW


def _write(conn: Any, key: str, contact: int, status: str, connector: str = "crm") -> None:
    conn.execute(insert(outbox).values(
        key=key, connector=connector, contact_id=contact, operation="upsert", payload={"a": 1},
        payload_hash="h", status=status, attempts=3, last_error="400 bad phone",
        created_at=FIXED_NOW))


def _letter(conn: Any, stage: str, origin: str, connector: str = "crm") -> None:
    conn.execute(insert(dead_letters).values(connector=connector, stage=stage, origin=origin,
                                             reason="refused", created_at=FIXED_NOW))


def test_refused_writes_are_requeued_once_and_stale_ones_settled(store: Store) -> None:
    with store.begin() as conn:
        _write(conn, "crm:1:a", 1, "dead")
        _write(conn, "crm:2:a", 2, "dead")
        _write(conn, "crm:2:b", 2, "pending")  # a newer desired state for contact 2
        _write(conn, "shop:3:a", 3, "dead", connector="shop")
        _letter(conn, "push", "outbox crm:1:a")
        _letter(conn, "push", "outbox crm:2:a")
        _letter(conn, "veto", "outbox shop:3:a", connector="shop")
        _letter(conn, "read", "accounting.csv line 7", connector="accounting")
        only_crm = retry(conn, now=FIXED_NOW, connector="crm")
        assert (only_crm.requeued, only_crm.superseded, only_crm.read_rejections) == (1, 1, 0)
        rest = retry(conn, now=FIXED_NOW)
        assert (rest.requeued, rest.superseded, rest.read_rejections) == (1, 0, 1)
        again = retry(conn, now=FIXED_NOW)
        assert (again.requeued, again.superseded) == (0, 0)  # settled letters stay settled
        states = dict(conn.execute(select(outbox.c.key, outbox.c.status)).all())
        open_letters = conn.execute(select(dead_letters.c.stage).where(
            dead_letters.c.resolved_at.is_(None))).scalars().all()
        requeued = conn.execute(select(outbox).where(outbox.c.key == "crm:1:a")).one()
    assert states == {"crm:1:a": "pending", "crm:2:a": "dead", "crm:2:b": "pending",
                      "shop:3:a": "pending"}
    assert requeued.attempts == 0 and requeued.last_error is None
    assert open_letters == ["read"]
