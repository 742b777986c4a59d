"""RESOLVE, second half: recompute the golden record of every contact a run touched.

Source records are streamed in contact order (never all in memory), grouped, and handed to
`Survivorship`; only contacts whose golden content actually changed are written, and they are
stamped with the run id so the outbox knows what to consider pushing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from itertools import groupby
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hub.config import MergeRule
from hub.consent import states
from hub.pipeline.merge import Candidate, Survivorship
from hub.store.bulk import chunks, dumps, indexes_built_after, update_rows
from hub.store.schema import SEARCHED_FIELDS, contacts, settings, source_records

BATCH = 5000
#: The indexes of `contacts` whose keys a golden write replaces (e-mail, searched fields).
_REWRITTEN = frozenset({"ix_contacts_email", *(f"ix_contacts_search_{name}"
                                                for name in SEARCHED_FIELDS)})
#: The `settings` row holding the ``[merge]`` rules the golden contacts were last built with.
RULES = "merge.rules"
#: `content_hash` of a contact rebuilt outside a run (review, split): the next run rewrites
#: and stamps it, so the systems hear about it.
STALE = "stale"


@dataclass
class Rebuild:
    """How many golden contacts changed (and how many of them are new)."""

    updated: int = 0
    created: int = 0


def candidates_of(rows: Iterable[Any], *, with_time: bool = False) -> list[Candidate]:
    """Source-record rows (id, connector, external_id, source_updated_at, seen_at, fields).

    A lone record needs no ranking, so its time is left out unless `with_time` asks for it.
    """
    rows = list(rows)
    if len(rows) == 1 and not with_time:  # nothing to rank: skip the timestamp work (most contacts)
        only = rows[0]
        return [Candidate(record_id=only.id, connector=only.connector,
                          external_id=only.external_id, updated_at="", fields=only.fields)]
    result = []
    for row in rows:
        moment = row.source_updated_at or row.seen_at
        result.append(Candidate(record_id=row.id, connector=row.connector,
                                external_id=row.external_id,
                                updated_at=moment.isoformat() if moment else "",
                                fields=row.fields))
    return result


def _record_rows(conn: Connection, touched: set[int], bulk: bool) -> Iterator[Any]:
    columns = (source_records.c.contact_id, source_records.c.id, source_records.c.connector,
               source_records.c.external_id, source_records.c.source_updated_at,
               source_records.c.seen_at, source_records.c.fields)
    live = source_records.c.deleted.is_(False)
    if bulk:
        yield from conn.execute(
            select(*columns).where(live, source_records.c.contact_id.is_not(None))
            .order_by(source_records.c.contact_id).execution_options(yield_per=BATCH))
        return
    for part in chunks(sorted(touched)):
        yield from conn.execute(select(*columns).where(
            live, source_records.c.contact_id.in_(part)).order_by(source_records.c.contact_id))


def rebuild(conn: Connection, touched: set[int], survivorship: Survivorship, *,
            run_id: int, now: datetime, bulk: bool) -> Rebuild:
    """Recompute golden fields of `touched` contacts; write the ones that changed."""
    result = Rebuild()
    if not touched:
        return result
    # stored digests of contacts that have one (new placeholders have "": always written)
    hashes: dict[int, str] = {}
    known = select(contacts.c.id, contacts.c.content_hash).where(contacts.c.content_hash != "")
    if bulk:
        hashes.update((cid, digest) for cid, digest in conn.execute(known) if cid in touched)
    else:
        for part in chunks(sorted(touched)):
            hashes.update((cid, digest) for cid, digest in conn.execute(
                known.where(contacts.c.id.in_(part))))
    # most contacts written (a first import): on SQLite their e-mail and search indexes are
    # built once, after the writes (770,000 contacts: 16.6 s in place, 8.8 s so). Not on
    # PostgreSQL: dropping an index locks the table until the commit, and the console and
    # `hub status` would wait that long for their counts; SQLite's readers see the last
    # commit meanwhile
    deferred = [index for index in contacts.indexes if index.name in _REWRITTEN] \
        if bulk and conn.dialect.name == "sqlite" else []
    with indexes_built_after(conn, deferred):
        pending: list[tuple[Any, ...]] = []
        for contact_id, group in groupby(_record_rows(conn, touched, bulk),
                                         key=lambda r: r.contact_id):
            if contact_id not in touched:
                continue
            values, provenance = survivorship.golden(candidates_of(group))
            serialised = dumps(values)
            digest = hashlib.md5(serialised.encode(), usedforsecurity=False).hexdigest()
            previous = hashes.get(contact_id)
            if previous == digest:
                continue
            if previous is None:
                result.created += 1
            result.updated += 1
            pending.append((values.get("email"), serialised, dumps(provenance), digest, now,
                            run_id, contact_id))
            if len(pending) >= BATCH:
                _write(conn, pending, run_id, now)
                pending.clear()
        if pending:
            _write(conn, pending, run_id, now)
    # records, addresses or links changed: what the consent count holds must be decided again
    states.mark(conn, touched)
    conn.execute(update(source_records).where(source_records.c.dirty.is_(True)).values(dirty=False))
    return result


def _write(conn: Connection, rows: list[tuple[Any, ...]], run_id: int, now: datetime) -> None:
    update_rows(conn, contacts, ("email", "fields", "provenance", "content_hash", "updated_at",
                                 "updated_run"), "id", rows)


def rules_text(rules: Mapping[str, MergeRule]) -> str:
    """The ``[merge]`` rules as canonical JSON: equal text means equal golden contacts."""
    return dumps({name: rule.model_dump() for name, rule in sorted(rules.items())})


def rules_changed(conn: Connection, rules: Mapping[str, MergeRule]) -> bool:
    """Remember `rules`; True when they differ from the ones the contacts were built with.

    A store that never recorded rules counts as unchanged when the rules are the defaults
    (nothing was built differently), so upgrading does not rebuild every contact.
    """
    text = rules_text(rules)
    stored = _stored_rules(conn)
    if stored == text:
        return False
    if stored is None:
        conn.execute(insert(settings).values(name=RULES, value=text))
        return bool(rules)
    conn.execute(update(settings).where(settings.c.name == RULES).values(value=text))
    return True


def _stored_rules(conn: Connection) -> str | None:
    """The `rules_text` the golden contacts were last built with (None: never recorded)."""
    value: str | None = conn.execute(
        select(settings.c.value).where(settings.c.name == RULES)).scalar()
    return value


def stored_survivorship(conn: Connection) -> Survivorship:
    """Survivorship with the rules of the last run (review actions run without a config)."""
    stored = _stored_rules(conn)
    if not stored:
        return Survivorship({})
    return Survivorship({name: MergeRule.model_validate(rule)
                         for name, rule in json.loads(stored).items()})


def active_ids(conn: Connection) -> set[int]:
    """Every active contact (a rules change rebuilds them all)."""
    return set(conn.execute(select(contacts.c.id).where(
        contacts.c.status == "active")).scalars())


def stale_ids(conn: Connection) -> set[int]:
    """Contacts rebuilt outside a run, which the next run must stamp and push."""
    return set(conn.execute(select(contacts.c.id).where(
        contacts.c.content_hash == STALE)).scalars())


def refresh(conn: Connection, contact_ids: Iterable[int], survivorship: Survivorship, *,
            now: datetime) -> None:
    """Recompute golden fields right away (review, split), leaving the push to the next run."""
    ids = sorted(set(contact_ids))
    states.mark(conn, ids)
    for contact_id in ids:
        rows = list(_record_rows(conn, {contact_id}, False))
        values, provenance = survivorship.golden(candidates_of(rows)) if rows else ({}, {})
        conn.execute(update(contacts).where(contacts.c.id == contact_id).values(
            email=values.get("email"), fields=values, provenance=provenance,
            content_hash=STALE, updated_at=now))
