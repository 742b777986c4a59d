"""Consent states kept for counting, on both stores: every path that changes a contact's
consent inputs leaves the count equal to deciding everyone afresh."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from hub.consent import erasure, ledger, states
from hub.pipeline import golden
from hub.pipeline.identity import resolve
from hub.pipeline.merge import Survivorship
from hub.store import Store
from hub.store.schema import (
    consent_pending,
    consent_states,
    contacts,
    match_pairs,
    source_records,
    sync_state,
)
from tests.conftest import FIXED_NOW, store_at_revision

DOI = [{"kind": "doi_confirmed", "at": "2026-10-01T08:00:00Z", "channel": "email",
        "purpose": "newsletter"}]
OPT_OUT = [{"kind": "opt_out", "at": "2026-10-20T08:00:00Z", "channel": "email",
            "purpose": "newsletter"}]
TICKED = [{"kind": "single_opt_in", "at": "2026-10-02T08:00:00Z", "channel": "email",
           "purpose": "newsletter"}]


def add(conn: Connection, connector: str, ext: str, email: str,
        consent: list[dict[str, Any]] | None) -> int:
    rid: int = conn.execute(insert(source_records).values(
        connector=connector, external_id=ext, email=email,
        fields={"email": email, "first_name": ext}, consent=consent, content_hash=ext,
        seen_at=FIXED_NOW, deleted=False, dirty=True).returning(source_records.c.id)
    ).scalar_one()
    return rid


def sync(conn: Connection) -> None:
    """What a run does to the store between reading and its end, for these records."""
    touched = resolve(conn, max_records=25, run_id=None, now=FIXED_NOW).touched
    golden.rebuild(conn, touched, Survivorship({}), run_id=1, now=FIXED_NOW, bulk=False)
    states.refresh(conn)


def pending(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(consent_pending)).scalar_one())


def contact_of(conn: Connection, rid: int) -> int:
    cid: int = conn.execute(select(source_records.c.contact_id).where(
        source_records.c.id == rid)).scalar_one()
    return cid


def people(store: Store) -> dict[str, int]:
    with store.begin() as conn:
        found = {"anna": add(conn, "newsletter", "anna", "anna@example.de", DOI),
                 "bert": add(conn, "newsletter", "bert", "bert@example.de", TICKED),
                 "carla": add(conn, "crm", "carla", "carla@example.de", None),
                 "dora": add(conn, "newsletter", "dora", "dora@example.de", DOI + OPT_OUT)}
        sync(conn)
    return found


def test_a_run_stores_each_state_and_leaves_nothing_pending(store: Store) -> None:
    ids = people(store)
    with store.begin() as conn:
        assert pending(conn) == 0
        stored = {row.contact_id: row.state for row in conn.execute(select(consent_states))}
        assert stored == {contact_of(conn, ids["anna"]): "confirmed",
                          contact_of(conn, ids["bert"]): "unconfirmed",
                          contact_of(conn, ids["dora"]): "unsubscribed"}  # carla: none
        assert states.counts(conn) == states.recount(conn) == {
            "confirmed": 1, "unconfirmed": 1, "pending": 0, "unsubscribed": 1,
            "suppressed": 0, "none": 1}


def test_a_changed_record_is_counted_right_before_and_after_the_refresh(store: Store) -> None:
    ids = people(store)
    with store.begin() as conn:
        conn.execute(update(source_records).where(source_records.c.id == ids["anna"])
                     .values(consent=DOI + OPT_OUT, dirty=True, content_hash="changed"))
        golden.rebuild(conn, {contact_of(conn, ids["anna"])}, Survivorship({}), run_id=2,
                       now=FIXED_NOW, bulk=False)
        # a run that died here: the count decides the pending contact itself
        assert pending(conn) == 1
        assert states.counts(conn) == states.recount(conn)
        assert states.counts(conn)["unsubscribed"] == 2
        assert states.refresh(conn) == 1
        assert pending(conn) == 0 and states.counts(conn) == states.recount(conn)


def test_hubs_own_decision_and_a_moved_sync_state_mark_the_contact(store: Store) -> None:
    ids = people(store)
    with store.begin() as conn:
        bert = contact_of(conn, ids["bert"])
        ledger.append(conn, ledger.decisions(
            [(bert, "bert@example.de", "newsletter", "pending", "asked for a DOI")],
            run_id=2, now=FIXED_NOW))
        assert pending(conn) == 1
        conn.execute(insert(sync_state).values(connector="newsletter", contact_id=bert,
                                               external_id="bert", pushed_hash="x"))
        assert states.counts(conn) == states.recount(conn)
        states.refresh(conn)
        assert states.counts(conn) == states.recount(conn)


def test_accepting_and_splitting_a_duplicate_keep_the_count_true(store: Store) -> None:
    from hub.matching import review

    ids = people(store)
    with store.begin() as conn:
        anna, carla = contact_of(conn, ids["anna"]), contact_of(conn, ids["carla"])
        pair = conn.execute(insert(match_pairs).values(
            left_record=ids["anna"], right_record=ids["carla"], left_contact=anna,
            right_contact=carla, probability=0.9, status="open", evidence={},
            created_at=FIXED_NOW).returning(match_pairs.c.id)).scalar_one()
    survivor = review.accept(store, pair, actor="anna")
    with store.begin() as conn:
        assert pending(conn) >= 1
        assert states.counts(conn) == states.recount(conn)
        assert sum(states.counts(conn).values()) == 3  # the merged contact left the count
    review.split(store, survivor, ["crm:carla"], actor="ben")
    with store.begin() as conn:
        assert states.counts(conn) == states.recount(conn)
        states.refresh(conn)
        assert pending(conn) == 0 and states.counts(conn) == states.recount(conn)
        assert sum(states.counts(conn).values()) == 4


def test_erasure_leaves_no_state_behind(store: Store) -> None:
    ids = people(store)
    with store.begin() as conn:
        anna = contact_of(conn, ids["anna"])
        erasure.forget(conn, "anna@example.de", deletable={}, now=FIXED_NOW)
        assert states.counts(conn) == states.recount(conn)
        assert states.counts(conn)["confirmed"] == 0
        states.refresh(conn)
        left = conn.execute(select(consent_states.c.contact_id)).scalars()
        assert anna not in set(left)


def test_contacts_of_an_older_store_are_decided_after_the_upgrade(store_url: str) -> None:
    """Migration 0012: every existing contact starts pending, so no count is ever wrong."""
    with store_at_revision(store_url, "0011") as conn:
        rid = add(conn, "newsletter", "anna", "anna@example.de", DOI)
        touched = resolve(conn, max_records=25, run_id=None, now=FIXED_NOW).touched
        conn.execute(update(contacts).values(fields={"email": "anna@example.de"},
                                             email="anna@example.de"))
        assert touched
    upgraded = Store.open(store_url)
    try:
        with upgraded.begin() as conn:
            assert pending(conn) == 1
            assert states.counts(conn)["confirmed"] == 1
            states.refresh(conn)
            assert conn.execute(select(consent_states.c.contact_id)).scalar_one() == \
                contact_of(conn, rid)
    finally:
        upgraded.close()
