"""What a newsletter is told about each contact, and who is kept off it.

This is the one place that turns a consent decision into a newsletter status: which
addresses a double opt-in permits (only the one that was confirmed), which status each
consent state becomes, when a single opt-in may ask for a confirmation mail (once within the
request window, only for someone not yet on the list), and when stale consent keeps a
contact off. The outbox asks `newsletter_status` for every contact it would write to the
newsletter and writes nothing the answer does not allow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from hub.consent.policy import Decision, Policy, decide
from hub.consent.readback import as_evidence, last_written
from hub.store.bulk import chunks, within
from hub.store.schema import consent_ledger, contacts, source_records


@dataclass(frozen=True)
class Told:
    """The newsletter status to write (None: leave it alone), or why the contact stays off."""

    status: str | None
    blocked: str | None = None


#: What the newsletter is told for each consent state; None: leave the status alone.
_NEWSLETTER_STATUS: dict[str, str | None] = {
    "confirmed": "subscribed", "unconfirmed": "pending", "pending": None,
    "unsubscribed": "unsubscribed", "suppressed": "unsubscribed",
}


#: Events that give or ask for permission: they prove something only for their own address.
_PERMISSIONS = frozenset({"doi_confirmed", "single_opt_in", "signup", "doi_requested"})


def consent_by_address(conn: Connection,
                       ids: Sequence[int]) -> dict[int, dict[str | None, Decision]]:
    """The newsletter decision for each address of each contact (None: the golden one).

    A double opt-in proves consent for the address that was confirmed, nothing else: when
    two records of one person carry different addresses, only the events that came with an
    address can permit mailing it, so a merge never lends one address's DOI to another.
    Withdrawals are the person's and count from every record (rule 4: the most restrictive
    state wins). hub's own writes read back are recognised, not taken as new evidence
    (rule 10, `hub.consent.readback`).
    """
    found: dict[int, list[tuple[str, str | None, Any]]] = {}
    golden: dict[int, str | None] = {}
    wanted = sorted(set(ids))
    asked = set(wanted)
    written = last_written(conn, wanted)
    for part in chunks(wanted):
        for contact_id, connector, observed, own, address, record in conn.execute(
                select(source_records.c.contact_id, source_records.c.connector,
                       source_records.c.consent, source_records.c.email, contacts.c.email,
                       source_records.c.external_id)
                .join(contacts, contacts.c.id == source_records.c.contact_id)
                .where(within(source_records.c.contact_id, part),
                       source_records.c.consent.is_not(None))):
            if contact_id not in asked:
                continue
            golden[contact_id] = address
            # rule 10: what hub wrote there, read back, is not the system's own evidence
            evidence = as_evidence(observed or (), written.get((contact_id, connector)),
                                   record)
            found.setdefault(contact_id, []).append((connector, own, evidence))
    decisions: dict[int, dict[str | None, Decision]] = {}
    for cid, records in found.items():
        addresses = {golden[cid]} | {own for _c, own, _o in records if own}
        per: dict[str | None, Decision] = {}
        for address in addresses:
            per[address] = decide(
                (connector, e) for connector, own, observed in records for e in observed or ()
                if own is None or address is None or own == address
                or e.get("kind") not in _PERMISSIONS)
        per[None] = per[golden[cid]]
        decisions[cid] = per
    return decisions


def consent_of(conn: Connection, ids: Sequence[int]) -> dict[int, Decision]:
    """The newsletter decision for each contact's golden address."""
    return {cid: per[None] for cid, per in consent_by_address(conn, ids).items()}


def newsletter_status(decision: Decision, *, listed: bool, requested_recently: bool,
                      policy: Policy, now: datetime) -> Told:
    """What the newsletter is told of one contact, given its consent decision.

    `listed`: the newsletter already holds the contact. `requested_recently`: hub asked for a
    confirmation mail to this address within the request window. A contact with no permission
    is never written; a withdrawal only reaches someone already on the list; a single opt-in
    asks for a confirmation mail once, and only when the contact is added.
    """
    status = _NEWSLETTER_STATUS.get(decision.state)
    if decision.state == "none" or (not listed and status in (None, "unsubscribed")):
        return Told(None, blocked=decision.state)
    if status == "pending" and listed:
        # a single opt-in asks for a confirmation mail when the contact is added;
        # re-permissioning someone already on the list is a consent-policy step
        status = None
    if status == "pending" and requested_recently:
        return Told(None, blocked="confirmation_requested_recently")
    if status == "subscribed" and policy.suppress_stale and policy.stale(decision, now):
        if not listed:
            return Told(None, blocked="stale")
        status = None
    return Told(status)


#: The status a system shows when its newest event is of this kind (a single opt-in shows as
#: subscribed there even though it proves nothing, which is why it never decides anything).
_STATUS_OF_KIND = {"doi_confirmed": "subscribed", "single_opt_in": "subscribed",
                   "signup": "subscribed", "doi_requested": "pending",
                   "opt_out": "unsubscribed", "bounce": "unsubscribed",
                   "complaint": "unsubscribed"}


def status_shown(observed: Sequence[Any] | None) -> str | None:
    """The newsletter status a system's own latest consent observation shows."""
    dated = sorted((e.get("at") or "", e.get("kind")) for e in observed or ())
    return _STATUS_OF_KIND.get(str(dated[-1][1])) if dated else None


def requested_since(conn: Connection, emails: Sequence[str], since: datetime) -> set[str]:
    """Addresses hub asked the newsletter to send a confirmation mail to since `since`."""
    found: set[str] = set()
    for part in chunks(sorted(set(emails))):
        found.update(conn.execute(select(consent_ledger.c.email).where(
            consent_ledger.c.kind == "decision:pending", consent_ledger.c.recorded_at >= since,
            consent_ledger.c.email.in_(part))).scalars())
    return found
