"""Funnel numbers from the store: stages, bands, moves, conversions, new MQLs per run."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert

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


def _replayed(moves: list[tuple[int, str, datetime]], days: int,
              now: datetime) -> dict[str, list[float]]:
    """The console's stage history the slow way: every move replayed, everyone recounted."""
    from hub.lifecycle.stage import Stage

    start = (now - timedelta(days=days - 1)).replace(hour=0, minute=0, second=0, microsecond=0)
    series: dict[str, list[float]] = {s.value: [] for s in Stage}
    for n in range(days):
        end = start + timedelta(days=n + 1)
        current: dict[int, str] = {}
        for cid, stage, at in moves:  # in id order, as stored
            if at < end:
                current[cid] = stage
        for s in series:
            series[s].append(float(sum(1 for v in current.values() if v == s)))
    return {s: v for s, v in series.items() if any(v)}


_move = st.tuples(st.integers(1, 6), st.sampled_from(["lead", "mql", "sql", "customer"]),
                  st.integers(0, 40 * 24))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=st.lists(_move, max_size=30), days=st.integers(2, 31))
def test_the_stage_history_equals_replaying_every_move(sqlite_store: Store,
                                                       moves: list[tuple[int, str, int]],
                                                       days: int) -> None:
    """Counting where everyone stood at the start and replaying only the period's moves
    gives what replaying every move and recounting each day gives."""
    from hub.web.ops_pages import stage_history

    stored = [(cid, stage, NOW - timedelta(hours=hours)) for cid, stage, hours in moves]
    with sqlite_store.begin() as conn:
        conn.execute(delete(stage_changes))
        for cid, stage, at in stored:
            conn.execute(insert(stage_changes).values(
                contact_id=cid, at=at, run_id=1, from_stage=None, to_stage=stage,
                source="score", reason="r"))
        labels, series = stage_history(conn, days=days, now=NOW)
    assert len(labels) == days
    assert series == _replayed(stored, days, NOW)


def test_the_stage_history_reads_the_same_on_both_stores(store: Store) -> None:
    from hub.web.ops_pages import stage_history

    moves = [(1, "lead", 40), (1, "mql", 3), (2, "mql", 35), (2, "sql", 0), (3, "lead", 2)]
    with store.begin() as conn:
        for cid, stage, days in moves:
            conn.execute(insert(stage_changes).values(
                contact_id=cid, at=NOW - timedelta(days=days, hours=1), run_id=1,
                from_stage=None, to_stage=stage, source="score", reason="r"))
        _, series = stage_history(conn, days=5, now=NOW)
    # at the start contact 1 is a lead and 2 an MQL; on the first day 1 becomes an MQL, on
    # the second 3 arrives as a lead, on the fourth 2 becomes an SQL
    assert series == {"lead": [0.0, 1.0, 1.0, 1.0, 1.0], "mql": [2.0, 2.0, 2.0, 1.0, 1.0],
                      "sql": [0.0, 0.0, 0.0, 1.0, 1.0]}
