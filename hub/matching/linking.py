"""Probabilistic linking inside a sync: score new and changed records against the base.

Runs after e-mail identity (`hub.pipeline.identity`) and before survivorship. Only the run's
dirty records are profiled; each one is compared with the records sharing one of its blocking
keys (postcode + phonetic name, phonetic full name, birth date, E.164 phone, canonical
e-mail, street + house number), never with the whole base. Term frequencies come from the
stored key counts, so a common surname weighs less everywhere.

A pair at or above ``[identity] auto_merge`` merges its contacts unless vetoed (different
first names on one address or phone), kept apart by a person (a rejection or a split), or
both contacts hold a record in the same system (duplicates inside one system are reported,
not merged); a pair at or above ``review`` waits in `match_pairs` for `hub duplicates`.
"""

from __future__ import annotations

from array import array
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update

from hub.matching.folding import canonical_email
from hub.matching.model import (
    MAX_BLOCK,
    Frequencies,
    Model,
    Profile,
    Score,
    all_keys,
    profile,
    stored_key,
    term_keys,
)
from hub.matching.review import blocked
from hub.pipeline.identity import Resolution, crowded_keys, merge_contacts
from hub.store import ANALYZE_FROM, analyze
from hub.store.bulk import EmptyTableLoad, chunks, delete_rows, insert_rows, within
from hub.store.schema import identity_keys, match_keys, match_pairs, settings, source_records

#: The `settings` row saying every record has its match keys (set after the first pass).
KEYED = "matching.keyed"
#: Records profiled and keyed at a time, and candidate pairs scored at a time: what bounds
#: the memory of linking, whatever the size of the import.
KEY_BATCH = 5000
PAIR_BATCH = 5000
#: Profiles kept between batches of pairs (about 40 MB).
PROFILES_KEPT = 50_000
#: Records keyed into an empty `match_keys` from which its index is built once, after the
#: rows (`EmptyTableLoad`), rather than row by row.
LOAD_FROM = 10_000

K = TypeVar("K", str, int)


@dataclass(frozen=True)
class Thresholds:
    """``[identity] auto_merge`` and ``review``: two cut-offs on the match probability."""

    auto_merge: float = 0.99
    review: float = 0.5


@dataclass
class Linking:
    """What probabilistic linking did in one run."""

    merged: int = 0
    suggested: int = 0
    touched: set[int] = field(default_factory=set)


def _profiles(conn: Connection, ids: Sequence[int], id_fields: Sequence[str],
              max_records: int, shared_keys: Set[str] | None = None) -> dict[int, Profile]:
    """Profiles of live records by id.

    An e-mail that is no identity key (a role or placeholder address) or that more records
    share than ``[identity] max_records_per_contact`` allows is left out: it says nothing.
    `shared_keys`: every such shared key, when the caller has them all; else each batch
    counts the holders of its records' keys.
    """
    result: dict[int, Profile] = {}
    for part in chunks(sorted(ids)):
        # a dense slice (a first import) reads as one range: `within` may return ids around it
        asked = set(part)
        keys: dict[int, set[str]] = defaultdict(set)
        for key, rid in conn.execute(select(identity_keys.c.key, identity_keys.c.source_record_id)
                                     .where(within(identity_keys.c.source_record_id, part))):
            if rid in asked:
                keys[rid].add(key)
        crowded = shared_keys if shared_keys is not None else {
            key for key, n in _counts(
                conn, identity_keys.c.key, {k for found in keys.values() for k in found}).items()
            if n > max_records}
        for found in keys.values():
            found -= crowded
        for rid, contact_id, fields in conn.execute(
                select(source_records.c.id, source_records.c.contact_id, source_records.c.fields)
                .where(within(source_records.c.id, part), source_records.c.deleted.is_(False))):
            if rid not in asked:
                continue
            email = fields.get("email")
            shared = bool(email) and canonical_email(str(email)) not in keys[rid]
            result[rid] = profile(rid, contact_id, fields, id_fields=id_fields,
                                  shared_email=shared)
    return result


def _to_key(conn: Connection) -> tuple[array[int], bool]:
    """Records whose keys must be (re)computed: the dirty ones, or all on the first pass.

    Returns the ids in order and whether this is the first pass.
    """
    keyed = conn.execute(select(settings.c.value).where(settings.c.name == KEYED)).scalar()
    query = select(source_records.c.id).order_by(source_records.c.id)
    if keyed is None:
        conn.execute(insert(settings).values(name=KEYED, value="1"))
    else:
        query = query.where(source_records.c.dirty.is_(True))
    return array("q", conn.execute(query).scalars()), keyed is None


def link(conn: Connection, *, thresholds: Thresholds, run_id: int | None, now: datetime,
         id_fields: Sequence[str] = (), max_records: int = 25,
         crowded: Set[str] | None = None) -> Linking:
    """Key, block and score this run's changed records; merge or suggest what matches.

    Memory stays bounded by a batch, not by the import: records are keyed a batch at a
    time and their profiles dropped, the candidate pairs come from the store (records
    sharing a usable block, of different contacts, one of them changed), and each batch of
    pairs loads only the profiles it scores. A million-record first import never holds a
    million profiles. `crowded`: every crowded identity key, when identity resolution of this
    run already counted them all (`Resolution.crowded`).
    """
    result = Linking()
    ids, first_pass = _to_key(conn)
    if not ids:
        return result
    fresh = conn.execute(select(match_keys.c.key).limit(1)).first() is None
    # keying every record: one pass over the identity keys finds the shared ones, instead of
    # a count per batch of records (a hundred round trips per 100,000 records on PostgreSQL)
    if not first_pass:
        crowded = None
    elif crowded is None:
        crowded = set(crowded_keys(conn, max_records, bulk=True))
    # an empty table keyed by the thousand (a first import) gets its index built once
    load = EmptyTableLoad(conn, match_keys, ("key", "source_record_id")) \
        if fresh and len(ids) >= LOAD_FROM else None
    for batch in chunks(ids, KEY_BATCH):
        keyed = _profiles(conn, batch, id_fields, max_records, crowded)
        rows = [(stored_key(key), rid) for rid, p in keyed.items() for key in all_keys(p)]
        if load is not None:
            load.add(rows)
            continue
        if not fresh:
            # a changed record keeps most of its keys (a new phone number moves two of
            # eleven): only the ones it lost are deleted and the ones it gained written
            held = {(key, rid) for part in chunks(list(batch)) for key, rid in conn.execute(
                select(match_keys.c.key, match_keys.c.source_record_id)
                .where(match_keys.c.source_record_id.in_(part)))}
            delete_rows(conn, match_keys, ("key", "source_record_id"),
                        sorted(held.difference(rows)))
            rows = [row for row in rows if row not in held]
        insert_rows(conn, match_keys, ("key", "source_record_id"), rows)
    if load is not None:
        load.finish()
    if first_pass and len(ids) >= ANALYZE_FROM:
        # the pairs are joined next: without statistics of the keys just written (a first
        # import's table was empty) PostgreSQL's planner nested its loops over millions of
        # rows; a later run changes a small part of tables whose statistics the last run made
        analyze(conn, ("match_keys", "source_records"))
    del ids

    total = conn.execute(select(func.count()).select_from(source_records).where(
        source_records.c.deleted.is_(False))).scalar_one()
    terms: dict[str, int] = {}
    best: dict[frozenset[int], tuple[Score, int, int]] = {}
    pairs = _candidate_pairs(conn, changed_only=not first_pass)
    # a record is in a pair with each of its block mates, so it recurs across batches of
    # pairs (1.45 million pairs of 120,637 records needed 1.45 million profiles); the most
    # recently used ones are kept, a bounded number (about 800 bytes each)
    kept: OrderedDict[int, Profile] = OrderedDict()
    for start in range(0, len(pairs), 2 * PAIR_BATCH):
        batch_pairs = pairs[start:start + 2 * PAIR_BATCH]
        wanted = sorted(set(batch_pairs))
        for rid in wanted:
            if rid in kept:
                kept.move_to_end(rid)
        loaded = _profiles(conn, [rid for rid in wanted if rid not in kept], id_fields,
                           max_records, crowded)
        kept.update(loaded)
        everyone = {rid: kept[rid] for rid in wanted if rid in kept}
        while len(kept) > PROFILES_KEPT:
            kept.popitem(last=False)
        # a kept profile's terms were counted when it was loaded
        missing = {key for p in loaded.values() for key in term_keys(p)} - terms.keys()
        terms.update(dict.fromkeys(missing, 0))
        terms.update(_term_counts(conn, missing))
        model = Model(Frequencies(terms, total))
        for i in range(0, len(batch_pairs), 2):
            left, right = batch_pairs[i], batch_pairs[i + 1]
            a, b = everyone.get(left), everyone.get(right)
            if a is None or b is None or a.contact_id is None or b.contact_id is None \
                    or a.contact_id == b.contact_id:
                continue
            score = model.score(a, b)
            if score.probability < thresholds.review:
                continue
            both = frozenset((a.contact_id, b.contact_id))
            if both not in best or score.probability > best[both][0].probability:
                best[both] = (score, left, right)
    if best:
        _decide(conn, best, thresholds, run_id, now, result)
    return result


def _candidate_pairs(conn: Connection, *, changed_only: bool) -> array[int]:
    """(left, right) record ids, flat, of records sharing a usable block key.

    Usable: held by 2 to `MAX_BLOCK` records. Only pairs of two different contacts are
    worth scoring (e-mail identity has joined the rest already), and, after the first
    pass, only pairs with a changed record. The join runs in the store; the result is a
    flat array of integers (16 bytes a pair), not a set of Python tuples.
    """
    left, right = match_keys.alias("l"), match_keys.alias("r")
    mine, theirs = source_records.alias("mine"), source_records.alias("theirs")
    keys = select(match_keys.c.key).where(match_keys.c.key >= 0)  # blocks (`stored_key`)
    if changed_only:
        changed = (select(match_keys.c.key)
                   .join(source_records, source_records.c.id == match_keys.c.source_record_id)
                   .where(source_records.c.dirty.is_(True)))
        keys = keys.where(match_keys.c.key.in_(changed))
    blocks = (keys.group_by(match_keys.c.key)
              .having(func.count().between(2, MAX_BLOCK)).cte("blocks"))
    query = (
        select(left.c.source_record_id, right.c.source_record_id).distinct()
        .join(right, (right.c.key == left.c.key)
              & (right.c.source_record_id > left.c.source_record_id))
        .join(mine, mine.c.id == left.c.source_record_id)
        .join(theirs, theirs.c.id == right.c.source_record_id)
        .where(left.c.key.in_(select(blocks.c.key)),
               mine.c.contact_id != theirs.c.contact_id,
               mine.c.deleted.is_(False), theirs.c.deleted.is_(False))
        .order_by(left.c.source_record_id, right.c.source_record_id))
    if changed_only:
        query = query.where(or_(mine.c.dirty.is_(True), theirs.c.dirty.is_(True)))
    flat = array("q")
    for a, b in conn.execute(query.execution_options(yield_per=PAIR_BATCH)):
        flat.append(a)
        flat.append(b)
    return flat


def _systems_of(conn: Connection, contact_ids: Sequence[int]) -> dict[int, set[str]]:
    """The connectors holding live records of each contact."""
    found: dict[int, set[str]] = defaultdict(set)
    for part in chunks(sorted(contact_ids)):
        for contact_id, connector in conn.execute(
                select(source_records.c.contact_id, source_records.c.connector).distinct()
                .where(source_records.c.contact_id.in_(part),
                       source_records.c.deleted.is_(False))):
            found[contact_id].add(connector)
    return found


def _open_by_contacts(conn: Connection, contact_ids: Sequence[int]) -> dict[frozenset[int], int]:
    """Open suggestions between these contacts, by the pair of contacts."""
    found: dict[frozenset[int], int] = {}
    for part in chunks(sorted(contact_ids)):
        for pid, left, right in conn.execute(
                select(match_pairs.c.id, match_pairs.c.left_contact, match_pairs.c.right_contact)
                .where(match_pairs.c.status == "open", match_pairs.c.left_contact.in_(part))):
            found.setdefault(frozenset((left, right)), pid)
    return found


def _counts(conn: Connection, column: Any, keys: Iterable[K]) -> dict[K, int]:
    """How many rows hold each of `keys` in `column` (a key column), in IN-sized chunks."""
    found: dict[K, int] = {}
    for part in chunks(sorted(set(keys))):
        found.update((key, n) for key, n in conn.execute(
            select(column, func.count()).where(column.in_(part)).group_by(column)))
    return found


def _term_counts(conn: Connection, keys: Iterable[str]) -> dict[str, int]:
    """How many records hold each of the term `keys` (stored as `stored_key`)."""
    named = {stored_key(key): key for key in keys}
    return {named[stored]: n for stored, n in _counts(conn, match_keys.c.key, named).items()}


def _decide(conn: Connection, best: dict[frozenset[int], tuple[Score, int, int]],
            thresholds: Thresholds, run_id: int | None, now: datetime,
            result: Linking) -> None:
    """Merge (best first) what clears the bar, suggest the rest; people's decisions stand."""
    contact_ids = sorted({cid for both in best for cid in both})
    apart = blocked(conn, contact_ids)
    decided: dict[tuple[int, int], tuple[int, str]] = {}
    for part in chunks(sorted({(left, right) for _, left, right in best.values()})):
        for pid, left, right, status in conn.execute(
                select(match_pairs.c.id, match_pairs.c.left_record, match_pairs.c.right_record,
                       match_pairs.c.status).where(
                    match_pairs.c.left_record.in_([p[0] for p in part]))):
            decided[(left, right)] = (pid, status)
    systems = _systems_of(conn, contact_ids)
    cluster: dict[int, set[int]] = {cid: {cid} for cid in contact_ids}
    merges: list[tuple[int, int, float, int, int, Score]] = []
    suggestions: list[tuple[int, int, Score, int, int]] = []
    for both, (score, left, right) in sorted(best.items(), key=lambda item: -item[1][0]
                                             .probability):
        x, y = sorted(both)
        known = decided.get((left, right))
        if known is not None and known[1] != "open":
            continue
        together = cluster[x] | cluster[y]
        # two records one system keeps apart are reported, never merged on hub's own say
        shared_system = bool(set().union(*(systems.get(c, set()) for c in cluster[x]))
                             & set().union(*(systems.get(c, set()) for c in cluster[y])))
        if score.probability >= thresholds.auto_merge and score.veto is None \
                and not shared_system and cluster[x] is not cluster[y] \
                and not any(frozenset((p, q)) in apart for p in cluster[x] for q in cluster[y]):
            for cid in together:
                cluster[cid] = together
            merges.append((x, y, score.probability, left, right, score))
        else:
            suggestions.append((x, y, score, left, right))
    waiting = _open_by_contacts(conn, contact_ids)
    opened: list[dict[str, Any]] = []
    renewed: list[dict[str, Any]] = []
    for x, y, score, left, right in suggestions:
        if cluster[x] is cluster[y]:
            continue  # joined through other pairs in this run: nothing left to review
        if frozenset((x, y)) in apart:
            continue  # a person said no (through another pair of their records)
        known = decided.get((left, right))
        if known is None and frozenset((x, y)) in waiting:
            known = (waiting[frozenset((x, y))], "open")  # one suggestion per two contacts
        row = {"left_contact": x, "right_contact": y, "probability": score.probability,
               "evidence": score.evidence, "run_id": run_id}
        if known is None:
            opened.append({"left_record": left, "right_record": right, "status": "open",
                           "created_at": now, **row})
        else:
            renewed.append({"pid": known[0], **row})
        result.suggested += 1
    _write_pairs(conn, opened, renewed)
    target_of: dict[int, int] = {}
    made: list[dict[str, Any]] = []
    remade: list[dict[str, Any]] = []
    for x, y, probability, left, right, score in merges:
        target = min(cluster[x])
        for cid in sorted(cluster[x] - {target}):
            if target_of.get(cid) is None:
                target_of[cid] = target
                merge_contacts(conn, target, cid, run_id=run_id, now=now, result=Resolution(),
                               reason=f"contact {cid} matches contact {target} "
                                      f"(probability {probability:.4f})")
                result.merged += 1
        result.touched.add(target)
        row = {"left_contact": x, "right_contact": y, "probability": probability,
               "evidence": score.evidence, "run_id": run_id, "status": "merged",
               "decided_at": now, "actor": "hub"}
        known = decided.get((left, right))
        if known is None:
            made.append({"left_record": left, "right_record": right, "created_at": now, **row})
        else:
            remade.append({"pid": known[0], **row})
    # merging moves records and contacts, never pairs: the pairs can be written after it
    _write_pairs(conn, made, remade)


def _write_pairs(conn: Connection, new: list[dict[str, Any]],
                 known: list[dict[str, Any]]) -> None:
    """Insert `new` pairs and update `known` ones (by "pid"), each in one executemany.

    A change scores thousands of pairs; a statement apiece spent more on compiling than on
    writing.
    """
    if new:
        conn.execute(insert(match_pairs), new)
    if known:
        conn.execute(update(match_pairs).where(match_pairs.c.id == bindparam("pid")), known)
