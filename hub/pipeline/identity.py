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

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, Select, func, insert, select, update

from hub.matching.folding import cologne, given_name
from hub.matching.model import name_verdict
from hub.store.bulk import Json, chunks, insert_rows, reserve_ids, update_rows
from hub.store.schema import contacts, identity_keys, merges, outbox, source_records

STREAM = 20_000


@dataclass
class Resolution:
    """What resolving one run's dirty records did."""

    touched: set[int] = field(default_factory=set)
    created: int = 0
    merged: int = 0
    held: int = 0
    merged_away: set[int] = field(default_factory=set)


class _Components:
    """Union-find over nodes that are either keys (str) or existing contact ids (int)."""

    def __init__(self) -> None:
        self.parent: dict[str | int, str | int] = {}

    def find(self, node: str | int) -> str | int:
        parent = self.parent
        root = parent.setdefault(node, node)
        while parent[root] != root:
            root = parent[root]
        while parent[node] != root:  # path compression
            parent[node], node = root, parent[node]
        return root

    def union(self, a: str | int, b: str | int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def _dirty_records(conn: Connection) -> Iterator[tuple[int, int | None, list[str]]]:
    """(record id, current contact, its keys) for each dirty record, streamed in id order."""
    rows = conn.execute(
        select(source_records.c.id, source_records.c.contact_id, identity_keys.c.key)
        .outerjoin(identity_keys, identity_keys.c.source_record_id == source_records.c.id)
        .where(source_records.c.dirty.is_(True))
        .order_by(source_records.c.id)
        .execution_options(yield_per=STREAM))
    for record_id, group in groupby(rows, key=lambda row: row[0]):
        items = list(group)
        yield record_id, items[0][1], [key for _, _, key in items if key is not None]


def resolve(conn: Connection, *, max_records: int, run_id: int | None, now: datetime) -> Resolution:
    """Link every dirty source record to a golden contact; merge contacts that now share a key.

    Three streamed passes over the dirty records keep memory to the union-find itself (a
    million-record import never holds a million Python records): join their keys, decide
    each component's contact, write the links.
    """
    result = Resolution()
    dirty = conn.execute(select(func.count()).select_from(source_records).where(
        source_records.c.dirty.is_(True))).scalar_one()
    if not dirty:
        return result
    total = conn.execute(select(func.count()).select_from(source_records)).scalar_one()
    bulk = dirty * 2 >= total
    _claim_returning(conn)
    crowded = _crowded_keys(conn, max_records, bulk)
    shared = _shared_keys(conn, bulk, crowded)

    def usable(current: int | None, keys: list[str]) -> list[str | int]:
        nodes: list[str | int] = [k for k in keys if k not in crowded and k not in shared]
        if current is not None:
            nodes.append(current)
        return nodes

    # pass 1: everything a dirty record carries belongs together
    components = _Components()
    for _, current, keys in _dirty_records(conn):
        nodes = usable(current, keys)
        if nodes:
            components.find(nodes[0])  # registers a lone node too, so its contact is seen below
            for other in nodes[1:]:
                components.union(nodes[0], other)
    for key, contact_id in _existing_owners(conn, bulk):
        if key not in crowded and key not in shared:
            components.union(key, contact_id)

    # each component's contact: the smallest existing id (others merge into it), or a new one
    existing_in: dict[object, list[int]] = defaultdict(list)
    for node in list(components.parent):
        if isinstance(node, int):
            existing_in[components.find(node)].append(node)
    target_of_root: dict[object, int] = {}
    new_roots: dict[object, None] = {}  # insertion-ordered set
    for record_id, current, keys in _dirty_records(conn):  # pass 2
        nodes = usable(current, keys)
        root: object = components.find(nodes[0]) if nodes else ("own", record_id)
        if root in target_of_root or root in new_roots:
            continue
        existing = existing_in.get(root)
        if existing:
            target = min(existing)
            target_of_root[root] = target
            for other in sorted(set(existing) - {target}):
                merge_contacts(conn, target, other, run_id=run_id, now=now, result=result,
                               reason=f"contact {other} shares an identity key with contact "
                                      f"{target}")
        else:
            new_roots[root] = None
    if new_roots:
        # placeholders: golden.rebuild fills them; content_hash "" marks them as new
        ids = reserve_ids(conn, contacts, len(new_roots))
        empty = Json("{}")
        for start in range(0, len(ids), STREAM):
            insert_rows(conn, contacts, ("id", "fields", "provenance", "status", "content_hash",
                                         "created_at", "updated_at", "updated_run"),
                        [(cid, empty, empty, "active", "", now, now, run_id)
                         for cid in ids[start:start + STREAM]])
        target_of_root.update(zip(new_roots, ids, strict=True))
        result.created = len(ids)
        del new_roots

    # pass 3: write the links; a row is updated only after it was read, and the update does
    # not change what the stream selects or how it is ordered
    links: list[tuple[int, int]] = []
    for record_id, current, keys in _dirty_records(conn):
        nodes = usable(current, keys)
        root = components.find(nodes[0]) if nodes else ("own", record_id)
        target = target_of_root[root]
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


def _crowded_keys(conn: Connection, max_records: int, bulk: bool) -> dict[str, int]:
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


def _existing_owners(conn: Connection, bulk: bool) -> Iterator[tuple[str, int]]:
    """(key, contact) for already-resolved (clean) records sharing a key with a dirty one."""
    if bulk and conn.execute(select(source_records.c.id).where(
            source_records.c.dirty.is_(False)).limit(1)).first() is None:
        return  # first import: nothing resolved before
    # the dirty keys first, then the clean holders of each chunk of them by the key's
    # index: one query with the keys as a subquery had SQLite scan every clean record for
    # each key (520 s of CPU for 6,000 changed rows in a 200,000-row store)
    dirty_keys = sorted(set(conn.execute(
        select(identity_keys.c.key)
        .join(source_records, source_records.c.id == identity_keys.c.source_record_id)
        .where(source_records.c.dirty.is_(True))).scalars()))
    # the dirty flag is checked here, not in SQL: given it, SQLite walks the flag's index
    # (every clean record) instead of the few rows holding the keys
    for part in chunks(dirty_keys):
        found = {(key, contact_id) for key, contact_id, dirty in conn.execute(
            select(identity_keys.c.key, source_records.c.contact_id, source_records.c.dirty)
            .join(source_records, source_records.c.id == identity_keys.c.source_record_id)
            .where(identity_keys.c.key.in_(part))) if not dirty and contact_id is not None}
        yield from sorted(found)


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
    conn.execute(insert(merges).values(
        run_id=run_id, at=now, kind="merged", contact_id=target, other_id=other,
        reason=reason, source_record_ids=list(moved)))
    result.merged += 1
    result.merged_away.add(other)
    result.touched.add(target)


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
