"""Erasure (GDPR Art. 17): `hub consent forget`, complete and sticky (docs/consent.md, rule 6).

In one transaction hub:

1. finds every contact holding the address (golden, source record or merge key),
2. queues an ``erase`` write for every system that holds one of their records and can delete
   (Mailchimp permanent delete, HubSpot GDPR delete, Shopify customer data erasure, a CSV
   export's row) — through the outbox, so an unreachable system is retried by the next run,
3. deletes the contacts, their source records, merge keys, sync state, waiting writes, dead
   letters and merge audit rows from the store,
4. erases the personal part of their consent ledger entries (the chain stays verifiable) and
   appends an ``erasure`` entry,
5. puts a salted hash of the address on the suppression list (first, in the same
   transaction), so any later import of it is refused and counted,
6. scrubs the traces hub's own bookkeeping kept: run summaries (a rejection reason quoting
   the address, a record id), dead letters of rows that held the address, and the
   last errors of outbox rows. A finished ``erase`` write keeps only its key, whose hash is
   keyed like the suppression list's (the system's own id — Mailchimp's is the unsalted MD5
   of the address — is dropped once the system confirmed).

Systems that hold the person but cannot delete (a read-only CSV import) are reported by
name: ops must remove the person there; meanwhile every re-import is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, String, cast, delete, insert, or_, select, update

from hub.connector import Rejection
from hub.consent import ledger, states, suppression
from hub.errors import HubError
from hub.pipeline.normalize import InvalidEmail, Normalizer
from hub.pipeline.outbox import payload_hash
from hub.store.bulk import chunks
from hub.store.schema import (
    contacts,
    dead_letters,
    identity_keys,
    match_keys,
    match_pairs,
    merges,
    outbox,
    runs,
    source_records,
    sync_state,
)

#: What replaces an erased person's address, phone or record id in hub's own history.
ERASED = "(erased)"

if TYPE_CHECKING:
    from hub.runtime import Runtime


@dataclass
class Erasure:
    """What `forget` did, for the CLI's report (no address in it)."""

    contacts: int = 0
    records: int = 0
    ledger_entries: int = 0
    #: Deletions queued per system.
    queued: dict[str, int] = field(default_factory=dict)
    #: Systems holding the person that hub cannot delete from: name → why.
    manual: dict[str, str] = field(default_factory=dict)
    already_suppressed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """The shape `hub consent forget --json` prints."""
        return {"contacts": self.contacts, "records": self.records,
                "ledger_entries_erased": self.ledger_entries,
                "deletions_queued": dict(sorted(self.queued.items())),
                "delete_manually": dict(sorted(self.manual.items())),
                "already_suppressed": self.already_suppressed}


def address_of(email: str) -> str:
    """The normalised address, or a clear error for something that is not one."""
    try:
        return Normalizer().email(email)
    except InvalidEmail as exc:
        raise HubError(f"{email!r} is not an e-mail address ({exc}) — give the address to "
                       "erase, as it appears in any connected system") from None


def _contacts_holding(conn: Connection, address: str) -> set[int]:
    found = set(conn.execute(select(contacts.c.id).where(contacts.c.email == address)).scalars())
    found |= {cid for cid in conn.execute(select(source_records.c.contact_id).where(
        source_records.c.email == address)).scalars() if cid is not None}
    found |= {cid for cid in conn.execute(
        select(source_records.c.contact_id)
        .join(identity_keys, identity_keys.c.source_record_id == source_records.c.id)
        .where(identity_keys.c.key == address)).scalars() if cid is not None}
    # contacts folded into these (or these into others) hold the same person's data
    while True:
        more = set(conn.execute(select(contacts.c.id, contacts.c.merged_into).where(or_(
            contacts.c.merged_into.in_(found), contacts.c.id.in_(found)))).all())
        grown = found | {a for a, _ in more} | {b for _, b in more if b is not None}
        if grown == found:
            return found
        found = grown


def forget(conn: Connection, email: str, *, deletable: Mapping[str, bool | None],
           now: datetime) -> Erasure:
    """Erase everything about `email` (see the module docstring).

    `deletable` says per configured connector whether it can delete records (None: unknown
    now, e.g. its secret is not set here; the deletion is queued and the next run decides).
    """
    address = address_of(email)
    result = Erasure()
    digest, fresh = suppression.add(conn, address, now=now)
    result.already_suppressed = not fresh
    ids = _contacts_holding(conn, address)
    held: dict[tuple[str, str], tuple[int, str | None]] = {}
    traces: set[str] = {address, email.strip()}
    for part in chunks(sorted(ids)):
        for connector, external_id, contact_id, record_email, fields in conn.execute(
                select(source_records.c.connector, source_records.c.external_id,
                       source_records.c.contact_id, source_records.c.email,
                       source_records.c.fields)
                .where(source_records.c.contact_id.in_(part))):
            held[(connector, external_id)] = (contact_id, record_email)
            traces.update(_identifying(external_id, record_email, fields))
        for connector, external_id, contact_id in conn.execute(
                select(sync_state.c.connector, sync_state.c.external_id, sync_state.c.contact_id)
                .where(sync_state.c.contact_id.in_(part), sync_state.c.external_id.is_not(None))):
            held.setdefault((connector, external_id), (contact_id, None))
    rows = []
    for n, ((connector, external_id), owner) in enumerate(sorted(held.items())):
        contact_id, record_email = owner
        can = deletable.get(connector)
        if can is False:
            result.manual[connector] = ("it cannot delete records (read-only or no delete "
                                        "support): remove the person there by hand")
            continue
        if connector not in deletable:
            result.manual[connector] = "no longer configured: remove the person there by hand"
            continue
        payload = {"email": record_email or address}
        rows.append({"key": f"{connector}:erase:{digest[:32]}:{n}", "connector": connector,
                     "contact_id": contact_id, "operation": "erase", "payload": payload,
                     "payload_hash": payload_hash(payload), "external_id": external_id,
                     "status": "pending", "attempts": 0, "created_at": now, "run_id": None})
        result.queued[connector] = result.queued.get(connector, 0) + 1
    external = [ext for _, ext in held]
    for part in chunks(sorted(ids)):
        conn.execute(delete(outbox).where(outbox.c.contact_id.in_(part),
                                          outbox.c.operation != "erase"))
        conn.execute(delete(sync_state).where(sync_state.c.contact_id.in_(part)))
        conn.execute(delete(merges).where(or_(merges.c.contact_id.in_(part),
                                              merges.c.other_id.in_(part))))
        conn.execute(delete(dead_letters).where(dead_letters.c.record_id.in_(
            [f"contact:{cid}" for cid in part])))
        record_ids = list(conn.execute(select(source_records.c.id).where(
            source_records.c.contact_id.in_(part))).scalars())
        # scored pairs quote both records' values as evidence: they go with the person
        conn.execute(delete(match_pairs).where(or_(match_pairs.c.left_contact.in_(part),
                                                   match_pairs.c.right_contact.in_(part))))
        for rids in chunks(record_ids):
            conn.execute(delete(match_pairs).where(or_(match_pairs.c.left_record.in_(rids),
                                                       match_pairs.c.right_record.in_(rids))))
            conn.execute(delete(match_keys).where(match_keys.c.source_record_id.in_(rids)))
            conn.execute(delete(identity_keys).where(identity_keys.c.source_record_id.in_(rids)))
            conn.execute(delete(source_records).where(source_records.c.id.in_(rids)))
        result.records += len(record_ids)
        result.contacts += int(conn.execute(delete(contacts).where(
            contacts.c.id.in_(part))).rowcount or 0)
    # the next refresh finds them gone and drops their stored states
    states.mark(conn, ids)
    for names in chunks(sorted(external)):
        conn.execute(delete(dead_letters).where(dead_letters.c.record_id.in_(names)))
    if rows:
        conn.execute(insert(outbox), rows)
    result.ledger_entries = ledger.scrub(conn, contact_ids=ids, email=address, now=now)
    scrub_history(conn, traces)
    ledger.append(conn, [{"contact_id": None, "email": None, "channel": "email",
                          "purpose": "newsletter", "kind": "erasure",
                          "occurred_at": now.isoformat(), "connector": None, "record_id": None,
                          "evidence": {"suppression": digest,
                                       "deletions_queued": sum(result.queued.values())},
                          "run_id": None, "recorded_at": now}])
    return result


def _identifying(external_id: str | None, record_email: str | None,
                 fields: Mapping[str, Any] | None) -> set[str]:
    """The strings of one record that would identify the person in a message."""
    found = {value for value in (external_id, record_email) if value}
    fields = fields or {}
    for name in ("email", "phone"):
        value = fields.get(name)
        if isinstance(value, str) and value.strip():
            found.add(value.strip())
    for value in fields.get("emails") or ():
        if isinstance(value, str):
            found.add(value)
    return found


def scrub_history(conn: Connection, traces: Iterable[str]) -> None:
    """Replace `traces` (an address, a phone, a record id) in hub's own records of past runs.

    A trace matches only as a whole token, so the record id "101" leaves "1010 records" alone.
    Dead letters (of any stage) that quote a trace are deleted: they are the person's row.
    """
    needles = sorted({t for t in traces if t and len(t) >= 3}, key=len, reverse=True)
    if not needles:
        return
    pattern = re.compile(r"(?<![\w.@+-])(?:" + "|".join(map(re.escape, needles))
                         + r")(?![\w@-]|\.\w)", re.IGNORECASE)

    def quoted(column: Any) -> Any:
        return or_(*(cast(column, String).ilike(f"%{n}%") for n in needles))

    for row in conn.execute(select(runs.c.id, runs.c.summary).where(quoted(runs.c.summary))):
        cleaned = _replaced(row.summary, pattern)
        if cleaned != row.summary:
            conn.execute(update(runs).where(runs.c.id == row.id).values(summary=cleaned))
    for row in conn.execute(select(outbox.c.id, outbox.c.last_error)
                            .where(quoted(outbox.c.last_error))):
        conn.execute(update(outbox).where(outbox.c.id == row.id).values(
            last_error=pattern.sub(ERASED, row.last_error)))
    doomed = [row.id for row in conn.execute(
        select(dead_letters.c.id, dead_letters.c.record_id, dead_letters.c.reason,
               dead_letters.c.payload)
        .where(or_(quoted(dead_letters.c.record_id), quoted(dead_letters.c.reason),
                   quoted(dead_letters.c.payload))))
        if any(pattern.search(str(v)) for v in (row.record_id, row.reason, row.payload) if v)]
    for part in chunks(doomed):
        conn.execute(delete(dead_letters).where(dead_letters.c.id.in_(part)))


def _replaced(value: Any, pattern: re.Pattern[str]) -> Any:
    """`value` (JSON) with every matching string part replaced."""
    if isinstance(value, str):
        return pattern.sub(ERASED, value)
    if isinstance(value, list):
        return [_replaced(v, pattern) for v in value]
    if isinstance(value, dict):
        return {k: _replaced(v, pattern) for k, v in value.items()}
    return value


def deletable(runtime: Runtime) -> dict[str, bool | None]:
    """Per configured connector: can it delete? None when it cannot be built here."""
    from hub.connector import Capability

    answer: dict[str, bool | None] = {}
    for name in runtime.connector_names:
        try:
            connector = runtime.connector(name)
        except HubError:
            answer[name] = None
            continue
        try:
            answer[name] = Capability.DELETE_CONTACTS in connector.capabilities
        finally:
            connector.close()
    return answer


def _collect(into: list[str]) -> Callable[[str, Rejection], None]:
    def sink(_name: str, rejection: Rejection) -> None:
        into.append(rejection.reason)
    return sink


def propagate(runtime: Runtime, names: Iterable[str], *, now: datetime) -> dict[str, str]:
    """Send the queued erasures now; per system "done" or why it waits for the next run."""
    from hub.pipeline import push
    from hub.pipeline.progress import Silent

    outcome: dict[str, str] = {}
    for name in names:
        rejected: list[str] = []
        try:
            connector = runtime.connector(name)
        except HubError as exc:
            outcome[name] = f"waits for the next run: {exc}"
            continue
        try:
            push.drain(runtime.store, connector, runtime.plugins, run_id=None, now=now,
                       progress=Silent(), on_reject=_collect(rejected))
        except HubError as exc:
            outcome[name] = f"waits for the next run: {exc}"
            continue
        finally:
            connector.close()
        outcome[name] = "refused: " + "; ".join(rejected) if rejected else "done"
    return outcome
