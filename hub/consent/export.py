"""The consent export a data-protection officer hands to an authority (GDPR Art. 7(1)).

One row per contact with any e-mail marketing evidence: the current newsletter decision and
why, and the proof behind a confirmed double opt-in as the BGH requires it (when and where
the person signed up, when and from where they confirmed, for which list), with the hashes
of the ledger entries that hold it, so each row can be checked against `hub consent verify`.

The CSV is opened in a spreadsheet: a cell a spreadsheet would run as a formula (an address
like ``=1+2@…`` is valid) is written with a leading ``'`` (OWASP's CSV-injection advice); the
JSON form keeps every value as it is.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from typing import IO, Any

from sqlalchemy import Connection, select

from hub.consent import ledger
from hub.consent.newsletter import consent_of
from hub.store.bulk import chunks
from hub.store.schema import consent_ledger, contacts

COLUMNS = ("contact_id", "email", "state", "since", "source", "reason", "signed_up_at",
           "signup_evidence", "confirmed_at", "confirmed_in", "confirmation_evidence",
           "ledger_entries", "proof_hashes")
BATCH = 2000
#: First characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: Any) -> Any:
    """A text cell that cannot run as a spreadsheet formula; other values unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def _proof(entries: list[Any], email: str | None) -> dict[str, Any]:
    """The newest DOI for `email` and the sign-up before it, from ledger entries."""
    mine = [e for e in entries if e.email == email and not e.kind.startswith("decision:")]
    confirmations = sorted((e for e in mine if e.kind == "doi_confirmed"),
                           key=lambda e: (e.occurred_at or "", e.id))
    row: dict[str, Any] = {"signed_up_at": None, "signup_evidence": None,
                           "confirmed_at": None, "confirmed_in": None,
                           "confirmation_evidence": None, "proof_hashes": []}
    if confirmations:
        last = confirmations[-1]
        row.update(confirmed_at=last.occurred_at, confirmed_in=last.connector,
                   confirmation_evidence=last.evidence or {},
                   proof_hashes=[last.entry_hash])
        evidence = last.evidence or {}
        if evidence.get("timestamp_signup"):
            row["signed_up_at"] = evidence["timestamp_signup"]
    signups = sorted((e for e in mine if e.kind in ("single_opt_in", "signup")
                      and (row["confirmed_at"] is None or (e.occurred_at or "")
                           <= row["confirmed_at"])),
                     key=lambda e: (e.occurred_at or "", e.id))
    if signups:
        first = signups[0]
        row["signed_up_at"] = row["signed_up_at"] or first.occurred_at
        row["signup_evidence"] = first.evidence or {}
        row["proof_hashes"] = [first.entry_hash, *row["proof_hashes"]]
    return row


def rows(conn: Connection) -> Iterator[dict[str, Any]]:
    """Every contact with consent evidence or a decision, oldest contact first."""
    last = 0
    while True:
        batch = conn.execute(select(contacts.c.id, contacts.c.email)
                             .where(contacts.c.status == "active", contacts.c.id > last)
                             .order_by(contacts.c.id).limit(BATCH)).all()
        if not batch:
            return
        last = batch[-1].id
        ids = [r.id for r in batch]
        decisions = consent_of(conn, ids)
        entries: dict[int, list[Any]] = {}
        for part in chunks(ids):
            for entry in conn.execute(select(consent_ledger).where(
                    consent_ledger.c.contact_id.in_(part),
                    consent_ledger.c.erased_at.is_(None)).order_by(consent_ledger.c.id)):
                entries.setdefault(entry.contact_id, []).append(entry)
        for contact in batch:
            decision = decisions.get(contact.id)
            mine = entries.get(contact.id, [])
            if decision is None and not mine:
                continue
            row = {"contact_id": contact.id, "email": contact.email,
                   **(decision.as_dict() if decision else
                      {"state": "none", "since": None, "source": None, "reason": None}),
                   "ledger_entries": len(mine), **_proof(mine, contact.email)}
            yield row


def write(conn: Connection, out: IO[str], *, fmt: str, now: datetime) -> int:
    """Write the export as CSV or JSON to `out`; returns the number of contacts."""
    if fmt == "json":
        chain = ledger.verify(conn)
        listed = list(rows(conn))
        json.dump({"generated_at": now.isoformat(),
                   "ledger": {"intact": chain.ok, "entries_checked": chain.checked,
                              "broken_at": chain.broken_at},
                   "contacts": listed}, out, indent=2, ensure_ascii=False, default=str)
        out.write("\n")
        return len(listed)
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    count = 0
    for row in rows(conn):
        flat = {k: formula_safe(json.dumps(v, ensure_ascii=False, sort_keys=True)
                                if isinstance(v, dict | list) else v) for k, v in row.items()}
        writer.writerow(flat)
        count += 1
    return count
