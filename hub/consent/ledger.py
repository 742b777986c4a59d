"""The consent ledger: every consent observation and every decision, append-only, chained.

docs/consent.md, rule 5: observations from each system and hub's decisions are kept with their
evidence, never updated, and tamper-evident — each entry carries the hash of the previous
one, so `hub consent verify` detects an edited, removed or reordered entry. Observations are
appended when a source record's content changes (the same event is never recorded twice for
the same record); decisions when hub queues a newsletter status write.

The one permitted change is erasure (GDPR Art. 17, rule 6): the chain does not hash an
entry's personal part (address, record id, evidence) directly but its digest
(`subject_hash`), so `scrub` can remove that part, stamp `erased_at`, and the chain still
verifies; entries not erased are checked against their digest as well.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, text, update

from hub.consent import states
from hub.consent.readback import is_echo, last_written
from hub.store.bulk import chunks, insert_rows, reserve_ids
from hub.store.schema import consent_ledger, contacts, source_records

GENESIS = "0" * 64
STREAM = 5000
_FIELDS = ("contact_id", "email", "channel", "purpose", "kind", "occurred_at", "connector",
           "record_id", "evidence", "run_id", "recorded_at")
#: The personal part of an entry: sealed through its digest, removable by erasure.
_PERSONAL = ("email", "record_id", "evidence")
_SEALED = (*(f for f in _FIELDS if f not in _PERSONAL), "subject_hash")


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def subject_hash(entry: Mapping[str, Any]) -> str:
    """The digest of an entry's personal part."""
    return hashlib.sha256(_json({k: entry.get(k) for k in _PERSONAL}).encode()).hexdigest()


def _digest(prev: str, entry: Mapping[str, Any]) -> str:
    body = {k: entry.get(k) for k in _SEALED}
    body["recorded_at"] = _sealed_time(body["recorded_at"])
    return hashlib.sha256((prev + _json(body)).encode()).hexdigest()


def _sealed_time(moment: Any) -> str | None:
    """A time in the exact form the hash chain was sealed with (microseconds, +00:00).

    Not `hub.clock.iso`: changing this spelling would break the verification of every
    ledger already written.
    """
    if moment is None:
        return None
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat(timespec="microseconds")
    return str(moment)


def append(conn: Connection, entries: list[dict[str, Any]]) -> int:
    """Chain and insert `entries` (dicts with the ledger's fields) in order."""
    if not entries:
        return 0
    if conn.dialect.name == "postgresql":
        # one writer at a time across nodes: the chain has one end
        conn.execute(text("SELECT pg_advisory_xact_lock(7301)"))
    prev = conn.execute(select(consent_ledger.c.entry_hash)
                        .order_by(consent_ledger.c.id.desc()).limit(1)).scalar() or GENESIS
    ids = reserve_ids(conn, consent_ledger, len(entries))
    rows = []
    for rid, entry in zip(ids, entries, strict=True):
        sealed = {**entry, "subject_hash": subject_hash(entry)}
        digest = _digest(prev, sealed)
        rows.append((rid, *[entry.get(k) for k in _FIELDS], sealed["subject_hash"], prev,
                     digest))
        prev = digest
    insert_rows(conn, consent_ledger,
                ("id", *_FIELDS, "subject_hash", "prev_hash", "entry_hash"), rows)
    # hub's own decisions are read back as what hub wrote (rule 10): an input of the state
    states.mark(conn, (e.get("contact_id") for e in entries
                       if str(e.get("kind", "")).startswith("decision:")))
    return len(rows)


def scrub(conn: Connection, *, contact_ids: Iterable[int], email: str | None,
          now: datetime) -> int:
    """Erase the personal part of every entry about these contacts or this address."""
    ids = sorted(set(contact_ids))
    conditions = [consent_ledger.c.email == email] if email else []
    conditions += [consent_ledger.c.contact_id.in_(part) for part in chunks(ids)]
    if not conditions:
        return 0
    done = conn.execute(update(consent_ledger)
                        .where(or_(*conditions), consent_ledger.c.erased_at.is_(None))
                        .values(email=None, record_id=None, evidence=None, erased_at=now))
    return int(done.rowcount or 0)


def reseal(conn: Connection) -> int:
    """Recompute every subject digest and chain hash in order (migration 0003)."""
    prev, rows = GENESIS, []
    for row in conn.execute(select(consent_ledger).order_by(consent_ledger.c.id)):
        entry = dict(row._mapping)
        entry["subject_hash"] = subject_hash(entry)
        digest = _digest(prev, entry)
        rows.append({"rid": row.id, "s": entry["subject_hash"], "p": prev, "h": digest})
        prev = digest
    if rows:
        conn.execute(update(consent_ledger).where(consent_ledger.c.id == bindparam("rid"))
                     .values(subject_hash=bindparam("s"), prev_hash=bindparam("p"),
                             entry_hash=bindparam("h")), rows)
    return len(rows)


def record_observations(conn: Connection, *, run_id: int | None, now: datetime) -> int:
    """Append what changed records report about consent (before they are marked clean).

    Streamed in chunks: a first import of a million records never holds them all.
    """
    rows = conn.execute(select(source_records.c.id, source_records.c.contact_id,
                               source_records.c.email, source_records.c.connector,
                               source_records.c.external_id, source_records.c.consent)
                        .where(source_records.c.dirty.is_(True),
                               source_records.c.consent.is_not(None))
                        .order_by(source_records.c.id)
                        .execution_options(yield_per=STREAM))
    recorded = 0
    batch: list[Any] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= STREAM:
            recorded += _record_chunk(conn, batch, run_id, now)
            batch = []
    if batch:
        recorded += _record_chunk(conn, batch, run_id, now)
    return recorded


def _record_chunk(conn: Connection, rows: list[Any], run_id: int | None, now: datetime) -> int:
    seen: set[tuple[str, str, str, str]] = set()
    by_connector: dict[str, list[str]] = {}
    for r in rows:
        by_connector.setdefault(r.connector, []).append(r.external_id)
    for connector, external_ids in by_connector.items():
        for part in chunks(external_ids):
            seen.update((connector, ext, kind, at or "") for ext, kind, at in conn.execute(
                select(consent_ledger.c.record_id, consent_ledger.c.kind,
                       consent_ledger.c.occurred_at)
                .where(consent_ledger.c.connector == connector,
                       consent_ledger.c.record_id.in_(part))))
    written = last_written(conn, [r.contact_id for r in rows if r.contact_id is not None])
    entries = []
    for r in rows:
        for event in r.consent or ():
            key = (r.connector, r.external_id, str(event.get("kind")), event.get("at") or "")
            if key in seen:
                continue
            seen.add(key)
            evidence = dict(event.get("evidence") or {})
            mine = written.get((r.contact_id, r.connector))
            if mine is not None and is_echo(event, mine, r.external_id):
                # rule 10: recorded as what it is, hub's own write come back
                evidence["read_back"] = f"hub wrote {mine.status} here ({mine.stamp})"
            entries.append({"contact_id": r.contact_id, "email": r.email,
                            "channel": event.get("channel", "email"),
                            "purpose": event.get("purpose", "newsletter"),
                            "kind": event.get("kind"), "occurred_at": event.get("at"),
                            "connector": r.connector, "record_id": r.external_id,
                            "evidence": evidence or None, "run_id": run_id,
                            "recorded_at": now})
    return append(conn, entries)


def touch_observed(conn: Connection, run_id: int) -> None:
    """Contacts with consent news this run become candidates for this run's writes.

    A withdrawal changes no golden field, yet every system must hear of it.
    """

    news = select(consent_ledger.c.contact_id).where(
        consent_ledger.c.run_id == run_id, consent_ledger.c.contact_id.is_not(None),
        consent_ledger.c.kind.not_like("decision:%"))
    conn.execute(update(contacts).where(
        contacts.c.id.in_(news), or_(contacts.c.updated_run.is_(None),
                                     contacts.c.updated_run != run_id))
        .values(updated_run=run_id))


def decisions(entries: Iterable[tuple[int, str | None, str, str, str]], *,
              run_id: int | None, now: datetime) -> list[dict[str, Any]]:
    """Ledger entries for (contact, email, connector, state, reason) decisions hub wrote."""
    return [{"contact_id": cid, "email": email, "channel": "email", "purpose": "newsletter",
             "kind": f"decision:{state}", "occurred_at": _sealed_time(now), "connector": connector,
             "record_id": None, "evidence": {"reason": reason}, "run_id": run_id,
             "recorded_at": now}
            for cid, email, connector, state, reason in entries]


def trail(conn: Connection, contact_id: int) -> list[dict[str, Any]]:
    """Every entry about a contact, oldest first (`hub consent show`)."""
    rows = conn.execute(select(consent_ledger).where(consent_ledger.c.contact_id == contact_id)
                        .order_by(consent_ledger.c.id))
    return [{"id": r.id, "kind": r.kind, "occurred_at": r.occurred_at,
             "recorded_at": _sealed_time(r.recorded_at), "connector": r.connector,
             "record_id": r.record_id, "channel": r.channel, "purpose": r.purpose,
             "evidence": r.evidence or {}, "entry_hash": r.entry_hash} for r in rows]


@dataclass(frozen=True)
class Verification:
    """The result of walking the chain."""

    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str | None = None


def verify(conn: Connection) -> Verification:
    """Recompute every hash in order; the first mismatch is reported with its entry id."""
    prev = GENESIS
    checked = 0
    for row in conn.execute(select(consent_ledger).order_by(consent_ledger.c.id)
                            .execution_options(yield_per=5000)):
        entry = dict(row._mapping)
        if entry["prev_hash"] != prev:
            return Verification(False, checked, row.id,
                                "the entry before it was changed, removed or reordered")
        if row.erased_at is None and subject_hash(entry) != row.subject_hash:
            return Verification(False, checked, row.id,
                                "the entry's address, record or evidence was changed")
        if _digest(prev, entry) != row.entry_hash:
            return Verification(False, checked, row.id, "the entry itself was changed")
        prev = row.entry_hash
        checked += 1
    return Verification(True, checked)
