"""DECIDE, lifecycle: each contact's stage, score, value and owner, decided once per run.

The rules are `[lifecycle]`'s, in the order of the agreement they encode:

- a stage the CRM shows is a sales decision and is adopted (``salesqualifiedlead`` is SQL,
  an MQL whose lead status says sales picked it up is SAL); stages above MQL come only from
  there;
- a paid order makes a customer;
- a score at the MQL threshold makes an MQL, unless sales disqualified the lead in the CRM or
  the newsletter consent is in a blocked state (suppressed by default);
- otherwise a contact with a newsletter permission is a subscriber, anyone else a lead.

The furthest of these wins, and a contact never moves back: the only way back is
`hub contacts set-stage` (`set_stage`), audited like every move in `stage_changes`. A contact
that became an MQL through its score in this run is handed over: a routing rule or the
round-robin picks its CRM owner, and the run report lists it.

One exception to "never back": a decision made while a system that feeds it could not be
read (its read failed in that run) is *provisional*. Without Mailchimp's consent a subscriber
looks like a plain lead, and "never back" would keep them there for good. A provisional stage
holds nobody: the rules decide again at every run until those systems have been read, and a
move back from it is audited and pushed with ``lead.reset`` like an ops correction.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from hub.clock import iso
from hub.consent.policy import decide
from hub.lifecycle import stage as stages
from hub.lifecycle.config import LifecycleSection, Route, ScoringSection
from hub.lifecycle.customer_value import CustomerValue, combine, parse_time, value_of
from hub.lifecycle.leads import SourceView, contact_batches, due, held_since, views
from hub.lifecycle.scoring import Fact, Score, Scorer, SignalFn
from hub.lifecycle.stage import Stage
from hub.store import upsert
from hub.store.bulk import insert_rows, update_rows, upsert_rows, within
from hub.store.schema import contacts, leads, settings, stage_changes

#: The `settings` row holding the fingerprint of the rules the last run applied.
RULES = "lifecycle_rules"
#: Consent states that mean the newsletter may reach the contact (it is a subscriber).
_SUBSCRIBED = frozenset({"confirmed", "unconfirmed", "pending"})
MAX_LISTED = 50


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The lifecycle decision for one contact, with everything that explains it."""

    stage: Stage
    source: str
    reason: str
    score: Score
    value: CustomerValue | None
    disqualified: bool
    consent: str
    crm_stage: Stage | None
    notes: tuple[str, ...] = ()
    #: signal → [value, since when (ISO)], kept for the next run's decay.
    seen: dict[str, list[Any]] = field(default_factory=dict)

    def tags(self, prefix: str = "hub:") -> list[str]:
        """The ``hub:`` tags a newsletter or shop gets: stage, dormant, premium, unqualified."""
        tags = [f"{prefix}{self.stage.value}"]
        if self.value is not None and self.value.dormant:
            tags.append(f"{prefix}dormant")
        if self.value is not None and self.value.premium:
            tags.append(f"{prefix}premium")
        if self.disqualified:
            tags.append(f"{prefix}unqualified")
        return sorted(tags)


@dataclass
class Report:
    """What the lifecycle step did in one run (the run summary's "lifecycle")."""

    evaluated: int = 0
    changed: int = 0
    moves: dict[str, int] = field(default_factory=dict)
    new_mqls: int = 0
    handed_over: list[dict[str, Any]] = field(default_factory=list)
    #: `[scoring]` or `[lifecycle]` changed since the last run: every contact was evaluated.
    rules_changed: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Stable JSON for `hub sync --json` (``rules_changed`` only when they did)."""
        reported: dict[str, Any] = {
            "evaluated": self.evaluated, "changed": self.changed,
            "stage_moves": dict(sorted(self.moves.items())), "new_mqls": self.new_mqls,
            "handed_over": self.handed_over[:MAX_LISTED]}
        if self.rules_changed:
            reported["rules_changed"] = True
        return reported

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        """From the reported form, as a stored run summary holds it."""
        return cls(evaluated=int(data.get("evaluated", 0)), changed=int(data.get("changed", 0)),
                   moves=dict(data.get("stage_moves") or {}),
                   new_mqls=int(data.get("new_mqls", 0)),
                   handed_over=[dict(h) for h in data.get("handed_over") or []],
                   rules_changed=bool(data.get("rules_changed")))


class Lifecycle:
    """`[scoring]` and `[lifecycle]` applied to contacts."""

    def __init__(self, scoring: ScoringSection, section: LifecycleSection,
                 signals: Mapping[str, SignalFn] | None = None) -> None:
        self.scorer = Scorer(scoring, signals)
        self.section = section
        #: Golden fields the rules read (None: all, when plugin signals may read any).
        self._needed: frozenset[str] | None = None if self.scorer.signals else frozenset(
            {r.field for r in scoring.rules} | {r.dated_by for r in scoring.rules if r.dated_by})

    # -- one contact -----------------------------------------------------------------------
    def facts(self, fields: Mapping[str, Any], records: Sequence[SourceView], now: datetime,
              seen: Mapping[str, Sequence[Any]] | None = None
              ) -> tuple[dict[str, Fact], CustomerValue | None, dict[str, list[Any]]]:
        """Golden fields, combined signals and customer value, as named facts.

        A signal dates from when its *value* last changed: `seen` holds (value, ISO time) per
        signal from earlier runs, so a record that changed for another reason (hub's own tag
        write moves Mailchimp's `last_changed`) does not make old behaviour young again.
        Returns the facts, the customer value and the updated `seen`.
        """
        needed = self._needed
        facts = {name: Fact(value) for name, value in fields.items()
                 if needed is None or name in needed}
        combined = combine((r.signals, r.at) for r in records)
        since: dict[str, list[Any]] = {}
        for name, (value, at) in combined.items():
            before = (seen or {}).get(name)
            if before is not None and len(before) == 2 and before[0] == value:
                at = parse_time(before[1])
            since[name] = [value, at.isoformat() if at is not None else None]
            facts[name] = Fact(value, at)
        value = value_of(combined, self.section, now)
        if value is not None:
            at = parse_time(value.last_order_at)
            for name, v in value.as_dict().items():
                if v is not None and name not in ("first_order_at", "last_order_at"):
                    facts.setdefault(name, Fact(v, at))
            facts["aov"] = Fact(value.aov, at)
            if value.last_order_at is not None:
                moment = parse_time(value.last_order_at)
                if moment is not None:
                    facts["days_since_last_order"] = Fact((now - moment).days, moment)
        return facts, value, since

    def evaluate(self, fields: Mapping[str, Any], records: Sequence[SourceView],
                 now: datetime, previous: Stage | None = None,
                 seen: Mapping[str, Sequence[Any]] | None = None,
                 held_since: datetime | None = None) -> Evaluation:
        """The stage this contact should have now, never behind `previous`.

        `held_since`: when ops set `previous` by hand (`set_stage`); such a stage holds
        against hub's rules, forward and back, until the CRM shows a different stage that
        sales set after it.
        """
        facts, value, since = self.facts(fields, records, now, seen)
        score = self.scorer.score(facts, now)
        consent = decide((r.connector, e) for r in records for e in r.consent).state
        crm_stage, status = self._crm(records)
        disqualified = status is not None and status.upper() in {
            s.upper() for s in self.section.disqualified_statuses}
        notes: list[str] = []
        default = Stage.SUBSCRIBER if consent in _SUBSCRIBED else Stage.LEAD
        options: list[tuple[Stage, str, str]] = [
            (default, "default", "newsletter permission" if default is Stage.SUBSCRIBER
             else "known contact")]
        if crm_stage is not None:
            options.append((crm_stage, "crm", f"the CRM shows {crm_stage.value}"
                            + (f" (lead status {status})" if status else "")))
        if value is not None and value.is_customer and self.section.customer_on_paid_order:
            options.append((Stage.CUSTOMER, "orders", f"{value.paid_orders} paid orders"))
        threshold = self.section.mql_threshold
        if score.total >= threshold:
            if disqualified:
                notes.append(f"score {score.total} ≥ {threshold:g}, but sales disqualified "
                             f"the lead (lead status {status})")
            elif consent in self.section.mql_blocked_consent:
                notes.append(f"score {score.total} ≥ {threshold:g}, but the newsletter "
                             f"consent is {consent}")
            else:
                options.append((Stage.MQL, "score",
                                f"score {score.total} ≥ MQL threshold {threshold:g}"))
        chosen = options[0]
        for option in options[1:]:
            if option[0].rank > chosen[0].rank:
                chosen = option
        crm_since = parse_time((since.get("lifecyclestage") or [None, None])[1])
        if previous is not None and held_since is not None:
            # ops set this stage: it holds against hub's rules until sales set another one
            if crm_stage is not None and crm_stage is not previous and crm_since is not None \
                    and crm_since > held_since:
                chosen = (crm_stage, "crm", f"the CRM shows {crm_stage.value}, set after "
                          "the ops decision")
            else:
                if chosen[0] is not previous:
                    notes.append(f"held at {previous.value} by ops (the rules alone say "
                                 f"{chosen[0].value}) until sales set another stage in the CRM")
                chosen = (previous, "kept", "")
        elif previous is not None and previous.rank >= chosen[0].rank:
            if previous is not chosen[0]:
                notes.append(f"stays {previous.value}: a sync never moves a stage back "
                             f"(the rules alone say {chosen[0].value})")
            chosen = (previous, "kept", "")
        return Evaluation(stage=chosen[0], source=chosen[1], reason=chosen[2], score=score,
                          value=value, disqualified=disqualified, consent=consent,
                          crm_stage=crm_stage, notes=tuple(notes), seen=since)

    @staticmethod
    def _crm(records: Sequence[SourceView]) -> tuple[Stage | None, str | None]:
        """The CRM's lifecycle stage and lead status, from its most recently changed record."""
        shown = [r for r in records
                 if "lifecyclestage" in r.signals or "hs_lead_status" in r.signals]
        if not shown:
            return None, None
        newest = max(shown, key=lambda r: r.at or datetime.min.replace(tzinfo=UTC))
        status = newest.signals.get("hs_lead_status")
        return (stages.from_crm(newest.signals.get("lifecyclestage"), status),
                str(status) if status else None)

    def route(self, fields: Mapping[str, Any], counter: int) -> tuple[str | None, bool]:
        """The owner for a new MQL: the first matching route, else round-robin.

        Returns (owner, used the round-robin); `counter` is how many the round-robin gave out.
        """
        for route in self.section.handover.routes:
            if _matches(route, fields.get(route.field)):
                return route.owner, False
        owners = self.section.handover.owners
        if owners:
            return owners[counter % len(owners)], True
        return None, False

    # -- a run -----------------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        """A digest of the rules (and the plugin signals they may use), kept in the store.

        A run whose rules differ from the last run's evaluates every contact, so a changed
        points value or threshold reaches existing contacts, not only the ones that changed.
        """
        rules = {"scoring": self.scorer.section.model_dump(mode="json"),
                 "lifecycle": self.section.model_dump(mode="json"),
                 "signals": sorted(self.scorer.signals)}
        return hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()

    @property
    def moves_with_the_clock(self) -> bool:
        """True when scores change by time alone (decay), so every contact needs a look."""
        scoring = self.scorer.section
        return scoring.half_life_days is not None or scoring.decay_period_days is not None

    def apply(self, conn: Connection, *, run_id: int, now: datetime,
              touched: set[int] | None = None, unread: Iterable[str] = ()) -> Report:
        """Evaluate contacts; store and audit what changed; mark it for the outbox.

        Which contacts: the ones this run `touched` (None: all), the ones hub has not decided
        yet, ops changed or decided provisionally, and the ones whose result moves with the
        clock: everyone with customer value (recency, dormancy), and everyone when behaviour
        points decay. `unread`: systems whose read failed in this run; every decision made
        now is provisional until they have been read.
        """
        missing = sorted(set(unread))
        report = Report()
        fingerprint = self.fingerprint
        last = conn.execute(select(settings.c.value).where(settings.c.name == RULES)).scalar()
        report.rules_changed = last is not None and last != fingerprint
        if report.rules_changed:
            touched = None
        owners = self.section.handover.owners
        given = 0
        if owners:
            given = sum(1 for _ in conn.execute(
                select(leads.c.contact_id).where(leads.c.owner.in_(owners))))
        wanted = None if touched is None or self.moves_with_the_clock else \
            due(conn, touched)
        for batch in contact_batches(conn, wanted):
            ids = [row.id for row in batch]  # in id order: a first import's are one range
            asked = set(ids)
            inputs = views(conn, ids)
            known = {row.contact_id: row for row in conn.execute(
                select(leads).where(within(leads.c.contact_id, ids))) if row.contact_id in asked}
            held = held_since(conn, [cid for cid, row in known.items()
                                if row.stage_source == "ops"])
            rows: list[dict[str, Any]] = []
            marked: list[int] = []
            moves: list[dict[str, Any]] = []
            for contact in batch:
                report.evaluated += 1
                before = known.get(contact.id)
                previous = Stage(before.stage) if before is not None else None
                tentative = before is not None and is_provisional(before.provisional)
                result = self.evaluate(contact.fields, inputs.get(contact.id, []), now,
                                       None if tentative else previous,
                                       before.signals_seen if before is not None else None,
                                       held.get(contact.id))
                owner = before.owner if before is not None else None
                if result.source == "score" and result.stage is Stage.MQL \
                        and previous is not Stage.MQL:
                    report.new_mqls += 1
                    if owner is None:
                        owner, round_robin = self.route(contact.fields, given)
                        given += round_robin
                    report.handed_over.append({"contact_id": contact.id, "owner": owner})
                source = result.source if result.source != "kept" else (
                    before.stage_source if before is not None else "default")
                row = {"contact_id": contact.id, "stage": result.stage.value,
                       "stage_source": source, "score": result.score.total,
                       "band": result.score.band, "owner": owner,
                       "disqualified": result.disqualified, "tags": result.tags(),
                       "value": result.value.as_dict() if result.value else None,
                       "signals_seen": result.seen,
                       "provisional": _provisional(missing, before, previous, result.stage)}
                shown = before is None or before.dirty or any(
                    getattr(before, k) != v for k, v in row.items() if k != "signals_seen")
                if not shown and before is not None and before.signals_seen == result.seen:
                    continue
                rows.append({**row, "updated_at": now, "updated_run": run_id, "dirty": False})
                if shown:
                    # only what the systems are told makes the outbox look again; a contact
                    # rebuilt in this run carries the stamp already (every contact of a first
                    # import: stamping them again rewrote each row and its indexes)
                    report.changed += 1
                    if contact.updated_run != run_id:
                        marked.append(contact.id)
                if previous is not result.stage:
                    report.moves[result.stage.value] = report.moves.get(result.stage.value, 0) + 1
                    moves.append({"contact_id": contact.id, "at": now, "run_id": run_id,
                                  "from_stage": previous.value if previous else None,
                                  "to_stage": result.stage.value, "source": source,
                                  "reason": result.reason, "owner": owner})
            if rows:
                upsert_rows(conn, leads, _LEAD_COLUMNS, ("contact_id",),
                            [tuple(row[c] for c in _LEAD_COLUMNS) for row in rows])
            if marked:
                update_rows(conn, contacts, ("updated_run",), "id",
                            [(run_id, cid) for cid in marked])
            if moves:
                insert_rows(conn, stage_changes, _MOVE_COLUMNS,
                            [tuple(move[c] for c in _MOVE_COLUMNS) for move in moves])
        if last != fingerprint:
            upsert(conn, settings, [{"name": RULES, "value": fingerprint}], ("name",))
        return report


_LEAD_COLUMNS = ("contact_id", "stage", "stage_source", "score", "band", "owner", "disqualified",
                 "tags", "value", "signals_seen", "provisional", "updated_at", "updated_run",
                 "dirty")
_MOVE_COLUMNS = ("contact_id", "at", "run_id", "from_stage", "to_stage", "source", "reason",
                 "owner")


def is_provisional(marker: Mapping[str, Any] | None) -> bool:
    """Whether a stored decision still lacks a system's data (see the module docstring)."""
    return bool(marker and marker.get("unread"))


def _provisional(missing: list[str], before: Any, previous: Stage | None,
                 stage: Stage) -> dict[str, Any] | None:
    """The `leads.provisional` marker of a decision made now.

    ``{"unread": [...]}`` while systems are missing; ``{"moved_back_from": stage}`` once a
    provisional stage was corrected backwards (kept while the stage stays, so a CRM that only
    moves forward is reset first, `lead_fields`); None for an ordinary decision.
    """
    if missing:
        return {"unread": missing}
    marker = before.provisional if before is not None else None
    if previous is not None and stage.rank < previous.rank and is_provisional(marker):
        return {"moved_back_from": previous.value}
    if marker and marker.get("moved_back_from") and previous is stage:
        return dict(marker)
    return None


def set_stage(conn: Connection, contact_id: int, stage: Stage, *, reason: str,
              now: datetime, actor: str) -> str | None:
    """The ops action: put a contact on `stage`, forward or back, with an audit row.

    The next sync pushes the new stage (the row is marked dirty) and then applies the rules
    from there: a reset stage moves forward again only when a rule says so.
    Returns the previous stage (None when hub had not decided one yet).
    """
    before = conn.execute(select(leads).where(leads.c.contact_id == contact_id)).first()
    previous = before.stage if before is not None else None
    if before is None:
        conn.execute(insert(leads).values(
            contact_id=contact_id, stage=stage.value, stage_source="ops", score=0, band="",
            owner=None, disqualified=False, tags=[f"hub:{stage.value}"], value=None,
            signals_seen={}, updated_at=now, updated_run=None, dirty=True, provisional=None))
    else:
        tags = [t for t in before.tags or [] if t != f"hub:{previous}"] + [f"hub:{stage.value}"]
        conn.execute(update(leads).where(leads.c.contact_id == contact_id).values(
            stage=stage.value, stage_source="ops", tags=sorted(set(tags)), updated_at=now,
            dirty=True, provisional=None))
    conn.execute(insert(stage_changes).values(
        contact_id=contact_id, at=now, run_id=None, from_stage=previous, to_stage=stage.value,
        source="ops", reason=f"{reason} (by {actor})", owner=None))
    return previous


def _matches(route: Route, value: Any) -> bool:
    if value in (None, ""):
        return False
    text = str(value).strip()
    if route.equals is not None:
        return text.casefold() == route.equals.strip().casefold()
    if route.within is not None:
        return text.casefold() in {v.strip().casefold() for v in route.within}
    return (route.min is None or _ge(text, route.min)) and \
        (route.max is None or _ge(route.max, text))


def _ge(a: str, b: str) -> bool:
    """a ≥ b: as numbers when both are, else as text (zip codes of equal length)."""
    try:
        return float(a) >= float(b)
    except ValueError:
        return a >= b


def explain(conn: Connection, contact_id: int, rules: Lifecycle, now: datetime) -> dict[str, Any]:
    """Why the contact has its stage and score, rule by rule, with its stage history."""
    row = conn.execute(select(contacts.c.fields).where(contacts.c.id == contact_id)).first()
    stored = conn.execute(select(leads).where(leads.c.contact_id == contact_id)).first()
    found = views(conn, [contact_id]).get(contact_id, [])
    tentative = stored is not None and is_provisional(stored.provisional)
    previous = Stage(stored.stage) if stored is not None and not tentative else None
    held = held_since(conn, [contact_id]) if stored is not None and stored.stage_source == "ops" \
        else {}
    result = rules.evaluate(row.fields if row else {}, found, now, previous,
                            stored.signals_seen if stored is not None else None,
                            held.get(contact_id))
    history = [{"at": iso(r.at), "from": r.from_stage, "to": r.to_stage,
                "source": r.source, "reason": r.reason, "run_id": r.run_id}
               for r in conn.execute(select(stage_changes)
                                     .where(stage_changes.c.contact_id == contact_id)
                                     .order_by(stage_changes.c.id))]
    return {"stage": result.stage.value,
            "stage_source": stored.stage_source if stored is not None and
            result.source == "kept" else result.source,
            "reason": result.reason,
            "notes": list(result.notes) + ([
                "provisional: decided while " + ", ".join(stored.provisional["unread"])
                + " could not be read; the next run that reads it decides again"]
                if tentative and stored is not None else []),
            "crm_stage": result.crm_stage.value if result.crm_stage else None,
            "consent": result.consent, "disqualified": result.disqualified,
            "owner": stored.owner if stored is not None else None,
            "score": result.score.as_dict(), "tags": result.tags(),
            "value": result.value.as_dict() if result.value else None, "history": history}


