"""Funnel numbers from the store: stages, bands, moves, conversions, new MQLs per run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from hub.lifecycle import funnel
from hub.store import Store
from hub.store.schema import contacts, leads, runs, stage_changes

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_counts_moves_and_conversions(store: Store) -> None:
    stages = {1: ("mql", "warm", None), 2: ("sql", "hot", None),
              3: ("customer", "cold", {"dormant": True}), 4: ("lead", "cold", None)}
    with store.begin() as conn:
        for cid, (stage, band, value) in stages.items():
            conn.execute(insert(contacts).values(id=cid, email=f"p{cid}@x.de", fields={},
                                                 provenance={}, status="active",
                                                 content_hash="x", created_at=NOW,
                                                 updated_at=NOW))
            tags = [f"hub:{stage}"] + (["hub:dormant"] if value else [])
            conn.execute(insert(leads).values(contact_id=cid, stage=stage, stage_source="x",
                                              score=0, band=band, tags=tags, value=value,
                                              signals_seen={}, disqualified=False,
                                              updated_at=NOW, dirty=False))
        moves = [(1, None, "lead", 10), (1, "lead", "mql", 5), (2, None, "mql", 5),
                 (2, "mql", "sql", 2), (4, None, "lead", 1), (3, None, "customer", 40)]
        for cid, before, after, days in moves:
            conn.execute(insert(stage_changes).values(
                contact_id=cid, at=NOW - timedelta(days=days), run_id=days,
                from_stage=before, to_stage=after, source="score", reason="r"))
        conn.execute(insert(runs).values(id=5, status="ok", started_at=NOW - timedelta(days=5),
                                         summary={"lifecycle": {"new_mqls": 2, "handed_over": [
                                             {"contact_id": 1, "owner": "7"},
                                             {"contact_id": 2, "owner": None}]}}))
        data = funnel.report(conn, since=NOW - timedelta(days=30), until=NOW)
    assert data["stages"]["mql"] == 1 and data["stages"]["customer"] == 1
    assert data["bands"] == {"cold": 2, "hot": 1, "warm": 1}
    assert data["dormant_customers"] == 1
    assert {"from": "mql", "to": "sql", "count": 1} in data["moves"]
    lead_to_mql = next(c for c in data["conversions"] if c["from"] == "lead")
    assert (lead_to_mql["entered"], lead_to_mql["converted"]) == (2, 1)
    mql_on = next(c for c in data["conversions"] if c["from"] == "mql")
    assert (mql_on["entered"], mql_on["converted"], mql_on["rate"]) == (2, 1, 0.5)
    assert data["runs"] == [{"run_id": 5, "started_at": "2026-05-27T00:00:00Z",
                             "new_mqls": 2, "handed_over": 1}]
    # customer 3 entered 40 days ago: outside a 30-day window
    assert all(m["to"] != "customer" for m in data["moves"])
