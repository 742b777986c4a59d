"""Linking inside a sync, on both backends: incremental, thresholds, decisions kept."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Connection, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from hub.matching import review
from hub.matching.linking import Thresholds, link
from hub.pipeline.identity import resolve
from hub.pipeline.normalize import Normalizer
from hub.store import Store
from hub.store.schema import (
    contacts,
    identity_keys,
    match_keys,
    match_pairs,
    outbox,
    source_records,
)
from tests.conftest import FIXED_NOW

NORMALIZER = Normalizer()


def add(conn: Connection, connector: str, ext: str, raw: dict[str, Any]) -> int:
    normal = NORMALIZER.record(raw)
    rid: int = conn.execute(insert(source_records).values(
        connector=connector, external_id=ext, email=normal.email, fields=normal.values(),
        content_hash=ext, seen_at=FIXED_NOW, deleted=False, dirty=True)
        .returning(source_records.c.id)).scalar_one()
    for key in normal.merge_keys:
        conn.execute(insert(identity_keys).values(key=key, source_record_id=rid))
    return rid


def sync(conn: Connection, **thresholds: float) -> Any:
    resolve(conn, max_records=25, run_id=None, now=FIXED_NOW)
    result = link(conn, thresholds=Thresholds(**thresholds), run_id=None, now=FIXED_NOW)
    conn.execute(update(source_records).values(dirty=False))
    return result


def contact_of(conn: Connection, rid: int) -> int:
    cid: int = conn.execute(select(source_records.c.contact_id).where(
        source_records.c.id == rid)).scalar_one()
    return cid


MUELLER = {"first_name": "Jürgen", "last_name": "Müller", "phone": "+49 89 1234567",
           "street": "Königstraße 20", "zip": "80331", "city": "München",
           "email": "juergen.mueller@firma.de"}


def test_a_late_record_is_scored_against_the_base_and_merged(store: Store) -> None:
    with store.begin() as conn:
        a = add(conn, "crm", "1", MUELLER)
        add(conn, "crm", "2", {"first_name": "Ben", "last_name": "Wolf", "zip": "20095"})
        first = sync(conn)
        assert first.merged == 0
        b = add(conn, "shop", "9", {**MUELLER, "first_name": "Juergen", "last_name": "Mueller",
                                    "phone": "089/1234567", "street": "Koenigstr. 20",
                                    "email": "J.Mueller+shop@googlemail.com"})
        second = sync(conn)
        assert second.merged == 1 and contact_of(conn, a) == contact_of(conn, b)
        status = conn.execute(select(match_pairs.c.status)).scalar_one()
        assert status == "merged"
        # the next run keys and scores only what changed: nothing
        assert sync(conn).merged == 0
        keyed = conn.execute(select(func.count(func.distinct(match_keys.c.source_record_id))))
        assert keyed.scalar_one() == 3


def test_below_auto_merge_is_suggested_and_a_rejection_is_final(store: Store) -> None:
    with store.begin() as conn:
        a = add(conn, "crm", "1", MUELLER)
        b = add(conn, "shop", "9", {**MUELLER, "first_name": "Juergen",
                                    "email": "private@example.com"})
        result = sync(conn, auto_merge=1.0, review=0.5)
        assert result.suggested == 1 and contact_of(conn, a) != contact_of(conn, b)
        pid = conn.execute(select(match_pairs.c.id)).scalar_one()
    review.reject(store, pid, actor="test")
    with store.begin() as conn:
        conn.execute(update(source_records).values(dirty=True))  # both change again
        again = sync(conn)  # default thresholds would merge them now
        assert again.merged == 0 and contact_of(conn, a) != contact_of(conn, b)
        assert conn.execute(select(match_pairs.c.status)).scalar_one() == "rejected"


def test_a_family_mailbox_joins_nobody(store: Store) -> None:
    with store.begin() as conn:
        petra = add(conn, "crm", "1", {"first_name": "Petra", "last_name": "Schmitt",
                                       "email": "familie.schmitt@web.de",
                                       "street": "Gartenweg 3", "zip": "50667"})
        sync(conn)
        klaus = add(conn, "shop", "2", {"first_name": "Klaus", "last_name": "Schmitt",
                                        "email": "Familie.Schmitt@web.de",
                                        "street": "Gartenweg 3", "zip": "50667"})
        sync(conn)
        assert contact_of(conn, petra) != contact_of(conn, klaus)
        again = add(conn, "newsletter", "3", {"first_name": "Petra",
                                               "email": "familie.schmitt@web.de"})
        sync(conn)
        # the address is shared, so it joins nobody (not even through the contacts holding
        # it already); the matcher may only suggest
        assert contact_of(conn, petra) != contact_of(conn, klaus)
        assert contact_of(conn, again) != contact_of(conn, klaus)


def test_a_record_back_after_a_lost_acknowledgement_joins_its_writer(store: Store) -> None:
    with store.begin() as conn:
        crm = add(conn, "crm", "1", {"first_name": "Anna", "email": "noreply@example.de"})
        sync(conn)
        writer = contact_of(conn, crm)
        conn.execute(insert(outbox).values(
            key="mail:1:x", connector="mail", contact_id=writer, operation="upsert",
            payload={"email": "noreply@example.de", "first_name": "Anna"}, payload_hash="x",
            external_id=None, status="pending", attempts=1, created_at=FIXED_NOW))
        back = add(conn, "mail", "m-77", {"first_name": "Anna", "email": "noreply@example.de"})
        stranger = add(conn, "mail", "m-78", {"first_name": "Otto",
                                              "email": "noreply@example.de"})
        sync(conn)
        assert contact_of(conn, back) == writer
        assert contact_of(conn, stranger) != writer
        active = conn.execute(select(func.count()).select_from(contacts).where(
            contacts.c.status == "active")).scalar_one()
        assert active == 2


def test_a_store_keyed_as_text_is_keyed_again_after_the_upgrade(store_url: str) -> None:
    """Migration 0011: text keys go, and the next linking keys every record as integers."""
    from hub.store.schema import settings
    from tests.conftest import store_at_revision

    with store_at_revision(store_url, "0010") as conn:
        rid = add(conn, "crm", "1", MUELLER)
        conn.execute(text("INSERT INTO match_keys (key, source_record_id) "
                          "VALUES ('ln:MILLER', :rid)"), {"rid": rid})  # the text of 0010
        conn.execute(insert(settings).values(name="matching.keyed", value="1"))
        resolve(conn, max_records=25, run_id=None, now=FIXED_NOW)
        conn.execute(update(source_records).values(dirty=False))  # keyed by the old hub
    upgraded = Store.open(store_url)
    try:
        with upgraded.begin() as conn:
            assert conn.execute(select(func.count()).select_from(match_keys)).scalar_one() == 0
            add(conn, "shop", "9", {**MUELLER, "email": "private@example.com"})
            sync(conn, auto_merge=1.0, review=0.5)
            holders = conn.execute(select(match_keys.c.source_record_id).distinct()).scalars()
            assert sorted(holders) == [rid, rid + 1]  # the old record too, not only the new
            assert conn.execute(select(func.count()).select_from(match_pairs)).scalar_one() == 1
    finally:
        upgraded.close()


def _indexes(conn: Connection) -> set[str]:
    if conn.dialect.name == "sqlite":
        return {row[1] for row in conn.execute(text("PRAGMA index_list(match_keys)"))}
    return set(conn.execute(text(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'match_keys'")).scalars())


def _keyed_state(conn: Connection) -> tuple[list[Any], list[Any]]:
    keys = sorted(tuple(row) for row in conn.execute(select(match_keys)))
    pairs = sorted(tuple(row) for row in conn.execute(select(
        match_pairs.c.left_record, match_pairs.c.right_record, match_pairs.c.probability)))
    return keys, pairs


NEIGHBOURS = [
    MUELLER,
    {**MUELLER, "first_name": "Juergen", "last_name": "Mueller", "phone": "089/1234567",
     "email": "J.Mueller+shop@googlemail.com"},
    {**MUELLER, "first_name": "Anna", "email": "anna.mueller@firma.de"},
    {"first_name": "Ben", "last_name": "Wolf", "zip": "80331", "city": "München",
     "email": "ben@wolf.de"},
    {"first_name": "Ben", "last_name": "Wolff", "zip": "80331", "phone": "+49 89 7654321"},
]


def test_a_first_keying_builds_the_index_once_with_the_same_keys_and_pairs(
        store: Store, monkeypatch: Any) -> None:
    """An empty match_keys filled in bulk (`EmptyTableLoad`) holds what row by row gives."""
    from hub.matching import linking
    from hub.store.schema import settings

    with store.begin() as conn:
        before = _indexes(conn)
        for i, person in enumerate(NEIGHBOURS):
            add(conn, "crm", str(i), person)
        monkeypatch.setattr(linking, "LOAD_FROM", 0)
        sync(conn, auto_merge=1.01, review=0.01)  # nothing merges: every pair is kept
        bulk = _keyed_state(conn)
        assert _indexes(conn) == before  # the key and the index are back, under their names
        # and enforced: the same key twice for a record is refused, as before
        key, rid = bulk[0][0]
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(insert(match_keys).values(key=key, source_record_id=rid))

        # the same records keyed again row by row
        conn.execute(match_pairs.delete())
        conn.execute(match_keys.delete())
        conn.execute(settings.delete().where(settings.c.name == linking.KEYED))
        conn.execute(update(source_records).values(dirty=True))
        monkeypatch.setattr(linking, "LOAD_FROM", 10**9)
        sync(conn, auto_merge=1.01, review=0.01)
        assert _keyed_state(conn) == bulk
        assert len(bulk[0]) > 20 and len(bulk[1]) >= 3


def test_a_first_keying_that_dies_leaves_the_table_and_its_indexes(
        store: Store, monkeypatch: Any) -> None:
    from hub.matching import linking
    from hub.store import bulk

    with store.begin() as conn:
        before = _indexes(conn)
    monkeypatch.setattr(linking, "LOAD_FROM", 0)

    def dies(self: Any) -> None:
        raise RuntimeError("killed while building the index")

    monkeypatch.setattr(bulk.EmptyTableLoad, "finish", dies)
    with pytest.raises(RuntimeError, match="killed"), store.begin() as conn:
        for i, person in enumerate(NEIGHBOURS):
            add(conn, "crm", str(i), person)
        sync(conn)
    with store.begin() as conn:
        assert _indexes(conn) == before
        assert conn.execute(select(func.count()).select_from(match_keys)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(source_records)).scalar_one() == 0


def test_a_changed_record_keeps_exactly_the_keys_a_fresh_keying_gives(store: Store) -> None:
    """Re-keying writes only what changed; the result equals keying everything anew."""
    from hub.matching import linking
    from hub.store.schema import settings

    people = [{"first_name": f"Name{i}", "last_name": f"Family{i % 4}", "zip": f"8033{i % 3}",
               "city": "München", "street": f"Weg {i}", "phone": f"+49 89 12345{i:02d}",
               "email": f"person{i}@example.de"} for i in range(16)]
    with store.begin() as conn:
        rids = [add(conn, "crm", str(i), person) for i, person in enumerate(people)]
        sync(conn, auto_merge=1.01, review=0.99)
        for i, rid in enumerate(rids[:8]):  # a new phone and street for half of them
            fields = NORMALIZER.record({**people[i], "phone": f"+49 30 99999{i:02d}",
                                        "street": "Neue Straße 1"}).values()
            conn.execute(update(source_records).where(source_records.c.id == rid)
                         .values(fields=fields, dirty=True))
        # and eight are gone from their system: none of their keys may stay
        conn.execute(update(source_records).where(source_records.c.id.in_(rids[8:]))
                     .values(deleted=True, dirty=True))
        before = conn.execute(select(func.count()).select_from(match_keys)).scalar_one()
        sync(conn, auto_merge=1.01, review=0.99)
        changed = sorted(tuple(row) for row in conn.execute(select(match_keys)))
        assert {rid for _, rid in changed} == set(rids[:8])
        assert len(changed) < before

        conn.execute(match_keys.delete())
        conn.execute(settings.delete().where(settings.c.name == linking.KEYED))
        conn.execute(update(source_records).values(dirty=True))
        sync(conn, auto_merge=1.01, review=0.99)
        assert sorted(tuple(row) for row in conn.execute(select(match_keys))) == changed
