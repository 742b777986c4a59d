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
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from sqlalchemy import Connection, func, insert, select, update

from hub.store.bulk import Json, insert_rows, reserve_ids, update_rows
from hub.store.schema import contacts, identity_keys, merges, source_records

T = TypeVar("T")
CHUNK = 900  # stays under SQLite's bound-parameter limit with room to spare


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


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    """Fixed-size slices, for IN lists that must stay under the driver's parameter limit."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def resolve(conn: Connection, *, max_records: int, run_id: int | None, now: datetime) -> Resolution:
    """Link every dirty source record to a golden contact; merge contacts that now share a key."""
    result = Resolution()
    dirty = conn.execute(
        select(source_records.c.id, source_records.c.contact_id)
        .where(source_records.c.dirty.is_(True))
    ).all()
    if not dirty:
        return result
    dirty_ids = [row.id for row in dirty]
    current = {row.id: row.contact_id for row in dirty}
    total = conn.execute(select(func.count()).select_from(source_records)).scalar_one()
    bulk = len(dirty) * 2 >= total

    keys_of: dict[int, list[str]] = defaultdict(list)
    key_query = select(identity_keys.c.key, identity_keys.c.source_record_id)
    if bulk:
        rows: Iterable[tuple[str, int]] = conn.execute(
            key_query.join(source_records, source_records.c.id == identity_keys.c.source_record_id)
            .where(source_records.c.dirty.is_(True)))
        for key, record_id in rows:
            keys_of[record_id].append(key)
    else:
        for part in chunks(dirty_ids):
            for key, record_id in conn.execute(
                    key_query.where(identity_keys.c.source_record_id.in_(part))):
                keys_of[record_id].append(key)

    all_keys = sorted({k for ks in keys_of.values() for k in ks})
    crowded = _crowded_keys(conn, all_keys, max_records, bulk)
    owners = _existing_owners(conn, [k for k in all_keys if k not in crowded], bulk)

    components = _Components()
    anchor: dict[int, str | int] = {}
    for record_id in dirty_ids:
        nodes: list[str | int] = [k for k in keys_of.get(record_id, ()) if k not in crowded]
        if current[record_id] is not None:
            nodes.append(current[record_id])
        if not nodes:
            continue  # no usable key and never linked: a contact of its own
        first = nodes[0]
        components.find(first)  # registers a lone node too, so its contact is seen below
        for other in nodes[1:]:
            components.union(first, other)
        anchor[record_id] = first
    for key, contact_ids in owners.items():
        for contact_id in contact_ids:
            components.union(key, contact_id)

    # Pick each component's contact: the smallest existing id, or a new one.
    existing_in: dict[object, list[int]] = defaultdict(list)
    for node in list(components.parent):
        if isinstance(node, int):
            existing_in[components.find(node)].append(node)
    target_of_root: dict[object, int] = {}
    new_roots: dict[object, None] = {}  # insertion-ordered set
    root_of: dict[int, object] = {}
    for record_id in dirty_ids:
        # a record with no usable key and no contact yet is a contact of its own
        root: object = components.find(anchor[record_id]) if record_id in anchor \
            else ("own", record_id)
        root_of[record_id] = root
        if root in target_of_root or root in new_roots:
            continue
        existing = existing_in.get(root) if not isinstance(root, tuple) else None
        if existing:
            target = min(existing)
            target_of_root[root] = target
            for other in sorted(set(existing) - {target}):
                _merge_contacts(conn, target, other, run_id, now, result)
        else:
            new_roots[root] = None
    if new_roots:
        # placeholders: golden.rebuild fills them; content_hash "" marks them as new
        ids = reserve_ids(conn, contacts, len(new_roots))
        empty = Json("{}")
        insert_rows(conn, contacts, ("id", "fields", "provenance", "status", "content_hash",
                                     "created_at", "updated_at", "updated_run"),
                    [(cid, empty, empty, "active", "", now, now, run_id) for cid in ids])
        target_of_root.update(zip(new_roots, ids, strict=True))
        result.created = len(ids)

    links: list[tuple[int, int]] = []
    for record_id in dirty_ids:
        target = target_of_root[root_of[record_id]]
        result.touched.add(target)
        if current[record_id] != target:
            links.append((target, record_id))
    update_rows(conn, source_records, ("contact_id",), "id", links)
    if crowded:
        _record_held(conn, crowded, run_id, now, result)
    return result


def _crowded_keys(conn: Connection, keys: Sequence[str], max_records: int,
                  bulk: bool) -> dict[str, int]:
    """Keys held by more than `max_records` source records: too shared to identify a person."""
    query = (select(identity_keys.c.key, func.count().label("n"))
             .group_by(identity_keys.c.key).having(func.count() > max_records))
    if bulk:
        return {key: n for key, n in conn.execute(query)}
    crowded: dict[str, int] = {}
    for part in chunks(keys):
        crowded.update((key, n) for key, n in conn.execute(
            query.where(identity_keys.c.key.in_(part))))
    return crowded


def _existing_owners(conn: Connection, keys: Sequence[str], bulk: bool) -> dict[str, set[int]]:
    """For each key, the contacts that already-resolved (clean) records holding it belong to."""
    query = (select(identity_keys.c.key, source_records.c.contact_id)
             .join(source_records, source_records.c.id == identity_keys.c.source_record_id)
             .where(source_records.c.dirty.is_(False), source_records.c.contact_id.is_not(None)))
    owners: dict[str, set[int]] = defaultdict(set)
    if bulk:
        clean = conn.execute(select(source_records.c.id).where(
            source_records.c.dirty.is_(False)).limit(1)).first()
        if clean is None:
            return owners  # first import: nothing resolved before
        wanted = set(keys)
        for key, contact_id in conn.execute(query):
            if key in wanted:
                owners[key].add(contact_id)
        return owners
    for part in chunks(keys):
        for key, contact_id in conn.execute(query.where(identity_keys.c.key.in_(part))):
            owners[key].add(contact_id)
    return owners


def _merge_contacts(conn: Connection, target: int, other: int, run_id: int | None,
                    now: datetime, result: Resolution) -> None:
    """Fold contact `other` into `target`: its records move, it is kept as 'merged' (audit)."""
    moved = conn.execute(select(source_records.c.id).where(
        source_records.c.contact_id == other)).scalars().all()
    conn.execute(update(source_records).where(source_records.c.contact_id == other)
                 .values(contact_id=target, dirty=True))
    conn.execute(update(contacts).where(contacts.c.id == other)
                 .values(status="merged", merged_into=target, updated_at=now, updated_run=run_id))
    conn.execute(insert(merges).values(
        run_id=run_id, at=now, kind="merged", contact_id=target, other_id=other,
        reason=f"contact {other} shares an identity key with contact {target}",
        source_record_ids=list(moved)))
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
