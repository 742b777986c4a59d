"""Identity resolution: which source records are the same person.

Records that share a merge key (a normalised e-mail that is not a placeholder or role
address) are one contact; a record carrying two e-mails links the contacts of both, which are
then merged (and the merge audited in `merges`). A record keeps the contact it was linked to,
so an e-mail changed in one system updates that contact instead of creating a duplicate.

Connected components are order-independent, so the partition does not depend on the order
records arrived in. One guard keeps a bad key from collapsing hundreds of people: a key held by
more source records than ``[identity] max_records_per_contact`` is not used for merging; the
refused merge is recorded as ``held`` for review (`hub duplicates`).

The work is set-based: only records marked dirty are looked at, their keys and the contacts
already holding those keys are loaded in bulk, and the new links are written with executemany.
"""

from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, Select, func, insert, select, update

from hub.matching.folding import cologne, given_name
from hub.matching.model import name_verdict
from hub.store.bulk import Json, chunks, insert_rows, reserve_ids, update_rows
from hub.store.schema import (
    contacts,
    identity_keys,
    merges,
    outbox,
    source_records,
    sync_state,
)

STREAM = 20_000


@dataclass
class Resolution:
    """What resolving one run's dirty records did."""

    touched: set[int] = field(default_factory=set)
    created: int = 0
    merged: int = 0
    held: int = 0
    merged_away: set[int] = field(default_factory=set)
    #: Every crowded key of the store, when this run counted them all (a bulk run): linking
    #: keys every record on its first pass and needs the same set, so it is counted once.
    crowded: frozenset[str] | None = None


class _Forest:
    """Union-find on integers in flat arrays: a record is node `id`, a contact `offset + id`.

    Arrays of machine integers instead of dicts of strings: a million-record import holds
    16 bytes a node, and no key text at all.
    """

    def __init__(self, records: int, contacts: int) -> None:
        self.offset = records + 1
        self.parent = array("q", range(self.offset + contacts + 1))

    def contact(self, contact_id: int) -> int:
        return self.offset + contact_id

    def find(self, node: int) -> int:
        parent = self.parent
        root = node
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _dirty_records(conn: Connection) -> Iterator[tuple[int, int | None]]:
    """(record id, current contact) of each dirty record, streamed in id order."""
    rows = conn.execute(select(source_records.c.id, source_records.c.contact_id)
                        .where(source_records.c.dirty.is_(True))
                        .order_by(source_records.c.id)
                        .execution_options(yield_per=STREAM))
    yield from ((record_id, contact_id) for record_id, contact_id in rows)


def _key_holders(conn: Connection, first_import: bool
                 ) -> Iterator[tuple[str, list[tuple[int, bool, int | None]]]]:
    """Each key a dirty record carries, with every record holding it (id, dirty, contact).

    Streamed in key order, so no key is kept once its group is done. On a first import
    every record is dirty and one query in the key index's order does; otherwise the
    (few) keys of the dirty records are looked up a chunk at a time.
    """
    columns = (identity_keys.c.key, identity_keys.c.source_record_id,
               source_records.c.dirty, source_records.c.contact_id)
    joined = select(*columns).join(
        source_records, source_records.c.id == identity_keys.c.source_record_id)
    if first_import:
        yield from _grouped(conn.execute(
            joined.where(source_records.c.dirty.is_(True)).order_by(identity_keys.c.key)
            .execution_options(yield_per=STREAM)))
        return
    keys = sorted(set(conn.execute(
        select(identity_keys.c.key)
        .join(source_records, source_records.c.id == identity_keys.c.source_record_id)
        .where(source_records.c.dirty.is_(True))).scalars()))
    for part in chunks(keys):
        # the dirty flag is not in the WHERE: given it, SQLite walks the flag's index
        # (every clean record) instead of the few rows holding the keys
        yield from _grouped(conn.execute(joined.where(identity_keys.c.key.in_(part))
                                         .order_by(identity_keys.c.key)))


def _grouped(rows: Iterable[Any]) -> Iterator[tuple[str, list[tuple[int, bool, int | None]]]]:
    """(key, [(record, dirty, contact), …]) from rows ordered by key."""
    for key, group in groupby(rows, key=lambda row: row[0]):
        yield key, [(rid, bool(dirty), cid) for _, rid, dirty, cid in group]


def resolve(conn: Connection, *, max_records: int, run_id: int | None, now: datetime) -> Resolution:
    """Link every dirty source record to a golden contact; merge contacts that now share a key.

    Records and contacts are nodes of an array-based union-find: the records holding one
    usable key join, and a record joins the contact it is already linked to. Each group's
    contact is the smallest existing one among it (the others merge into it), or a new one.
    Memory is the two arrays plus the contacts this run touches, never a dict of keys.
    """
    result = Resolution()
    dirty = conn.execute(select(func.count()).select_from(source_records).where(
        source_records.c.dirty.is_(True))).scalar_one()
    if not dirty:
        return result
    total = conn.execute(select(func.count()).select_from(source_records)).scalar_one()
    bulk = dirty * 2 >= total
    _claim_returning(conn)
    crowded = crowded_keys(conn, max_records, bulk)
    if bulk:
        result.crowded = frozenset(crowded)
    shared = _shared_keys(conn, bulk, crowded)
    first_import = dirty == total
    top_record = conn.execute(select(func.coalesce(func.max(source_records.c.id), 0))
                              ).scalar_one()
    top_contact = conn.execute(select(func.coalesce(func.max(contacts.c.id), 0))).scalar_one()
    forest = _Forest(int(top_record), int(top_contact))

    # what belongs together: a record and its contact; the holders of one usable key
    involved: set[int] = set()  # existing contacts in play
    for record_id, current in _dirty_records(conn):
        if current is not None:
            involved.add(current)
            forest.union(record_id, forest.contact(current))
    for key, holders in _key_holders(conn, first_import):
        if key in crowded or key in shared:
            continue
        nodes: list[int] = []
        for rid, is_dirty, cid in holders:
            if is_dirty:
                nodes.append(rid)
            elif cid is not None:  # a clean record stands for the contact it belongs to
                involved.add(cid)
                nodes.append(forest.contact(cid))
        for node in nodes[1:]:
            forest.union(nodes[0], node)

    # each group's contact: the smallest existing one (others merge into it), or a new one
    existing_in: dict[int, list[int]] = defaultdict(list)
    for contact_id in sorted(involved):
        existing_in[forest.find(forest.contact(contact_id))].append(contact_id)
    del involved
    target_of = array("q", bytes(8 * len(forest.parent)))  # root → contact; 0: undecided
    new_roots = array("q")
    for record_id, _ in _dirty_records(conn):
        root = forest.find(record_id)
        if target_of[root]:
            continue
        existing = existing_in.get(root)
        if existing:
            target = existing[0]
            target_of[root] = target
            for other in existing[1:]:
                merge_contacts(conn, target, other, run_id=run_id, now=now, result=result,
                               reason=f"contact {other} shares an identity key with contact "
                                      f"{target}")
        else:
            target_of[root] = -1  # new: its id is reserved below
            new_roots.append(root)
    del existing_in
    if new_roots:
        # placeholders: golden.rebuild fills them; content_hash "" marks them as new
        ids = reserve_ids(conn, contacts, len(new_roots))
        empty = Json("{}")
        for start in range(0, len(ids), STREAM):
            insert_rows(conn, contacts, ("id", "fields", "provenance", "status", "content_hash",
                                         "created_at", "updated_at", "updated_run"),
                        [(cid, empty, empty, "active", "", now, now, run_id)
                         for cid in ids[start:start + STREAM]])
        for root, contact_id in zip(new_roots, ids, strict=True):
            target_of[root] = contact_id
        result.created = len(ids)
        del new_roots, ids

    # write the links; a row is updated only after it was read, and the update does not
    # change what the stream selects or how it is ordered
    links: list[tuple[int, int]] = []
    for record_id, current in _dirty_records(conn):
        target = target_of[forest.find(record_id)]
        result.touched.add(target)
        if current != target:
            links.append((target, record_id))
            if len(links) >= STREAM:
                update_rows(conn, source_records, ("contact_id",), "id", links)
                links.clear()
    update_rows(conn, source_records, ("contact_id",), "id", links)
    if crowded:
        _record_held(conn, crowded, run_id, now, result)
    return result


def crowded_keys(conn: Connection, max_records: int, bulk: bool) -> dict[str, int]:
    """Keys held by more than `max_records` source records: too shared to identify a person."""
    query = (select(identity_keys.c.key, func.count().label("n"))
             .group_by(identity_keys.c.key).having(func.count() > max_records))
    if not bulk:  # only the keys this run's records carry
        query = query.where(identity_keys.c.key.in_(_dirty_keys()))
    return {key: n for key, n in conn.execute(query)}


def _dirty_keys() -> Select[tuple[str]]:
    """The keys this run's dirty records carry (a subquery)."""
    return (select(identity_keys.c.key)
            .join(source_records, source_records.c.id == identity_keys.c.source_record_id)
            .where(source_records.c.dirty.is_(True)))


def _shared_keys(conn: Connection, bulk: bool, crowded: dict[str, int]) -> set[str]:
    """Addresses used by people with different first names: a family's or a team's mailbox.

    Such an address identifies nobody, so it joins nothing (the matcher may still suggest
    the pair for review, but never merges it on its own).
    """
    query = (select(identity_keys.c.key).group_by(identity_keys.c.key)
             .having(func.count() > 1))
    if not bulk:
        query = query.where(identity_keys.c.key.in_(_dirty_keys()))
    keys = [k for k in conn.execute(query).scalars() if k not in crowded]
    names: dict[str, list[str]] = defaultdict(list)
    for part in chunks(keys):
        for key, fields in conn.execute(
                select(identity_keys.c.key, source_records.c.fields)
                .join(source_records, source_records.c.id == identity_keys.c.source_record_id)
                .where(identity_keys.c.key.in_(part), source_records.c.deleted.is_(False))):
            first = given_name(str(fields.get("first_name") or ""))
            if first and first not in names[key]:
                names[key].append(first)
    return {key for key, firsts in names.items()
            if any(name_verdict(a, b, cologne(a), cologne(b)) == "different"
                   for i, a in enumerate(firsts) for b in firsts[i + 1:])}


def _claim_returning(conn: Connection) -> None:
    """Link a record hub wrote, whose acknowledgement was lost, to the contact that wrote it.

    The write is still a pending outbox row without an external id; the record now read
    from that system carries the same address (and names, where both have them). Without
    this, an address that is no identity key (noreply@, a shared mailbox) would come back
    as a stranger and become a duplicate contact.
    """
    waiting: dict[tuple[str, str], list[tuple[int, Any]]] = defaultdict(list)
    for connector, contact_id, payload in conn.execute(
            select(outbox.c.connector, outbox.c.contact_id, outbox.c.payload).where(
                outbox.c.status == "pending", outbox.c.external_id.is_(None),
                outbox.c.operation == "upsert")):
        if payload.get("email"):
            waiting[(connector, payload["email"])].append((contact_id, payload))
    if not waiting:
        return
    claims: list[tuple[int, int]] = []
    for rid, connector, email, fields in conn.execute(
            select(source_records.c.id, source_records.c.connector, source_records.c.email,
                   source_records.c.fields).where(
                source_records.c.dirty.is_(True), source_records.c.contact_id.is_(None),
                source_records.c.connector.in_(sorted({c for c, _ in waiting})))):
        writers = {cid for cid, payload in waiting.get((connector, email), [])
                   if all(payload.get(n) in (None, fields.get(n))
                          for n in ("first_name", "last_name"))}
        if len(writers) == 1:
            claims.append((writers.pop(), rid))
    update_rows(conn, source_records, ("contact_id",), "id", claims)


def merge_contacts(conn: Connection, target: int, other: int, *, run_id: int | None,
                   now: datetime, result: Resolution, reason: str) -> None:
    """Fold contact `other` into `target`: its records move, it is kept as 'merged' (audit)."""
    moved = conn.execute(select(source_records.c.id).where(
        source_records.c.contact_id == other)).scalars().all()
    # the moved records need no dirty flag: rebuilding `target` reads all of its records
    conn.execute(update(source_records).where(source_records.c.contact_id == other)
                 .values(contact_id=target))
    conn.execute(update(contacts).where(contacts.c.id == other)
                 .values(status="merged", merged_into=target, updated_at=now, updated_run=run_id))
    _move_sync_state(conn, other, target)
    conn.execute(insert(merges).values(
        run_id=run_id, at=now, kind="merged", contact_id=target, other_id=other,
        reason=reason, source_record_ids=list(moved)))
    result.merged += 1
    result.merged_away.add(other)
    result.touched.add(target)


def _move_sync_state(conn: Connection, other: int, target: int) -> None:
    """A merged-away contact's system links go to the survivor where it has none there.

    The survivor then keeps writing to the record hub wrote before (with several records of
    the person in one system, the outbox prefers that one), and reading consent back knows
    which record hub's writes went to. Review's accept and every automatic merge share it.
    """
    held = set(conn.execute(select(sync_state.c.connector).where(
        sync_state.c.contact_id == target)).scalars())
    for connector in conn.execute(select(sync_state.c.connector).where(
            sync_state.c.contact_id == other)).scalars().all():
        if connector not in held:
            conn.execute(update(sync_state).where(
                sync_state.c.connector == connector, sync_state.c.contact_id == other)
                .values(contact_id=target, pushed_hash=None))


def _record_held(conn: Connection, crowded: dict[str, int], run_id: int | None, now: datetime,
                 result: Resolution) -> None:
    """Log each crowded key once per run as a merge held for review."""
    rows = []
    for key, count in sorted(crowded.items()):
        record_ids = conn.execute(select(identity_keys.c.source_record_id)
                                  .where(identity_keys.c.key == key).limit(100)).scalars().all()
        rows.append({"run_id": run_id, "at": now, "kind": "held", "contact_id": None,
                     "other_id": None, "key": key, "source_record_ids": list(record_ids),
                     "reason": f"{count} source records share this key; merging them would join "
                               "more records than [identity] max_records_per_contact allows"})
    existing = set(conn.execute(select(merges.c.key).where(merges.c.kind == "held")).scalars())
    fresh = [row for row in rows if row["key"] not in existing]
    if fresh:
        conn.execute(insert(merges), fresh)
    result.held = len(crowded)
