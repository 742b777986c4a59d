"""PUSH: drain one connector's outbox in batches and record the system's answer per record.

The batch is read in one transaction, written to the system outside any transaction, and the
answers committed in another; a crash in between leaves the rows pending and they are written
again next run (the write is a full-state upsert, so that is harmless). A record the system
rejects becomes a dead letter with the system's reason; a retryable answer keeps the row
pending until `MAX_ATTEMPTS`, after which it is a dead letter too, so nothing waits forever
unseen. Plugins may veto or transform a record just before it is written; a record a plugin
raised over is set aside as a dead letter naming the plugin (never written unvetted, never
lost: `hub dead-letters --retry` sends it again once the plugin is fixed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, update

from hub.connector import Capability, Connector, OutboundRecord, Rejection, WriteResult
from hub.consent import states as consent_states
from hub.errors import Interrupted
from hub.pipeline.outbox import is_secondary
from hub.pipeline.progress import ProgressSink, RejectionSink, StopSignal
from hub.registry import HookFailed, Plugins
from hub.store import Store, upsert
from hub.store.bulk import Json, chunks, insert_rows, reserve_ids
from hub.store.schema import (
    contacts,
    dead_letters,
    merges,
    outbox,
    source_records,
    sync_state,
)

MAX_ATTEMPTS = 5


@dataclass
class PushStats:
    """What draining one connector's outbox did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    retried: int = 0
    batches: int = 0


def drain(store: Store, connector: Connector, plugins: Plugins, *, run_id: int | None,
          now: datetime, progress: ProgressSink, on_reject: RejectionSink,
          stop: StopSignal | None = None) -> PushStats:
    """Write every pending outbox row of `connector` once (retries wait for the next run).

    With `stop` set, draining ends after the batch in flight is settled (`Interrupted`); the
    rest stays pending for the next run.
    """
    stats = PushStats()
    last_id = 0
    while True:
        if stop is not None and stop.is_set():
            raise Interrupted(f"stopped while writing to {connector.name}; "
                              "the rest of its outbox waits for the next run")
        with store.begin() as conn:
            rows = conn.execute(
                select(outbox).where(outbox.c.connector == connector.name,
                                     outbox.c.status == "pending", outbox.c.id > last_id)
                .order_by(outbox.c.id).limit(connector.batch_size)).all()
        if not rows:
            return stats
        last_id = rows[-1].id
        records, vetoed = _prepare(connector.name, rows, plugins)
        if records:
            with store.begin() as conn:
                _mark_in_flight(conn, connector.name, rows, {r.key for r in records}, now)
        results = connector.write(records) if records else []
        stats.batches += 1
        with store.begin() as conn:
            _settle(conn, connector.name, rows, records, results, vetoed, run_id=run_id,
                    now=now, stats=stats, on_reject=on_reject,
                    reads_back=Capability.READ_CONTACTS in connector.capabilities)
        progress.advance(len(rows))


def _prepare(name: str, rows: Sequence[Any],
             plugins: Plugins) -> tuple[list[OutboundRecord], dict[str, tuple[str, str]]]:
    """The records to write, and the ones set aside: key → (reason, dead-letter stage)."""
    records: list[OutboundRecord] = []
    vetoed: dict[str, tuple[str, str]] = {}
    for row in rows:
        fields = dict(row.payload)
        consent = fields.pop("consent", None)  # hub's decision, not a field plugins may change
        record = OutboundRecord(key=row.key, contact_id=row.contact_id, fields=fields,
                                external_id=row.external_id, operation=row.operation,
                                consent=consent)
        try:
            reasons = plugins.veto_push(name, record)
            if reasons:
                vetoed[row.key] = (f"vetoed by a plugin: {'; '.join(reasons)}", "veto")
                continue
            overrides = plugins.transform_push(name, record)
        except HookFailed as exc:  # the rest of the batch goes on
            vetoed[row.key] = (exc.reason, "plugin")
            continue
        if overrides:
            fields = {**record.fields, **overrides}
            record = OutboundRecord(key=record.key, contact_id=record.contact_id, fields=fields,
                                    external_id=record.external_id, operation=record.operation,
                                    consent=record.consent)
        records.append(record)
    return records, vetoed


def _settle(conn: Any, name: str, rows: Sequence[Any], records: Sequence[OutboundRecord],
            results: Sequence[WriteResult], vetoed: dict[str, tuple[str, str]], *,
            run_id: int | None, now: datetime, stats: PushStats, on_reject: RejectionSink,
            reads_back: bool) -> None:
    by_key = {result.key: result for result in results}
    done: list[dict[str, Any]] = []
    states: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    letters: list[dict[str, Any]] = []
    erased: list[dict[str, Any]] = []
    #: records the system named for writes an earlier run sent and never heard back about
    unanswered = _unanswered(conn, name, rows, now)
    blind: dict[str, datetime] = {}
    sent = {record.key for record in records}
    for row in rows:
        if row.key in vetoed:
            reason, stage = vetoed[row.key]
        elif row.key not in sent:
            continue
        else:
            result = by_key.get(row.key) or WriteResult(
                key=row.key, status="retry",
                reason="the connector returned no result for this record")
            if result.status in ("created", "updated", "unchanged"):
                setattr(stats, result.status, getattr(stats, result.status) + 1)
                done.append({"oid": row.id})
                if row.operation == "erase":
                    erased.append({"oid": row.id})
                if row.operation == "erase" or is_secondary(row.key):
                    continue  # erased, or a further record: no sync state of its own
                states.append({"connector": name, "contact_id": row.contact_id,
                               "external_id": result.external_id or row.external_id,
                               "pushed_hash": row.payload_hash, "pushed_at": now})
                if row.contact_id in unanswered and result.external_id:
                    blind[result.external_id] = unanswered[row.contact_id]
                continue
            attempts = row.attempts + 1
            if result.status == "retry" and attempts < MAX_ATTEMPTS:
                stats.retried += 1
                failed.append({"oid": row.id, "attempts": attempts, "status": "pending",
                               "error": result.reason})
                continue
            reason = result.reason or "rejected without a reason"
            if result.status == "retry":
                reason = f"gave up after {attempts} attempts: {reason}"
            stage = "push"
        stats.rejected += 1
        failed.append({"oid": row.id, "attempts": row.attempts + 1, "status": "dead",
                       "error": reason})
        letters.append({"run_id": run_id, "connector": name, "stage": stage,
                        "record_id": row.external_id or f"contact:{row.contact_id}",
                        "origin": f"outbox {row.key}", "reason": reason,
                        "payload": dict(row.payload), "created_at": now})
        on_reject(name, Rejection(record_id=row.external_id or f"contact:{row.contact_id}",
                                  reason=reason, origin=stage))
    if done:
        conn.execute(update(outbox).where(outbox.c.id == bindparam("oid"))
                     .values(status="done"), done)
    if erased:
        # the address (and the system's id, Mailchimp's an unsalted MD5 of it) was only kept
        # until the system confirmed the erasure; the key's keyed hash is all that stays
        conn.execute(update(outbox).where(outbox.c.id == bindparam("oid"))
                     .values(payload={}, external_id=None, last_error=None), erased)
    if failed:
        conn.execute(update(outbox).where(outbox.c.id == bindparam("oid")).values(
            status=bindparam("status"), attempts=bindparam("attempts"),
            last_error=bindparam("error")), failed)
    if letters:
        conn.execute(insert(dead_letters), letters)
        # a refused first write created nothing: forget the note, the planner retries it
        dead = {f["oid"] for f in failed if f["status"] == "dead"}
        settled = sorted({row.contact_id for row in rows if row.id in dead})
        for part in chunks(settled):
            conn.execute(delete(sync_state).where(
                sync_state.c.connector == name, sync_state.c.contact_id.in_(part),
                sync_state.c.pushed_hash == IN_FLIGHT))
        consent_states.mark(conn, settled)
    upsert(conn, sync_state, states, ("connector", "contact_id"))
    # the record each sync state names is an input of the contact's consent state
    consent_states.mark(conn, (s["contact_id"] for s in states))
    if reads_back:
        _link_written(conn, name, states, now, run_id, blind)


def _link_written(conn: Any, name: str, states: list[dict[str, Any]], now: datetime,
                  run_id: int | None, blind: dict[str, datetime]) -> None:
    """Tie each record a system acknowledged to the contact hub wrote it for.

    When the system's next read returns that record, it updates this placeholder instead of
    arriving as a stranger, so hub's own write never comes back as a new contact (which
    would happen whenever the record cannot be matched by e-mail, e.g. a shared address).
    """
    written = {s["external_id"]: s["contact_id"] for s in states if s["external_id"]}
    if not written:
        return
    known: dict[str, tuple[int, int | None]] = {}
    for part in chunks(sorted(written)):
        known.update((ext, (rid, cid)) for rid, ext, cid in conn.execute(
            select(source_records.c.id, source_records.c.external_id,
                   source_records.c.contact_id).where(
                source_records.c.connector == name, source_records.c.external_id.in_(part))))
    _adopt_echoes(conn, name, {ext: (rid, owner, written[ext], blind[ext])
                               for ext, (rid, owner) in known.items()
                               if owner is not None and owner != written[ext] and ext in blind},
                  now, run_id)
    fresh = [(ext, cid) for ext, cid in written.items() if ext not in known]
    if not fresh:
        return
    ids = reserve_ids(conn, source_records, len(fresh))
    empty = Json("{}")
    insert_rows(conn, source_records,
                ("id", "connector", "external_id", "contact_id", "fields", "content_hash",
                 "seen_at", "deleted", "dirty", "origin"),
                [(rid, name, ext, cid, empty, "", now, False, False, "written by hub")
                 for rid, (ext, cid) in zip(ids, fresh, strict=True)])


#: `sync_state.pushed_hash` of a first write that was sent and not yet answered.
IN_FLIGHT = "in flight"


def _mark_in_flight(conn: Any, name: str, rows: Sequence[Any], sent: set[str],
                    now: datetime) -> None:
    """Before a batch goes out: note each first write to a contact (no record known yet).

    If the run dies before the answers are recorded, the system may have created records
    hub never heard of; the note lets the next run recognise them (`_adopt_echoes`). A
    contact with a sync state already has its record and needs no note.
    """
    first = {row.contact_id for row in rows if row.key in sent and row.external_id is None
             and row.operation != "erase" and not is_secondary(row.key)}
    if not first:
        return
    have: set[int] = set()
    for part in chunks(sorted(first)):
        have.update(conn.execute(select(sync_state.c.contact_id).where(
            sync_state.c.connector == name, sync_state.c.contact_id.in_(part))).scalars())
    fresh = [{"connector": name, "contact_id": cid, "external_id": None,
              "pushed_hash": IN_FLIGHT, "pushed_at": now} for cid in sorted(first - have)]
    if fresh:
        conn.execute(insert(sync_state), fresh)
        consent_states.mark(conn, sorted(first - have))


def _unanswered(conn: Any, name: str, rows: Sequence[Any],
                now: datetime) -> dict[int, datetime]:
    """Contacts of `rows` whose first write an earlier run sent and never heard back about,
    with when it was sent."""
    ids = sorted({row.contact_id for row in rows})
    found: dict[int, datetime] = {}
    for part in chunks(ids):
        rows_sent = conn.execute(select(sync_state.c.contact_id, sync_state.c.pushed_at).where(
            sync_state.c.connector == name, sync_state.c.contact_id.in_(part),
            sync_state.c.pushed_hash == IN_FLIGHT, sync_state.c.pushed_at < now))
        found.update((contact_id, sent) for contact_id, sent in rows_sent)
    return found


def _adopt_echoes(conn: Any, name: str, echoes: dict[str, tuple[int, int, int, datetime]],
                  now: datetime, run_id: int | None) -> None:
    """Records hub created whose acknowledgement was lost, read back as strangers meanwhile.

    A run killed after the system took a write but before hub recorded the answer leaves
    the record unlinked; the next read brings it in as a contact of its own when it cannot
    be matched (a shared address). The repeated write's answer names that record. It is
    hub's own echo when an earlier run sent that first write and never heard back
    (`_mark_in_flight`), and the contact now holding the record appeared only after that
    write (so the record is not one the system had before: a shared address hub merely
    wrote to) and holds nothing else. Then it folds into the contact hub wrote the record
    for, audited like any merge.
    """
    for external_id, (record_id, stranger, owner, sent_at) in echoes.items():
        others = conn.execute(select(source_records.c.id).where(
            source_records.c.contact_id == stranger,
            source_records.c.id != record_id).limit(1)).first()
        born = conn.execute(select(contacts.c.created_at).where(
            contacts.c.id == stranger)).scalar()
        if others is not None or born is None or born <= sent_at:
            continue  # a contact of its own standing: identity decides, not this
        conn.execute(update(source_records).where(source_records.c.id == record_id)
                     .values(contact_id=owner, dirty=True))
        conn.execute(delete(sync_state).where(sync_state.c.contact_id == stranger))
        consent_states.mark(conn, (owner, stranger))
        conn.execute(update(contacts).where(contacts.c.id == stranger).values(
            status="merged", merged_into=owner, updated_at=now, updated_run=run_id))
        conn.execute(insert(merges).values(
            run_id=run_id, at=now, kind="merged", contact_id=owner, other_id=stranger,
            reason=f"{name} record {external_id} is hub's own write for contact {owner}, read "
                   "back before its acknowledgement was recorded",
            source_record_ids=[record_id]))
