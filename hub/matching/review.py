"""Review and undo: the decisions a person makes about scored pairs, and splitting a contact.

The CLI (`hub duplicates`, `hub contacts split`) and the web console call these same
functions, so both leave the same audit trail. Each action rebuilds the golden fields of the
contacts it touched at once (with the ``[merge]`` rules of the last run) and marks them
stale, so the next sync stamps and pushes them: the systems learn about every merge and split.

Messages carry ids only: a pair or contact is named by its number, never by a person's data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from hub.clock import utcnow
from hub.contacts import surviving, survivors
from hub.errors import HubError
from hub.pipeline import golden
from hub.pipeline.identity import Resolution, merge_contacts
from hub.store import Store
from hub.store.schema import contacts, match_pairs, merges, source_records, sync_state

#: Review status the console shows → statuses stored (an automatic merge counts as accepted).
_STORED = {"open": ("open",), "accepted": ("accepted", "merged"), "rejected": ("rejected",)}
_SHOWN = {"open": "open", "accepted": "accepted", "merged": "accepted", "rejected": "rejected"}


class ReviewError(HubError):
    """A review action that cannot be done as asked (unknown id, wrong records)."""


@dataclass(frozen=True)
class Evidence:
    """One field's comparison: the two values, the verdict and its weight (log2 odds)."""

    field: str
    #: The values may be e-mail addresses: kept out of the repr (and so out of logs).
    left: str | None = dataclass_field(repr=False)
    right: str | None = dataclass_field(repr=False)
    verdict: str
    weight: float


@dataclass(frozen=True)
class Candidate:
    """A scored pair of golden contacts (ids followed through later merges)."""

    id: int
    left: int
    right: int
    probability: float
    status: str
    evidence: list[Evidence]


def evidence_of(stored: Any) -> list[Evidence]:
    """The stored evidence JSON as `Evidence` items, in field order."""
    items = []
    for field, item in sorted((stored or {}).items()):
        items.append(Evidence(field=field, left=item.get("left"), right=item.get("right"),
                              verdict=str(item.get("verdict", "")),
                              weight=float(item.get("weight", 0.0))))
    return items


def candidates(store: Store, *, status: str = "open", limit: int = 100,
               offset: int = 0) -> list[Candidate]:
    """Scored pairs with `status` ("open", "accepted" or "rejected"), most probable first."""
    if status not in _STORED:
        raise ReviewError(f"unknown status {status!r}; use open, accepted or rejected")
    with store.begin() as conn:
        rows = conn.execute(
            select(match_pairs).where(match_pairs.c.status.in_(_STORED[status]))
            .order_by(match_pairs.c.probability.desc(), match_pairs.c.id)
            .limit(limit).offset(offset)).all()
        now_in = survivors(conn, [c for row in rows for c in (row.left_contact,
                                                               row.right_contact)])
        return [Candidate(id=row.id, left=now_in[row.left_contact],
                          right=now_in[row.right_contact],
                          probability=float(row.probability), status=_SHOWN[row.status],
                          evidence=evidence_of(row.evidence)) for row in rows]


def _pair(conn: Connection, candidate_id: int) -> Any:
    row = conn.execute(select(match_pairs).where(match_pairs.c.id == candidate_id)).first()
    if row is None:
        raise ReviewError(f"no scored pair with id {candidate_id}; `hub duplicates` lists them")
    return row


def accept(store: Store, candidate_id: int, *, actor: str) -> int:
    """Merge the pair's two contacts (audited); returns the contact that survives."""
    now = utcnow()
    with store.begin() as conn:
        pair = _pair(conn, candidate_id)
        left, right = surviving(conn, pair.left_contact), surviving(conn, pair.right_contact)
        target, other = min(left, right), max(left, right)
        if target != other:
            merge_contacts(conn, target, other, run_id=None, now=now, result=Resolution(),
                           reason=f"pair {candidate_id} accepted by {actor}")
            golden.refresh(conn, [target], golden.stored_survivorship(conn), now=now)
        conn.execute(update(match_pairs).where(match_pairs.c.id == candidate_id).values(
            status="accepted", decided_at=now, actor=actor))
        return target


def reject(store: Store, candidate_id: int, *, actor: str) -> None:
    """Keep the pair's contacts apart, now and in every later run."""
    with store.begin() as conn:
        pair = _pair(conn, candidate_id)
        if pair.status in ("merged", "accepted") and \
                surviving(conn, pair.left_contact) == surviving(conn, pair.right_contact):
            raise ReviewError(f"pair {candidate_id} is already merged; undo it with "
                              "`hub contacts split CONTACT --records ...`")
        conn.execute(update(match_pairs).where(match_pairs.c.id == candidate_id).values(
            status="rejected", decided_at=utcnow(), actor=actor))


def record_key(connector: str, external_id: str) -> str:
    """How a split names a source record: CONNECTOR:ID."""
    return f"{connector}:{external_id}"


def split(store: Store, contact_id: int, record_keys: Sequence[str], *, actor: str) -> int:
    """Move the named records (CONNECTOR:ID) of `contact_id` to a new contact; returns it.

    Both sides get their fields back from their own records (with provenance), the pair is
    remembered as rejected so no later run joins them again, and each system's link moves
    with its record, so the next sync updates both people where they live.
    """
    now = utcnow()
    wanted = list(dict.fromkeys(k.strip() for k in record_keys if k.strip()))
    if not wanted:
        raise ReviewError("name at least one record to split off, as CONNECTOR:ID")
    with store.begin() as conn:
        row = conn.execute(select(contacts.c.status).where(contacts.c.id == contact_id)).first()
        if row is None or row.status != "active":
            raise ReviewError(f"contact {contact_id} is not an active contact")
        records = conn.execute(select(source_records.c.id, source_records.c.connector,
                                      source_records.c.external_id).where(
            source_records.c.contact_id == contact_id)).all()
        by_key = {record_key(r.connector, r.external_id): int(r.id) for r in records}
        unknown = [n for n, k in enumerate(wanted, 1) if k not in by_key]
        if unknown:
            # the name is not echoed: a system may key its records by e-mail address
            raise ReviewError(f"record {unknown[0]} of the {len(wanted)} named is not a "
                              f"record of contact {contact_id} (name them CONNECTOR:ID); "
                              "`hub contacts explain` lists its records")
        moving = sorted(by_key[k] for k in wanted)
        staying = sorted(set(by_key.values()) - set(moving))
        if not staying:
            raise ReviewError(f"that would move every record of contact {contact_id}; "
                              "leave at least one behind")
        new_id = conn.execute(insert(contacts).values(
            fields={}, provenance={}, status="active", content_hash=golden.STALE,
            created_at=now, updated_at=now).returning(contacts.c.id)).scalar_one()
        conn.execute(update(source_records).where(source_records.c.id.in_(moving))
                     .values(contact_id=new_id))
        moved = {(r.connector, r.external_id) for r in records if int(r.id) in moving}
        for connector, external_id in conn.execute(
                select(sync_state.c.connector, sync_state.c.external_id).where(
                    sync_state.c.contact_id == contact_id)).all():
            if (connector, external_id) in moved:
                conn.execute(update(sync_state).where(
                    sync_state.c.connector == connector,
                    sync_state.c.contact_id == contact_id).values(contact_id=new_id,
                                                                  pushed_hash=None))
        conn.execute(update(sync_state).where(sync_state.c.contact_id == contact_id)
                     .values(pushed_hash=None))
        conn.execute(insert(merges).values(
            run_id=None, at=now, kind="split", contact_id=contact_id, other_id=new_id,
            reason=f"split by {actor}: {len(moving)} records moved to contact {new_id}",
            source_record_ids=moving))
        _remember_apart(conn, staying[0], moving[0], contact_id, new_id, now, actor)
        golden.refresh(conn, [contact_id, new_id], golden.stored_survivorship(conn), now=now)
        return int(new_id)


def _remember_apart(conn: Connection, one: int, two: int, left_contact: int,
                    right_contact: int, now: datetime, actor: str) -> None:
    """A rejected pair between the two sides: `blocked` keeps them apart from now on."""
    low, high = min(one, two), max(one, two)
    found = conn.execute(select(match_pairs.c.id).where(
        match_pairs.c.left_record == low, match_pairs.c.right_record == high)).scalar()
    values = {"status": "rejected", "decided_at": now, "actor": actor,
              "left_contact": left_contact, "right_contact": right_contact}
    if found is None:
        conn.execute(insert(match_pairs).values(
            left_record=low, right_record=high, probability=0.0, evidence={},
            created_at=now, **values))
    else:
        conn.execute(update(match_pairs).where(match_pairs.c.id == found).values(**values))


def blocked(conn: Connection, contact_ids: Sequence[int]) -> set[frozenset[int]]:
    """Pairs of these contacts a person kept apart (a rejection or a split)."""
    ids = sorted(set(contact_ids))
    if len(ids) < 2:
        return set()
    left = source_records.alias("l")
    right = source_records.alias("r")
    rows = conn.execute(
        select(left.c.contact_id, right.c.contact_id)
        .select_from(match_pairs)
        .join(left, left.c.id == match_pairs.c.left_record)
        .join(right, right.c.id == match_pairs.c.right_record)
        .where(match_pairs.c.status == "rejected",
               left.c.contact_id.in_(ids), right.c.contact_id.in_(ids)))
    return {frozenset((a, b)) for a, b in rows if a != b}


#: How `hub duplicates --json` names the stored statuses.
LISTED = {"open": "suggested", "merged": "merged", "accepted": "merged", "rejected": "rejected"}


def listing(store: Store, *, status: str | None = None) -> list[dict[str, Any]]:
    """Scored pairs as `hub duplicates --json` prints them, open ones first."""
    left = source_records.alias("l")
    right = source_records.alias("r")
    query = (select(match_pairs, left.c.connector.label("lc"), left.c.external_id.label("le"),
                    right.c.connector.label("rc"), right.c.external_id.label("re"))
             .join(left, left.c.id == match_pairs.c.left_record)
             .join(right, right.c.id == match_pairs.c.right_record)
             .order_by((match_pairs.c.status != "open"), match_pairs.c.probability.desc(),
                       match_pairs.c.id))
    if status is not None:
        query = query.where(match_pairs.c.status.in_(
            [s for s, shown in LISTED.items() if shown == status]))
    with store.begin() as conn:
        rows = conn.execute(query).all()
        now_in = survivors(conn, [c for row in rows for c in (row.left_contact,
                                                               row.right_contact)])
        return [{"id": row.id,
                 "a": {"connector": row.lc, "record_id": row.le,
                       "contact": now_in[row.left_contact]},
                 "b": {"connector": row.rc, "record_id": row.re,
                       "contact": now_in[row.right_contact]},
                 "probability": round(float(row.probability), 6),
                 "status": LISTED.get(row.status, row.status),
                 "decided_by": row.actor,
                 "evidence": {e.field: {"a": e.left, "b": e.right, "comparison": e.verdict,
                                        "weight": e.weight}
                              for e in evidence_of(row.evidence)}}
                for row in rows]


def open_count(conn: Connection) -> int:
    """Pairs waiting for a decision (for the run summary and `hub status`)."""
    return int(conn.execute(select(func.count()).select_from(match_pairs).where(
        match_pairs.c.status == "open")).scalar_one())
