"""DECIDE: turn changed golden contacts into outbox rows, one per system that should learn.

Defaults: a connector that creates records (the CRM, a CSV export)
receives every active golden contact; one that does not (the shop) receives updates to the
contacts it already holds. Only the fields a connector writes (`write_fields`) are compared.
Nothing is queued when the system already holds exactly those values (no echo back to the
source, no ping-pong between systems) or when it was last sent the same payload.

The outbox row holds the full desired state for that contact in that system, so writing it
twice is harmless: a crash between a write and its acknowledgement just writes it again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, insert, or_, select, update

from hub.connector import Capability, Connector, SystemKind
from hub.consent import ledger, states
from hub.consent.newsletter import (
    consent_by_address,
    newsletter_status,
    requested_since,
    status_shown,
)
from hub.consent.policy import NONE, Policy
from hub.store import upsert
from hub.store.bulk import chunks
from hub.store.schema import contacts, outbox, source_records, sync_state

BATCH = 2000


@dataclass
class Planned:
    """Writes queued for one connector in this run."""

    create: int = 0
    update: int = 0
    delete: int = 0
    #: Contacts not written to the newsletter, by consent state (the report says why).
    blocked: dict[str, int] = field(default_factory=dict)
    #: Consent changes queued, by the status the system is told (`hub sync --plan` shows them).
    consent: dict[str, int] = field(default_factory=dict)
    #: Contacts not written because another contact's record there has their address.
    conflicts: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The shape `hub sync --json` prints under "planned"."""
        return {"create": self.create, "update": self.update, "delete": self.delete,
                "blocked": dict(sorted(self.blocked.items())),
                "consent": dict(sorted(self.consent.items())), "conflicts": self.conflicts}


def payload_hash(payload: Mapping[str, Any]) -> str:
    """A stable digest of what would be written; equal digests mean nothing to do."""
    blob = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.md5(blob.encode(), usedforsecurity=False).hexdigest()


def desired_payload(values: Mapping[str, Any], write_fields: Sequence[str]) -> dict[str, Any]:
    """The fields of a golden contact that one system should hold (empty values left out)."""
    return {f: values[f] for f in write_fields if values.get(f) not in (None, "", [])}


def _holds(own: Mapping[str, Any] | None, payload: Mapping[str, Any]) -> bool:
    """True when the system's own record already carries every value of `payload`."""
    if own is None:
        return False
    for name, value in payload.items():
        mine = own.get(name)
        if isinstance(value, list):
            if sorted(map(str, mine or [])) != sorted(map(str, value)):
                return False
        elif mine != value:
            return False
    return True


def _candidates(conn: Connection, connector: Connector, run_id: int,
                full: bool) -> Iterator[Any]:
    """Active contacts this connector may need to hear about, with its sync state."""
    name = connector.name
    state = sync_state.alias("state")
    query = (
        select(contacts.c.id, contacts.c.fields, state.c.external_id, state.c.pushed_hash)
        .outerjoin(state, and_(state.c.contact_id == contacts.c.id, state.c.connector == name))
        .where(contacts.c.status == "active")
        .order_by(contacts.c.id)
    )
    if not full:
        query = query.where(or_(contacts.c.updated_run == run_id, state.c.contact_id.is_(None)))
    if not connector.creates_records:
        held = select(source_records.c.contact_id).where(
            source_records.c.connector == name, source_records.c.deleted.is_(False))
        query = query.where(contacts.c.id.in_(held))
    yield from conn.execute(query.execution_options(yield_per=BATCH))


#: Marks an outbox key for a contact's further record in one system (see `plan`).
ALSO = "also"


def is_secondary(key: str) -> bool:
    """True for the key of a write to a contact's further record (no sync state of its own)."""
    parts = key.split(":")
    return len(parts) > 2 and parts[-2] == ALSO


def _own_records(conn: Connection, name: str, wrote_to: Mapping[int, str | None]
                 ) -> tuple[dict[int, tuple[str, Any, str | None]],
                            dict[int, list[tuple[str, str | None, str | None]]]]:
    """The connector's own records of each contact it holds (`wrote_to`: contact → the id
    hub wrote to before, if any).

    The first map has the record hub writes to, (external id, fields, implied status): the
    one it wrote to before, else with several the smallest id, stably. What that record
    shows decides whether a write is needed; another record of the person showing it does
    not (a withdrawal must reach the record hub writes to). The second lists all
    of them as (external id, e-mail, implied status): one person with two addresses on one
    list, say.
    """
    own: dict[int, tuple[str, Any, str | None]] = {}
    more: dict[int, list[tuple[str, str | None, str | None]]] = {}
    for part in chunks(list(wrote_to)):
        rows = conn.execute(
            select(source_records.c.contact_id, source_records.c.external_id,
                   source_records.c.fields, source_records.c.consent, source_records.c.email)
            .where(source_records.c.connector == name, source_records.c.deleted.is_(False),
                   source_records.c.contact_id.in_(part))
            .order_by(source_records.c.external_id))
        for contact_id, external_id, fields, observed, email in rows:
            shown = status_shown(observed)
            if contact_id not in own or external_id == wrote_to.get(contact_id):
                own[contact_id] = (external_id, fields, shown)
            more.setdefault(contact_id, []).append((external_id, email, shown))
    return own, more


#: Extra fields per contact id for one connector (the ``lead.*`` keys of `hub.lifecycle`).
LeadFields = Callable[[Connection, Sequence[int]], Mapping[int, Mapping[str, Any]]]


def plan(conn: Connection, connector: Connector, *, run_id: int, now: datetime,
         full: bool, newsletter: bool = False, policy: Policy | None = None,
         lead: LeadFields | None = None) -> Planned:
    """Queue the writes `connector` needs after this run's changes.

    For a newsletter consent decides: the connector ``[consent] newsletter`` names
    (`newsletter=True`) and every connector whose system is a newsletter, named or not
    (docs/consent.md, rule 11: a second audience nobody named must not mail anyone who did
    not ask). There a confirmed double opt-in is written subscribed, a single opt-in pending
    (the tool sends its confirmation mail, never twice within the request window), a
    withdrawal unsubscribed where the contact is already on the list, and a contact with no
    permission is not written at all. Every other system
    that can write consent learns withdrawals: an opt-out, bounce, complaint or erasure
    anywhere becomes ``unsubscribed`` there too (docs/consent.md, rule 3). `lead` adds the
    lifecycle fields this connector is configured to get (``[lifecycle.push.NAME]``).
    """
    planned = Planned()
    policy = policy or Policy()
    newsletter = newsletter or connector.system is SystemKind.NEWSLETTER
    fields = connector.write_fields
    if not fields:
        return planned
    name = connector.name
    withdrawals = not newsletter and Capability.WRITE_CONSENT in connector.capabilities
    window = now - timedelta(days=policy.doi_request_window_days)
    batch: list[Any] = []
    #: address → the contact whose write goes there (systems keyed by e-mail only)
    taken: dict[str, int] = {}

    def block(state: str) -> None:
        planned.blocked[state] = planned.blocked.get(state, 0) + 1

    def flush() -> None:
        own, more = _own_records(conn, name, {row.id: row.external_id for row in batch})
        if connector.keyed_by_email:
            for address, holder in _addresses_taken(conn, name, [
                    row for row in batch if row.id not in own and row.external_id is None]
                    ).items():
                taken.setdefault(address, holder)
        by_address = consent_by_address(conn, [row.id for row in batch]) \
            if newsletter or withdrawals else {}
        decisions = {cid: per[None] for cid, per in by_address.items()}
        recent = requested_since(
            conn, [row.fields["email"] for row in batch if row.fields.get("email")],
            window) if newsletter else set()
        extra = lead(conn, [row.id for row in batch]) if lead is not None else {}
        queued: list[dict[str, Any]] = []
        in_sync: list[dict[str, Any]] = []
        decided: list[tuple[int, str | None, str, str, str]] = []
        for row in batch:
            payload = desired_payload(row.fields, fields)
            payload.update(extra.get(row.id, {}))
            external_id = row.external_id or (own[row.id][0] if row.id in own else None)
            if newsletter:
                if not payload:
                    continue
                decision = decisions.get(row.id, NONE)
                told = newsletter_status(decision, listed=external_id is not None,
                                         requested_recently=row.fields.get("email") in recent,
                                         policy=policy, now=now)
                if told.blocked is not None:
                    block(told.blocked)
                    continue
                status = told.status
                if status is not None:
                    payload["consent"] = status
                    decided.append((row.id, row.fields.get("email"), name, status,
                                    decision.reason))
            elif withdrawals:
                decision = decisions.get(row.id, NONE)
                if decision.state in ("unsubscribed", "suppressed"):
                    # said every time, so the payload (and its hash) stays the same once the
                    # system shows it; a system that already shows it is not written to
                    payload["consent"] = "unsubscribed"
                    decided.append((row.id, row.fields.get("email"), name, "unsubscribed",
                                    decision.reason))
            if (newsletter or withdrawals) and row.id in more:
                # a withdrawal is the person's: every further record of theirs hears it too
                covered = payload.get("consent") == "unsubscribed"  # the main write says it
                for ext, email, shown_there in more[row.id]:
                    there = by_address.get(row.id, {}).get(email, NONE)
                    if shown_there == "unsubscribed" or (ext == external_id and covered) \
                            or there.state not in ("unsubscribed", "suppressed"):
                        continue
                    notice = {"email": email, "consent": "unsubscribed"}
                    digest = payload_hash({**notice, "record": ext, "run": run_id})
                    queued.append({"key": f"{name}:{row.id}:{ALSO}:{digest}", "connector": name,
                                   "contact_id": row.id, "operation": "upsert",
                                   "payload": notice, "payload_hash": digest,
                                   "external_id": ext, "status": "pending", "attempts": 0,
                                   "created_at": now, "run_id": run_id})
                    planned.update += 1
            if not payload:
                continue
            if connector.keyed_by_email and external_id is None and payload.get("email"):
                holder = taken.setdefault(payload["email"], row.id)
                if holder != row.id:
                    # the system would find the other contact's record by this address and
                    # overwrite it: two people on one record, renamed back and forth
                    planned.conflicts += 1
                    continue
            mine = own.get(row.id)
            # what the system shows counts as said: a status hub sent last run (pending, say)
            # and now leaves alone does not make the same fields new again
            said = payload if "consent" in payload or mine is None or mine[2] is None \
                else {**payload, "consent": mine[2]}
            digest = payload_hash(said)
            drifted = "consent" in payload and mine is not None \
                and mine[2] not in (None, payload["consent"])
            if row.pushed_hash == digest and not drifted:
                # sent before, and the system shows nothing else since (a re-signup after
                # hub's unsubscribe must hear a newer withdrawal again)
                continue
            if mine is not None and _holds(mine[1], {k: v for k, v in payload.items()
                                                     if k != "consent"}) \
                    and payload.get("consent") in (None, mine[2]):
                in_sync.append({"connector": name, "contact_id": row.id,
                                "external_id": external_id, "pushed_hash": digest,
                                "pushed_at": now})
                continue
            queued.append({"key": f"{name}:{row.id}:{digest}", "connector": name,
                           "contact_id": row.id, "operation": "upsert", "payload": payload,
                           "payload_hash": digest, "external_id": external_id,
                           "status": "pending", "attempts": 0, "created_at": now,
                           "run_id": run_id})
            if external_id is None:
                planned.create += 1
            else:
                planned.update += 1
        upsert(conn, sync_state, in_sync, ("connector", "contact_id"))
        # the record a sync state names is an input of the consent state (rule 10)
        known = {row.id: row.external_id for row in batch}
        states.mark(conn, (state["contact_id"] for state in in_sync
                           if state["external_id"] != known.get(state["contact_id"])))
        for q in queued:
            told = q["payload"].get("consent")
            if told:
                planned.consent[told] = planned.consent.get(told, 0) + 1
        queued_ids = {q["contact_id"] for q in queued}
        ledger.append(conn, ledger.decisions([d for d in decided if d[0] in queued_ids],
                                             run_id=run_id, now=now))
        if queued:
            # the newest desired state replaces any older one still waiting
            conn.execute(delete(outbox).where(
                outbox.c.connector == name, outbox.c.status == "pending",
                outbox.c.contact_id == bindparam("cid")),
                [{"cid": cid} for cid in sorted({q["contact_id"] for q in queued})])
            existing = dict(conn.execute(select(outbox.c.key, outbox.c.status).where(
                outbox.c.key.in_([q["key"] for q in queued]))).all())
            fresh = [q for q in queued if q["key"] not in existing]
            if fresh:
                conn.execute(insert(outbox), fresh)
            # the same state written before and needed again (unsubscribed, subscribed,
            # unsubscribed): the done row goes out once more instead of being taken as sent,
            # with this run's payload: the key hashes what the system is to show, and a
            # write that left a status the system showed then alone had no consent in its
            # payload, where this one must say the withdrawal
            again = [{"k": q["key"], "at": now, "rid": run_id, "p": q["payload"],
                      "x": q["external_id"]} for q in queued if existing.get(q["key"]) == "done"]
            if again:
                conn.execute(update(outbox).where(outbox.c.key == bindparam("k")).values(
                    status="pending", attempts=0, last_error=None, created_at=bindparam("at"),
                    run_id=bindparam("rid"), payload=bindparam("p", type_=outbox.c.payload.type),
                    external_id=bindparam("x")), again)
        batch.clear()

    for row in _candidates(conn, connector, run_id, full):
        batch.append(row)
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return planned


def _addresses_taken(conn: Connection, name: str, rows: Sequence[Any]) -> dict[str, int]:
    """Addresses of these would-be creations that another contact already holds in `name`."""
    emails = sorted({row.fields["email"] for row in rows if row.fields.get("email")})
    taken: dict[str, int] = {}
    for part in chunks(emails):
        for email, contact_id in conn.execute(
                select(source_records.c.email, source_records.c.contact_id).where(
                    source_records.c.connector == name, source_records.c.deleted.is_(False),
                    source_records.c.email.in_(part)).order_by(source_records.c.contact_id)):
            taken.setdefault(email, contact_id)
        held = sync_state.alias("held")
        for email, contact_id in conn.execute(
                select(contacts.c.email, contacts.c.id)
                .join(held, and_(held.c.contact_id == contacts.c.id, held.c.connector == name))
                .where(contacts.c.email.in_(part), contacts.c.status == "active",
                       held.c.external_id.is_not(None)).order_by(contacts.c.id)):
            taken.setdefault(email, contact_id)
    return taken


def pending_counts(conn: Connection) -> dict[str, int]:
    """Outbox rows waiting per connector (for `hub status` and --plan)."""
    from sqlalchemy import func

    rows = conn.execute(select(outbox.c.connector, func.count())
                        .where(outbox.c.status == "pending").group_by(outbox.c.connector))
    return {name: count for name, count in rows}
