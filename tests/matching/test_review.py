"""Review actions on both store backends: accept merges, reject is remembered, split undoes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, insert, select, update

from hub.matching import review
from hub.pipeline.golden import STALE
from hub.pipeline.identity import resolve
from hub.store import Store
from hub.store.schema import contacts, match_pairs, merges, source_records, sync_state
from tests.conftest import FIXED_NOW


def add(conn: Connection, connector: str, ext: str, fields: dict[str, Any],
        updated: int = 0) -> int:
    rid: int = conn.execute(insert(source_records).values(
        connector=connector, external_id=ext, email=fields.get("email"), fields=fields,
        content_hash=ext, seen_at=FIXED_NOW.replace(minute=updated), deleted=False,
        dirty=True).returning(source_records.c.id)).scalar_one()
    return rid


def contact_of(conn: Connection, rid: int) -> int:
    cid: int = conn.execute(select(source_records.c.contact_id).where(
        source_records.c.id == rid)).scalar_one()
    return cid


def pair(conn: Connection, a: int, b: int, probability: float = 0.9) -> int:
    pid: int = conn.execute(insert(match_pairs).values(
        left_record=min(a, b), right_record=max(a, b), left_contact=contact_of(conn, min(a, b)),
        right_contact=contact_of(conn, max(a, b)), probability=probability, status="open",
        evidence={"first_name": {"left": "Jürgen", "right": "Juergen", "verdict": "folded",
                                 "weight": 6.5}},
        created_at=FIXED_NOW).returning(match_pairs.c.id)).scalar_one()
    return pid


def two_people(store: Store) -> tuple[int, int, int]:
    with store.begin() as conn:
        a = add(conn, "crm", "1", {"email": "j.mueller@example.de", "first_name": "Jürgen",
                                   "birthday": "1970-01-02"}, updated=1)
        b = add(conn, "shop", "9", {"email": "juergen@example.com", "first_name": "Juergen",
                                    "last_name": "Müller"}, updated=2)
        resolve(conn, max_records=25, run_id=None, now=FIXED_NOW)
        conn.execute(update(source_records).values(dirty=False))
        return a, b, pair(conn, a, b)


def test_accept_merges_and_keeps_each_field_with_its_source(store: Store) -> None:
    a, b, pid = two_people(store)
    [shown] = review.candidates(store)
    assert (shown.id, shown.status, shown.probability) == (pid, "open", 0.9)
    assert shown.evidence == [review.Evidence("first_name", "Jürgen", "Juergen", "folded", 6.5)]
    survivor = review.accept(store, pid, actor="anna")
    with store.begin() as conn:
        assert contact_of(conn, a) == contact_of(conn, b) == survivor
        row = conn.execute(select(contacts).where(contacts.c.id == survivor)).one()
        assert row.content_hash == STALE  # the next sync stamps and pushes it
        assert row.fields["birthday"] == "1970-01-02" and row.fields["last_name"] == "Müller"
        assert row.provenance["birthday"] == a and row.provenance["last_name"] == b
        audit = conn.execute(select(merges.c.reason)).scalar_one()
    assert "anna" in audit
    assert review.candidates(store) == []
    assert [c.status for c in review.candidates(store, status="accepted")] == ["accepted"]


def test_reject_is_remembered_and_blocks_the_pair(store: Store) -> None:
    a, b, pid = two_people(store)
    review.reject(store, pid, actor="anna")
    with store.begin() as conn:
        left, right = contact_of(conn, a), contact_of(conn, b)
        assert review.blocked(conn, [left, right]) == {frozenset((left, right))}
    assert [c.id for c in review.candidates(store, status="rejected")] == [pid]


def test_split_restores_both_sides_and_moves_the_system_link(store: Store) -> None:
    a, b, pid = two_people(store)
    survivor = review.accept(store, pid, actor="anna")
    with store.begin() as conn:
        conn.execute(insert(sync_state).values(connector="shop", contact_id=survivor,
                                               external_id="9", pushed_hash="x"))
    new = review.split(store, survivor, ["shop:9"], actor="ben")
    with store.begin() as conn:
        assert contact_of(conn, a) == survivor and contact_of(conn, b) == new
        old_fields, new_fields = (conn.execute(select(contacts.c.fields).where(
            contacts.c.id == cid)).scalar_one() for cid in (survivor, new))
        assert old_fields["first_name"] == "Jürgen" and "last_name" not in old_fields
        assert new_fields["last_name"] == "Müller" and "birthday" not in new_fields
        assert conn.execute(select(sync_state.c.contact_id)).scalar_one() == new
        assert review.blocked(conn, [survivor, new]) == {frozenset((survivor, new))}
        assert conn.execute(select(merges.c.kind).order_by(merges.c.id.desc())).first() == \
            ("split",)


def test_errors_name_ids_only(store: Store) -> None:
    a, _b, _pid = two_people(store)
    with pytest.raises(review.ReviewError, match="no scored pair with id 999"):
        review.accept(store, 999, actor="anna")
    with store.begin() as conn:
        cid = contact_of(conn, a)
    with pytest.raises(review.ReviewError) as caught:
        review.split(store, cid, ["crm:1"], actor="anna")
    assert "every record" in str(caught.value)
    with pytest.raises(review.ReviewError) as caught:
        review.split(store, cid, ["crm:nope"], actor="anna")
    assert "example" not in str(caught.value)
