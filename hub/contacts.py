"""A contact's story, read-only: who they are, which records make them, why each value won.

Each answer is a plain dict, exactly what the CLI prints with --json (and renders as tables
without it), so scripts and people see the same facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, select

from hub.clock import iso
from hub.consent.policy import NONE
from hub.pipeline.golden import candidates_of
from hub.pipeline.merge import Survivorship
from hub.pipeline.normalize import InvalidEmail, Normalizer
from hub.store.bulk import chunks
from hub.store.schema import (
    contacts,
    identity_keys,
    merges,
    source_records,
)


def find_contact(conn: Connection, email: str) -> int | None:
    """The active contact whose golden or source e-mail is `email` (normalised), if any."""
    try:
        address = Normalizer().email(email)
    except InvalidEmail:
        address = email.strip().casefold()
    found = conn.execute(select(contacts.c.id).where(contacts.c.email == address)).first()
    if found is None:
        record = conn.execute(
            select(source_records.c.contact_id)
            .join(identity_keys, identity_keys.c.source_record_id == source_records.c.id)
            .where(identity_keys.c.key == address).limit(1)).first()
        if record is None:
            record = conn.execute(select(source_records.c.contact_id).where(
                source_records.c.email == address).limit(1)).first()
        if record is None or record.contact_id is None:
            return None
        found = conn.execute(select(contacts.c.id).where(
            contacts.c.id == record.contact_id)).first()
    return surviving(conn, int(found.id)) if found is not None else None


def surviving(conn: Connection, contact_id: int) -> int:
    """The contact `contact_id` is now part of (following merges)."""
    return survivors(conn, [contact_id])[contact_id]


def survivors(conn: Connection, contact_ids: Iterable[int]) -> dict[int, int]:
    """`surviving` for many contacts, one query per step of the merge chains, not per id."""
    wanted = set(contact_ids)
    into: dict[int, int] = {}
    looked: set[int] = set()
    pending = set(wanted)
    while pending:
        looked |= pending
        for part in chunks(sorted(pending)):
            into.update((cid, int(target)) for cid, target in conn.execute(
                select(contacts.c.id, contacts.c.merged_into).where(
                    contacts.c.id.in_(part), contacts.c.status == "merged",
                    contacts.c.merged_into.is_not(None))))
        pending = set(into.values()) - looked
    found: dict[int, int] = {}
    for contact_id in wanted:
        seen: set[int] = set()
        current = contact_id
        while current in into and current not in seen:  # `seen` guards a cycle
            seen.add(current)
            current = into[current]
        found[contact_id] = current
    return found


def _records(conn: Connection, contact_id: int) -> list[Any]:
    return list(conn.execute(
        select(source_records).where(source_records.c.contact_id == contact_id)
        .order_by(source_records.c.connector, source_records.c.external_id)))


def contact_view(conn: Connection, contact_id: int) -> dict[str, Any]:
    """The golden contact with its sources and per-field provenance (`contacts show --json`)."""
    row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).one()
    records = {r.id: r for r in _records(conn, contact_id)}
    fields: Mapping[str, Any] = row.fields
    view: dict[str, Any] = {"id": row.id, "email": fields.get("email"),
                            "emails": fields.get("emails", [])}
    for name in ("first_name", "last_name", "phone", "company", "job_title", "street", "city",
                 "zip", "region", "country", "birthday", "language"):
        view[name] = fields.get(name)
    view["tags"] = fields.get("tags", [])
    view["custom"] = {k.removeprefix("custom."): v for k, v in fields.items()
                      if k.startswith("custom.")}
    view["status"] = row.status
    view["sources"] = [{"connector": r.connector, "id": r.external_id,
                        "deleted": bool(r.deleted)} for r in records.values()]
    view["provenance"] = {}
    for field, record_id in sorted(row.provenance.items()):
        source = records.get(record_id)
        if source is not None:
            view["provenance"][field] = {
                "connector": source.connector, "id": source.external_id,
                "at": iso(source.source_updated_at) or iso(source.seen_at)}
    from hub.consent.newsletter import consent_of

    view["consent"] = {"newsletter": consent_of(conn, [contact_id]).get(
        contact_id, NONE).as_dict()}
    view["created_at"] = iso(row.created_at)
    view["updated_at"] = iso(row.updated_at)
    return view


def explain(conn: Connection, contact_id: int, survivorship: Survivorship) -> dict[str, Any]:
    """Which records make the contact, what joined them, and why each field won."""
    records = _records(conn, contact_id)
    keys: dict[int, list[str]] = {}
    for key, record_id in conn.execute(
            select(identity_keys.c.key, identity_keys.c.source_record_id).where(
                identity_keys.c.source_record_id.in_([r.id for r in records]))):
        keys.setdefault(record_id, []).append(key)
    shared: dict[str, list[str]] = {}
    for record in records:
        for key in keys.get(record.id, []):
            shared.setdefault(key, []).append(f"{record.connector}:{record.external_id}")
    history = conn.execute(select(merges).where(
        (merges.c.contact_id == contact_id) | (merges.c.other_id == contact_id))
        .order_by(merges.c.id)).all()
    picks = survivorship.explain(candidates_of([r for r in records if not r.deleted],
                                                 with_time=True))
    return {
        "contact": contact_view(conn, contact_id),
        "records": [{"connector": r.connector, "id": r.external_id, "origin": r.origin,
                     "email": r.email, "keys": sorted(keys.get(r.id, [])),
                     "deleted": bool(r.deleted), "updated_at": iso(r.source_updated_at),
                     "problems": r.problems or []} for r in records],
        "joined_by": [{"key": key, "records": names} for key, names in sorted(shared.items())
                      if len(names) > 1],
        "merges": [{"kind": m.kind, "at": iso(m.at), "contact_id": m.contact_id,
                    "other_id": m.other_id, "reason": m.reason} for m in history],
        "fields": [{"field": p.field, "value": p.winner.fields[p.field], "rule": p.rule,
                    "from": {"connector": p.winner.connector, "id": p.winner.external_id,
                             "at": p.winner.updated_at or None},
                    "beaten": [{"connector": c.connector, "id": c.external_id, "value": v}
                               for c, v in p.beaten]} for p in picks],
    }


def held_merges(conn: Connection) -> list[dict[str, Any]]:
    """Merges refused for review: a key shared by too many records (`hub duplicates`)."""
    rows = conn.execute(select(merges).where(merges.c.kind == "held").order_by(merges.c.id))
    result = []
    for m in rows:
        records = conn.execute(
            select(source_records.c.connector, source_records.c.external_id,
                   source_records.c.contact_id)
            .where(source_records.c.id.in_(list(m.source_record_ids or [])))).all()
        result.append({"key": m.key, "at": iso(m.at), "reason": m.reason,
                       "records": [{"connector": c, "id": e, "contact_id": cid}
                                   for c, e, cid in records]})
    return result


EXPORT_BATCH = 1000


def exported(conn: Connection) -> Iterator[dict[str, Any]]:
    """Every active golden contact with fields, provenance and source records, streamed.

    Contacts are read in id order a batch at a time (with their records), so a million
    contacts never sit in memory at once.
    """
    after = 0
    while True:
        batch = conn.execute(select(contacts.c.id, contacts.c.fields, contacts.c.provenance)
                             .where(contacts.c.status == "active", contacts.c.id > after)
                             .order_by(contacts.c.id).limit(EXPORT_BATCH)).all()
        if not batch:
            return
        after = batch[-1].id
        records: dict[int, list[Any]] = {}
        for record in conn.execute(
                select(source_records.c.id, source_records.c.contact_id,
                       source_records.c.connector, source_records.c.external_id,
                       source_records.c.deleted)
                .where(source_records.c.contact_id.in_([row.id for row in batch]))
                .order_by(source_records.c.connector, source_records.c.external_id)):
            records.setdefault(record.contact_id, []).append(record)
        for row in batch:
            mine = records.get(row.id, [])
            by_id = {r.id: r for r in mine}
            provenance = {}
            for field, record_id in sorted((row.provenance or {}).items()):
                source = by_id.get(record_id)
                if source is not None:
                    provenance[field] = {"connector": source.connector,
                                         "record_id": source.external_id}
            yield {"id": row.id, "fields": dict(sorted((row.fields or {}).items())),
                   "provenance": provenance,
                   "sources": [{"connector": r.connector, "record_id": r.external_id,
                                "deleted": bool(r.deleted)} for r in mine]}
