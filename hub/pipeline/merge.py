"""Survivorship: which source record's value becomes the golden value, field by field.

A pure function of the candidates, so the golden record does not depend on the order records
arrived in: every tie is broken by (connector, external id), never by arrival order. Rules come
from ``[merge]`` in config.toml:

- ``priority``: the first connector in `order` that has a non-empty value wins; connectors not
  listed come after, most recent first.
- ``most_recent``: the value from the record the source itself updated last.
- default (field not configured): most recent non-empty value.

List fields (emails, tags) are unions, sorted, so they are order-independent too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.config import MergeRule

_OLDEST = datetime.min.isoformat()


@dataclass(frozen=True, slots=True)
class Candidate:
    """One source record's normalised fields, as survivorship sees them."""

    record_id: int
    connector: str
    external_id: str
    #: The source's own update time as ISO-8601 UTC text ("" when the source gives none).
    updated_at: str
    fields: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Pick:
    """Why a golden value won: the rule and the values it beat (for `hub contacts explain`)."""

    field: str
    rule: str
    winner: Candidate
    beaten: tuple[tuple[Candidate, Any], ...]


class Survivorship:
    """Applies the configured rules; build once per run, call `golden()` per contact."""

    def __init__(self, rules: Mapping[str, MergeRule]) -> None:
        self._rules = dict(rules)
        self._rank: dict[str, dict[str, int]] = {
            field: {name: i for i, name in enumerate(rule.order)}
            for field, rule in self._rules.items()
            if rule.rule == "priority"
        }

    def rule_text(self, field: str) -> str:
        """The rule for `field` in words, as `hub contacts explain` prints it."""
        rule = self._rules.get(field)
        if rule is None:
            return "most recent non-empty (default)"
        if rule.rule == "priority":
            return "priority: " + " > ".join(rule.order)
        return "most recent"

    def _ordered(self, field: str, candidates: Sequence[Candidate],
                 by_recency: list[Candidate] | None = None) -> list[Candidate]:
        """Candidates best first for `field`; deterministic for any input order."""
        if by_recency is None:
            by_recency = _by_recency(candidates)
        rank = self._rank.get(field)
        if rank is None:
            return by_recency
        unranked = len(rank)
        return sorted(by_recency, key=lambda c: rank.get(c.connector, unranked))

    def golden(self, candidates: Sequence[Candidate]) -> tuple[dict[str, Any], dict[str, int]]:
        """The golden fields and, per field, the id of the source record that supplied it."""
        values: dict[str, Any] = {}
        provenance: dict[str, int] = {}
        if len(candidates) == 1:  # most contacts: nothing to decide
            only = candidates[0]
            for field, value in only.fields.items():
                if field not in ("emails", "tags") and value not in (None, "", [], ()):
                    values[field] = value
                    provenance[field] = only.record_id
        else:
            by_recency = _by_recency(candidates)
            names: set[str] = set()
            for c in candidates:
                names.update(c.fields)
            names.difference_update(("emails", "tags"))
            for field in sorted(names):
                for c in self._ordered(field, candidates, by_recency):
                    value = c.fields.get(field)
                    if value not in (None, "", [], ()):
                        values[field] = value
                        provenance[field] = c.record_id
                        break
        tags: set[str] = set()
        emails: set[str] = set()
        for c in candidates:
            tags.update(c.fields.get("tags") or ())
            emails.update(c.fields.get("emails") or ())
            if c.fields.get("email"):
                emails.add(c.fields["email"])
        if tags:
            values["tags"] = sorted(tags, key=lambda t: (t.casefold(), t))
        primary = values.get("email")
        if emails:
            values["emails"] = [primary, *sorted(emails - {primary})] if primary else sorted(emails)
        return values, provenance

    def explain(self, candidates: Sequence[Candidate]) -> list[Pick]:
        """Every scalar field's winner and the values it beat, rule by rule."""
        picks: list[Pick] = []
        values, provenance = self.golden(candidates)
        by_id = {c.record_id: c for c in candidates}
        for field, record_id in sorted(provenance.items()):
            winner = by_id[record_id]
            beaten = tuple(
                (c, c.fields[field]) for c in self._ordered(field, candidates)
                if c is not winner and c.fields.get(field) not in (None, "")
                and c.fields[field] != values[field]
            )
            picks.append(Pick(field=field, rule=self.rule_text(field), winner=winner,
                              beaten=beaten))
        return picks


def _by_recency(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Most recently updated first; ties by smallest (connector, external id)."""
    return sorted(candidates, reverse=True, key=lambda c: (
        c.updated_at or _OLDEST, _invert(c.connector), _invert(c.external_id)))


def _invert(text: str) -> str:
    """A key that sorts `text` ascending inside a descending sort (ties: smallest name wins)."""
    return "".join(chr(0x10FFFF - ord(ch)) for ch in text)
