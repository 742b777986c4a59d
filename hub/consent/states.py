"""Each contact's newsletter consent state, kept so that counting states costs one query.

Deciding a contact's state reads its records' consent, its golden address, hub's own
decisions and its sync states (`hub.consent.newsletter.consent_of`): about 25 µs a contact,
so the console's consent page took 23 s at three quarters of a million contacts when it
decided everyone on each visit. Here the decision is stored instead, and decided again only
for contacts whose inputs changed:

- every code path that changes an input marks the contact as pending (`mark`): golden
  rebuilds and refreshes (records, addresses, merges and splits), hub's own consent decisions
  in the ledger, sync states written by the outbox and the push, erasure;
- the end of every run decides the pending contacts (`refresh`), in one transaction;
- a count taken before that (a run still going, or one that died) decides the pending
  contacts on the fly, so a count is never stale, only slower.

Marking is done by the writers themselves, not by database triggers: a trigger fires once
per row on the import path, which is where a million rows go.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, delete, exists, func, select, text

from hub.consent.newsletter import consent_of
from hub.store.bulk import chunks, insert_rows, upsert_rows
from hub.store.schema import consent_pending, consent_states, contacts

#: Every state a count reports, in the order the console shows them.
STATES = ("confirmed", "unconfirmed", "pending", "unsubscribed", "suppressed", "none")

#: Contacts decided per query batch (one IN list each for records, decisions, sync states).
BATCH = 2000


def mark(conn: Connection, contact_ids: Iterable[int | None]) -> None:
    """Note that these contacts' consent inputs changed in this transaction."""
    ids = sorted({int(cid) for cid in contact_ids if cid is not None})
    if ids:
        upsert_rows(conn, consent_pending, ("contact_id",), ("contact_id",),
                    [(cid,) for cid in ids])


def refresh(conn: Connection) -> int:
    """Decide every pending contact again and store the result; how many were decided.

    The pending set is taken whole, under a lock that holds back other transactions' marks
    until this one commits, so emptying it at the end removes exactly what was decided.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE consent_pending IN SHARE ROW EXCLUSIVE MODE"))
    else:  # SQLite: the database's write lock, taken now rather than at the first write
        conn.execute(text("UPDATE consent_pending SET contact_id = contact_id WHERE 0"))
    pending = list(conn.execute(select(consent_pending.c.contact_id)
                                .order_by(consent_pending.c.contact_id)).scalars())
    if not pending:
        return 0
    conn.execute(delete(consent_states).where(
        consent_states.c.contact_id.in_(select(consent_pending.c.contact_id))))
    for part in chunks(pending, BATCH):
        insert_rows(conn, consent_states, ("contact_id", "state"),
                    [(cid, decision.state) for cid, decision in consent_of(conn, part).items()
                     if decision.state != "none"])
    conn.execute(delete(consent_pending))
    return len(pending)


def counts(conn: Connection) -> dict[str, int]:
    """Active contacts per newsletter consent state; reads only, never writes."""
    found = dict.fromkeys(STATES, 0)
    active = contacts.c.status == "active"
    waiting = exists().where(consent_pending.c.contact_id == contacts.c.id)
    settled = (select(consent_states.c.state, func.count())
               .select_from(contacts.outerjoin(
                   consent_states, consent_states.c.contact_id == contacts.c.id))
               .where(active, ~waiting)
               .group_by(consent_states.c.state))
    for state, count in conn.execute(settled):
        found[state or "none"] = found.get(state or "none", 0) + int(count)
    _tally(conn, list(conn.execute(select(contacts.c.id).where(active, waiting)).scalars()),
           found)
    return found


def recount(conn: Connection) -> dict[str, int]:
    """Active contacts per state, every one decided now: what `counts` must always equal."""
    found = dict.fromkeys(STATES, 0)
    _tally(conn, list(conn.execute(select(contacts.c.id).where(contacts.c.status == "active"))
                      .scalars()), found)
    return found


def _tally(conn: Connection, ids: list[int], found: dict[str, int]) -> None:
    for part in chunks(ids, BATCH):
        decided = consent_of(conn, part)
        for cid in part:
            decision = decided.get(cid)
            state = decision.state if decision is not None else "none"
            found[state] = found.get(state, 0) + 1
