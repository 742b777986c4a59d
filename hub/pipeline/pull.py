"""PULL: read each connector's changed records page by page into `source_records`.

Each page and the cursor after it are committed in one transaction (the checkpoint), so a
crash resumes from the last committed page and never skips or double-counts one. Records whose
normalised content did not change since the last read are skipped without a write: that is
what makes a no-change re-run cheap. Records that cannot be used (an invalid e-mail, a
malformed row) become dead letters with the reason; the rest of the page goes on.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from hub.clock import as_utc
from hub.connector import Connector, ConsentObservation, Page, Rejection, SourceRecord
from hub.consent.suppression import Suppressed
from hub.errors import Interrupted
from hub.pipeline.normalize import Normalizer
from hub.pipeline.progress import ProgressSink, RejectionSink, StopSignal
from hub.store import Store
from hub.store.bulk import (
    chunks,
    driver_cursor,
    dumps,
    insert_rows,
    placeholder,
    reserve_ids,
    update_rows,
)
from hub.store.schema import cursors, dead_letters, identity_keys, source_records


@dataclass
class PullStats:
    """What reading one connector did, for the run summary and reconciliation."""

    read: int = 0
    #: Records and unreadable rows the system delivered (for the reported-total check).
    received: int = 0
    changed: int = 0
    skipped_unchanged: int = 0
    rejected: int = 0
    deleted: int = 0
    #: Records refused because their address was erased (`hub consent forget`).
    suppressed: int = 0
    pages: int = 0
    reported_total: int | None = None
    #: Ids seen in a full read (None otherwise): the sweep compares them with hub's links.
    seen: set[str] | None = None


def load_cursor(store: Store, connector: str, stream: str) -> str | None:
    """The committed cursor of `connector`/`stream`, None before the first read."""
    with store.begin() as conn:
        return conn.execute(select(cursors.c.value).where(
            cursors.c.connector == connector, cursors.c.stream == stream)).scalar()


def pull(store: Store, connector: Connector, stream: str, *, normalizer: Normalizer,
         run_id: int, now: datetime, full: bool, progress: ProgressSink,
         on_reject: RejectionSink, stats: PullStats | None = None,
         stop: StopSignal | None = None) -> PullStats:
    """Read `stream` of `connector` from its cursor (or from scratch with `full`).

    `stats` is filled as pages commit, so a read that fails half-way still reports what
    it committed. When `stop` is set, the read ends after the page it is on has committed
    (raising `Interrupted`): the next run resumes from exactly that checkpoint.
    """
    stats = stats if stats is not None else PullStats()
    cursor = None if full else load_cursor(store, connector.name, stream)
    if cursor is None:
        stats.seen = set()
    with store.begin() as conn:
        known = conn.execute(select(source_records.c.id).where(
            source_records.c.connector == connector.name).limit(1)).first() is not None
        suppressed = Suppressed(conn)
    # a first read has nothing to ask about: its pages' ids are new (an id repeated within
    # it is built again, and the content hash sorts it out as for any connector)
    connector.context.unchanged = Unchanged(store, connector.name, normalizer.fingerprint) \
        if known else None
    try:
        for page in connector.read(stream, cursor):
            with store.begin() as conn:
                _apply_page(conn, connector.name, page, normalizer=normalizer, run_id=run_id,
                            now=now, known=known, stats=stats, on_reject=on_reject,
                            suppressed=suppressed)
                _save_cursor(conn, connector.name, stream, page.cursor, now)
                suppressed.save(conn)
            known = known or stats.changed > 0  # later pages may repeat an id of an earlier one
            stats.pages += 1
            if page.total is not None:
                stats.reported_total = page.total
            delivered = len(page.records) + len(page.rejected) + len(page.unchanged)
            stats.received += delivered
            if stats.seen is not None:
                stats.seen.update(record.id for record in page.records)
                stats.seen.update(page.unchanged)
            progress.advance(delivered)
            if stop is not None and stop.is_set():
                raise Interrupted(f"stopped after a checkpoint of {connector.name}/{stream}")
    finally:
        connector.context.unchanged = None
    return stats


class Unchanged:
    """`ConnectorContext.unchanged` for one read: which digests match what hub holds.

    A stored record counts only while it is live: one the sweep marked deleted (it had
    vanished from its system) must be taken again when it comes back, unchanged or not.
    """

    def __init__(self, store: Store, connector: str, fingerprint: str) -> None:
        self.store = store
        self.connector = connector
        self.fingerprint = fingerprint

    def __call__(self, digests: Mapping[str, str]) -> set[str]:
        if not digests:
            return set()
        found: set[str] = set()
        tag = _tag(self.fingerprint)
        with self.store.begin() as conn:
            mark = placeholder(conn)
            # the driver's own cursor: this runs for every row of a re-read file
            with driver_cursor(conn) as cursor:
                for part in chunks(list(digests)):
                    marks = ", ".join([mark] * len(part))
                    cursor.execute(
                        "SELECT external_id, raw_hash FROM source_records WHERE connector = "
                        f"{mark} AND NOT deleted AND external_id IN ({marks})",
                        (self.connector, *part))
                    for ext, stored in cursor.fetchall():
                        if stored is not None and stored == digests[ext][:24] + tag:
                            found.add(ext)
        return found


def raw_hash(fingerprint: str, digest: str) -> str:
    """What `source_records.raw_hash` holds: the connector's digest under this normalisation.

    (Up to) 96 bits of the digest and 32 of the normalisation's fingerprint, side by side
    rather than hashed together, so comparing a re-read row costs no hashing.
    """
    return digest[:24] + _tag(fingerprint)


@functools.lru_cache(maxsize=8)
def _tag(fingerprint: str) -> str:
    return hashlib.md5(fingerprint.encode(), usedforsecurity=False).hexdigest()[:8]


_COLUMNS = ("connector", "external_id", "email", "fields", "problems", "signals", "consent",
            "content_hash", "raw_hash", "source_updated_at", "seen_at", "deleted", "dirty",
            "origin")


def _apply_page(conn: Connection, name: str, page: Page, *, normalizer: Normalizer,
                run_id: int, now: datetime, known: bool, stats: PullStats,
                on_reject: RejectionSink, suppressed: Suppressed) -> None:
    letters: list[dict[str, Any]] = []
    for rejection in page.rejected:
        letters.append(_letter(name, run_id, now, rejection))
        on_reject(name, rejection)
    # the record as delivered, hashed before any normalising: a re-read whose records did
    # not change (a re-exported CSV, a full read) costs a hash and a lookup per record
    latest: dict[str, tuple[SourceRecord, str]] = {}
    for record in page.records:
        stats.read += 1
        if record.deleted:
            stats.deleted += 1
        # a system listing one id twice: the later entry wins
        latest[record.id] = (record, _digest(record, normalizer.fingerprint))
    existing: dict[str, tuple[int, str, bool, str | None]] = {}
    if known:
        for part in chunks(list(latest)):
            for rid, ext, digest, deleted, raw in conn.execute(
                select(source_records.c.id, source_records.c.external_id,
                       source_records.c.content_hash, source_records.c.deleted,
                       source_records.c.raw_hash)
                .where(source_records.c.connector == name,
                       source_records.c.external_id.in_(part))):
                existing[ext] = (rid, digest, deleted, raw)

    rows: dict[str, tuple[Any, ...]] = {}
    keys: dict[str, tuple[str, ...]] = {}
    restamped: list[tuple[str | None, int]] = []
    for ext, (record, digest) in latest.items():
        raw = raw_hash(normalizer.fingerprint, record.digest) if record.digest else None
        stored = existing.get(ext)
        # unchanged, unless the sweep marked it deleted (gone from its system) and it is back
        if stored is not None and stored[1] == digest and stored[2] == record.deleted:
            stats.skipped_unchanged += 1
            if stored[3] != raw:  # the same record delivered differently (or before 0014)
                restamped.append((raw, stored[0]))
            continue
        prepared = _prepare(name, record, normalizer, now, digest, raw)
        if isinstance(prepared, Rejection):
            letters.append(_letter(name, run_id, now, prepared))
            on_reject(name, prepared)
            continue
        row, merge_keys = prepared
        if suppressed.refuses((row[2], *merge_keys)):
            stats.suppressed += 1  # erased: never stored, never written anywhere
            continue
        rows[ext] = row
        keys[ext] = merge_keys
    stats.read += len(page.unchanged)
    stats.skipped_unchanged += len(page.unchanged)
    stats.rejected += len(letters)
    if letters:
        conn.execute(insert(dead_letters), letters)
    if restamped:
        update_rows(conn, source_records, ("raw_hash",), "id", restamped)
    if not rows:
        return

    fresh = [(ext, row) for ext, row in rows.items() if ext not in existing]
    changed = [(existing[ext][0], ext, row) for ext, row in rows.items() if ext in existing]
    stats.changed += len(fresh) + len(changed)

    key_rows: list[tuple[str, int]] = []
    if fresh:
        ids = reserve_ids(conn, source_records, len(fresh))
        insert_rows(conn, source_records, ("id", *_COLUMNS),
                    [(rid, *row) for rid, (_, row) in zip(ids, fresh, strict=True)])
        for rid, (ext, _) in zip(ids, fresh, strict=True):
            key_rows.extend((k, rid) for k in keys[ext])
    if changed:
        for id_part in chunks([rid for rid, _, _ in changed]):
            conn.execute(delete(identity_keys).where(
                identity_keys.c.source_record_id.in_(id_part)))
        update_rows(conn, source_records, _COLUMNS[2:], "id",
                    [(*row[2:], rid) for rid, _, row in changed])
        for rid, ext, _ in changed:
            key_rows.extend((k, rid) for k in keys[ext])
    insert_rows(conn, identity_keys, ("key", "source_record_id"), key_rows)


def _digest(record: SourceRecord, fingerprint: str) -> str:
    """What a record's content hash is made of: its fields, consent, signals, deletion.

    Not its time or origin (a re-export moves both without changing anyone), and with the
    normaliser's `fingerprint`, so new normalisation settings make every record new again.
    """
    blob = dumps((fingerprint, record.fields, record.consent, record.signals, record.deleted))
    return hashlib.md5(blob.encode(), usedforsecurity=False).hexdigest()


def _prepare(name: str, record: SourceRecord, normalizer: Normalizer, now: datetime,
             digest: str, raw: str | None
             ) -> tuple[tuple[Any, ...], tuple[str, ...]] | Rejection:
    """The store row for `record` (in `_COLUMNS` order) and its merge keys, or why not."""
    normalised = normalizer.record(record.fields)
    if normalised.invalid_email is not None:
        return Rejection(record_id=record.id, reason=normalised.invalid_email,
                         origin=record.origin)
    fields = dumps(normalised.values())
    problems = dumps([list(p) for p in normalised.problems]) if normalised.problems else None
    consent = dumps([_consent_json(c) for c in record.consent]) if record.consent else None
    signals = dumps(dict(record.signals)) if record.signals else None
    row = (name, record.id, normalised.email, fields, problems, signals, consent, digest, raw,
           as_utc(record.updated_at), now, record.deleted, True, record.origin)
    # a record deleted in its system keeps its contact link but joins nobody any more
    merge_keys = () if record.deleted else tuple(normalised.merge_keys)
    return row, merge_keys


def _consent_json(observation: ConsentObservation) -> dict[str, Any]:
    return {
        "kind": observation.kind,
        "at": observation.at.astimezone(UTC).isoformat() if observation.at else None,
        "purpose": observation.purpose,
        "channel": observation.channel,
        "evidence": dict(observation.evidence),
    }


def _letter(name: str, run_id: int, now: datetime, rejection: Rejection) -> dict[str, Any]:
    return {
        "run_id": run_id, "connector": name, "stage": "read", "record_id": rejection.record_id,
        "origin": rejection.origin, "reason": rejection.reason,
        "payload": dict(rejection.payload) if rejection.payload else None, "created_at": now,
    }


def _save_cursor(conn: Connection, name: str, stream: str, value: str | None,
                 now: datetime) -> None:
    updated = conn.execute(update(cursors).where(
        cursors.c.connector == name, cursors.c.stream == stream).values(
        value=value, updated_at=now)).rowcount
    if not updated:
        conn.execute(insert(cursors).values(connector=name, stream=stream, value=value,
                                            updated_at=now))


def sweep(store: Store, name: str, seen: set[str], now: datetime) -> list[str]:
    """After a complete read: records hub holds that the system no longer lists.

    They are marked deleted (they stop joining and contributing values; their contact stays
    and nothing is deleted anywhere) and returned, so the run can report the drift.
    """
    with store.begin() as conn:
        known = conn.execute(select(source_records.c.id, source_records.c.external_id).where(
            source_records.c.connector == name, source_records.c.deleted.is_(False))).all()
        vanished = [(rid, ext) for rid, ext in known if ext not in seen]
        for part in chunks([rid for rid, _ in vanished]):
            conn.execute(update(source_records).where(source_records.c.id.in_(part))
                         .values(deleted=True, dirty=True, seen_at=now))
            conn.execute(delete(identity_keys).where(
                identity_keys.c.source_record_id.in_(part)))
    return sorted(ext for _, ext in vanished)
