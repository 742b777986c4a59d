"""hub's own consent writes, recognised when a system reports them back (docs/consent.md, rule 10).

After hub subscribes someone in Mailchimp on a Shopify double opt-in, Mailchimp shows a
member ``subscribed`` without an opt-in time of its own: read naively, a single opt-in newer
than the DOI, and the contact would fall back to "unconfirmed, a confirmation mail must be
requested". The same holds for every system hub writes consent to (a Shopify or HubSpot
unsubscribe hub carried shows up dated when hub wrote it). So an observation that shows the
status hub last wrote to that system for that contact, on the record hub wrote to, dated at
or after hub's decision, is hub's own write read back:

- a subscription hub wrote, shown without proof of its own (no confirmation time), is not
  evidence at all: the evidence hub wrote on still decides, and it is never replaced by a
  weaker or newer copy of itself (a confirmed DOI with its own time there is the person's);
- a confirmation request hub wrote still says what the system does now (a mail is out), but
  dated when hub decided it, so it never outranks what happened in between;
- a withdrawal hub wrote stays a withdrawal, dated as the system reports it: should the
  person have withdrawn there themselves after hub's write, moving it earlier could let an
  older permission win, and a withdrawal must never be weakened.

Anything else the system reports (a different status, another record, or an event older than
hub's write) is the system's own news and counts as always.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select

from hub.store.bulk import chunks, within
from hub.store.schema import consent_ledger, sync_state

#: The observation kinds a system shows after hub wrote each status. A subscription hub
#: wrote shows as one without proof of its own; a confirmed double opt-in on that record,
#: with its own confirmation time, is the person's and counts.
_SHOWN_AS: dict[str, frozenset[str]] = {
    "subscribed": frozenset({"single_opt_in", "signup"}),
    "pending": frozenset({"doi_requested"}),
    "unsubscribed": frozenset({"opt_out"}),
}


@dataclass(frozen=True)
class Written:
    """The consent status hub last wrote to one system for one contact, and when it decided."""

    status: str
    at: datetime
    #: The system's id of the record hub writes to (None: not known yet).
    record: str | None = None

    @property
    def stamp(self) -> str:
        """The decision time spelled as observations are (UTC, ``+00:00``)."""
        return self.at.astimezone(UTC).isoformat()


def last_written(conn: Connection, ids: Sequence[int]) -> dict[tuple[int, str], Written]:
    """The newest consent decision hub wrote, per (contact, connector), from the ledger."""
    found: dict[tuple[int, str], Written] = {}
    newest = (select(consent_ledger.c.contact_id, consent_ledger.c.connector,
                     func.max(consent_ledger.c.id).label("last"))
              .where(consent_ledger.c.kind.like("decision:%"))
              .group_by(consent_ledger.c.contact_id, consent_ledger.c.connector))
    asked = set(ids)
    for part in chunks(sorted(asked)):
        chosen = newest.where(within(consent_ledger.c.contact_id, part)).subquery()
        rows = conn.execute(select(consent_ledger.c.contact_id, consent_ledger.c.connector,
                                   consent_ledger.c.kind, consent_ledger.c.recorded_at)
                            .join(chosen, chosen.c.last == consent_ledger.c.id))
        for contact_id, connector, kind, recorded in rows:
            if contact_id not in asked:
                continue
            at = recorded if recorded.tzinfo else recorded.replace(tzinfo=UTC)
            found[(contact_id, connector)] = Written(kind.removeprefix("decision:"), at)
        for contact_id, connector, external_id in conn.execute(
                select(sync_state.c.contact_id, sync_state.c.connector, sync_state.c.external_id)
                .where(within(sync_state.c.contact_id, part))):
            if (contact_id, connector) in found:
                found[(contact_id, connector)] = replace(found[(contact_id, connector)],
                                                         record=external_id)
    return found


def is_echo(event: Mapping[str, Any], written: Written | None, record: str | None) -> bool:
    """True when `event`, on `record`, shows what hub wrote there, dated at or after it."""
    if written is None or event.get("kind") not in _SHOWN_AS.get(written.status, ()):
        return False
    if written.record is not None and record != written.record:
        return False  # another record of the person: that system's own news
    at = _parse(event.get("at"))
    return at is None or at >= written.at


def as_evidence(events: Iterable[Mapping[str, Any]], written: Written | None,
                record: str | None) -> list[Mapping[str, Any]]:
    """A record's observations as evidence, with hub's own writes recognised (see above)."""
    kept: list[Mapping[str, Any]] = []
    for event in events:
        if written is None or not is_echo(event, written, record) \
                or written.status == "unsubscribed":
            kept.append(event)
        elif written.status == "pending":
            kept.append({**event, "at": written.stamp, "written_by_hub": True})
    return kept


def _parse(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
