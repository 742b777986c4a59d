"""The consent ledger: chained, verifiable, tamper-evident — on both backends."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from hub.consent import ledger
from hub.store import Store
from hub.store.schema import consent_ledger
from tests.conftest import FIXED_NOW


def entry(kind: str, at: str | None = "2026-01-01T10:00:00+00:00") -> dict[str, object]:
    return {"contact_id": 1, "email": "anna@example.de", "channel": "email",
            "purpose": "newsletter", "kind": kind, "occurred_at": at, "connector": "newsletter",
            "record_id": "abc", "evidence": {"ip_opt": "198.51.100.1"}, "run_id": 1,
            "recorded_at": FIXED_NOW}


def test_entries_chain_and_verify(store: Store) -> None:
    with store.begin() as conn:
        ledger.append(conn, [entry("single_opt_in"), entry("doi_confirmed")])
        ledger.append(conn, [entry("opt_out", "2026-02-01T00:00:00+00:00")])
        result = ledger.verify(conn)
        assert result.ok and result.checked == 3
        trail = ledger.trail(conn, 1)
        assert [e["kind"] for e in trail] == ["single_opt_in", "doi_confirmed", "opt_out"]
        assert trail[1]["evidence"] == {"ip_opt": "198.51.100.1"}


def test_an_edited_entry_is_detected(store: Store) -> None:
    with store.begin() as conn:
        ledger.append(conn, [entry("single_opt_in"), entry("opt_out"), entry("signup")])
        second = ledger.trail(conn, 1)[1]["id"]
        conn.execute(update(consent_ledger).where(consent_ledger.c.id == second)
                     .values(kind="doi_confirmed"))
        result = ledger.verify(conn)
        assert not result.ok and result.broken_at == second and result.checked == 1


def test_a_removed_entry_is_detected(sqlite_store: Store) -> None:
    from sqlalchemy import delete
    with sqlite_store.begin() as conn:
        ledger.append(conn, [entry("single_opt_in"), entry("opt_out"), entry("signup")])
        ids = [e["id"] for e in ledger.trail(conn, 1)]
        conn.execute(delete(consent_ledger).where(consent_ledger.c.id == ids[1]))
        result = ledger.verify(conn)
        assert not result.ok and result.broken_at == ids[2]
        assert "changed, removed or reordered" in (result.reason or "")


def test_observations_are_recorded_once_per_event(tmp_path: Path) -> None:
    from hub.pipeline.engine import SyncOptions, sync
    from tests.pipeline.test_engine import runtime_for

    runtime = runtime_for(tmp_path, f"sqlite:///{tmp_path / 'hub.db'}")
    first = sync(runtime, SyncOptions()).as_dict()
    assert first["contacts"]["consent_events"] > 0
    again = sync(runtime, SyncOptions(full=True)).as_dict()
    assert again["contacts"]["consent_events"] == 0  # nothing new happened
    with runtime.store.begin() as conn:
        assert ledger.verify(conn).ok
    runtime.store.close()


def test_an_erased_entry_keeps_the_chain_verifiable_but_a_forged_address_does_not(
        store: Store) -> None:
    with store.begin() as conn:
        ledger.append(conn, [entry("single_opt_in"), entry("doi_confirmed")])
        other = {**entry("opt_out"), "contact_id": 2, "email": "bert@example.de"}
        ledger.append(conn, [other])
        assert ledger.scrub(conn, contact_ids=[1], email=None, now=FIXED_NOW) == 2
        assert ledger.verify(conn).ok
        erased = ledger.trail(conn, 1)
        assert all(e["evidence"] == {} and e["record_id"] is None for e in erased)
        assert [e["kind"] for e in erased] == ["single_opt_in", "doi_confirmed"]
        third = ledger.trail(conn, 2)[0]["id"]
        conn.execute(update(consent_ledger).where(consent_ledger.c.id == third)
                     .values(email="carla@example.de"))
        result = ledger.verify(conn)
        assert not result.ok and result.broken_at == third and "address" in str(result.reason)


def test_migration_0003_reseals_a_ledger_written_before_it(store_url: str) -> None:
    from sqlalchemy import insert

    from tests.conftest import store_at_revision

    with store_at_revision(store_url, "0002") as conn:
        for n in range(3):  # hashed by the old rule: anything but the new one
            conn.execute(insert(consent_ledger).values(
                id=n + 1, contact_id=1, email="anna@example.de", channel="email",
                purpose="newsletter", kind="single_opt_in", occurred_at=None,
                recorded_at=FIXED_NOW, connector="csv", record_id=str(n), evidence=None,
                run_id=1, prev_hash=f"old{n - 1}", entry_hash=f"old{n}"))
    store = Store.open(store_url)
    try:
        with store.begin() as conn:
            result = ledger.verify(conn)
            assert result.ok and result.checked == 3
    finally:
        store.close()
