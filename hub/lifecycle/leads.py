"""What the lifecycle reads from the store: each contact's records, as `SourceView`s.

Kept apart from the rules (`hub.lifecycle`) so they stay readable top to bottom: which
contacts a run must look at, their signals and consent, which CRM records hub shared between
two contacts (whose stage is then no sales decision), and when ops last set a stage by hand.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select

from hub.store.bulk import chunks, within
from hub.store.schema import contacts, leads, source_records, stage_changes, sync_state

BATCH = 2000


@dataclass(frozen=True, slots=True)
class SourceView:
    """What the lifecycle needs of one source record."""

    connector: str
    signals: Mapping[str, Any]
    consent: Sequence[Mapping[str, Any]]
    at: datetime | None


def held_since(conn: Connection, ids: Sequence[int]) -> dict[int, datetime]:
    """When ops last set the stage of each of `ids` by hand."""
    found: dict[int, datetime] = {}
    for part in chunks(list(ids)):
        for contact_id, at in conn.execute(
                select(stage_changes.c.contact_id, func.max(stage_changes.c.at))
                .where(stage_changes.c.contact_id.in_(part), stage_changes.c.source == "ops")
                .group_by(stage_changes.c.contact_id)):
            if at is not None:
                found[contact_id] = at
    return found


def due(conn: Connection, touched: set[int]) -> list[int]:
    """`touched` plus the contacts without a decision, changed by ops, decided provisionally
    (a system they depend on could not be read) or with order value."""
    found = set(touched)
    found.update(conn.execute(
        select(contacts.c.id).outerjoin(leads, leads.c.contact_id == contacts.c.id)
        .where(contacts.c.status == "active",
               or_(leads.c.contact_id.is_(None), leads.c.dirty.is_(True),
                   leads.c.value.is_not(None), leads.c.provisional.is_not(None)))).scalars())
    return sorted(found)


def contact_batches(conn: Connection, ids: list[int] | None) -> Iterator[list[Any]]:
    """Active contacts (id, fields, updated_run) in id order, in batches: `ids` only, or all
    (None)."""
    columns = (contacts.c.id, contacts.c.fields, contacts.c.updated_run)
    if ids is not None:
        for part in chunks(ids):
            asked = set(part)
            yield [row for row in conn.execute(select(*columns).where(
                contacts.c.status == "active", within(contacts.c.id, part))
                .order_by(contacts.c.id)) if row.id in asked]
        return
    last = 0
    while True:
        batch = conn.execute(select(*columns)
                             .where(contacts.c.status == "active", contacts.c.id > last)
                             .order_by(contacts.c.id).limit(BATCH)).all()
        if not batch:
            return
        last = batch[-1].id
        yield list(batch)


def views(conn: Connection, ids: Sequence[int]) -> dict[int, list[SourceView]]:
    """Each contact's live records that carry signals or consent."""
    views: dict[int, list[SourceView]] = {}
    rows: list[Any] = []
    for part in chunks(sorted(ids)):
        asked = set(part)
        rows.extend(row for row in conn.execute(
            select(source_records.c.contact_id, source_records.c.connector,
                   source_records.c.external_id, source_records.c.signals,
                   source_records.c.consent, source_records.c.source_updated_at,
                   source_records.c.seen_at)
            .where(within(source_records.c.contact_id, part),
                   source_records.c.deleted.is_(False))) if row.contact_id in asked)
    shared = shared_records(conn, [r for r in rows
                                   if r.signals and _SALES_SIGNALS & set(r.signals)])
    for row in rows:
        if not row.signals and not row.consent:
            continue
        signals = row.signals or {}
        if (row.connector, row.external_id) in shared:
            # hub also wrote another contact into this record (a shared address upserted by
            # e-mail): its stage may be hub's own echo, no sales decision about this contact
            signals = {k: v for k, v in signals.items() if k != "lifecyclestage"}
        at = row.source_updated_at or row.seen_at
        views.setdefault(row.contact_id, []).append(SourceView(
            connector=row.connector, signals=signals, consent=row.consent or (), at=at))
    return views


_SALES_SIGNALS = frozenset({"lifecyclestage", "hs_lead_status"})


def shared_records(conn: Connection, rows: Sequence[Any]) -> set[tuple[str, str]]:
    """(connector, external id) of the `rows` that hub also wrote for a different contact."""
    owner = {(r.connector, r.external_id): r.contact_id for r in rows}
    found: set[tuple[str, str]] = set()
    for part in chunks(sorted({r.external_id for r in rows})):
        for state in conn.execute(select(sync_state.c.connector, sync_state.c.external_id,
                                         sync_state.c.contact_id)
                                  .where(sync_state.c.external_id.in_(part))):
            key = (state.connector, state.external_id)
            if key in owner and owner[key] != state.contact_id:
                found.add(key)
    return found
