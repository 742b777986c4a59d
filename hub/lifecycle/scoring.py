"""DECIDE, scoring: points for profile and behaviour, faded by age, banded, explained.

A score is the sum of the `[scoring]` rules that fire on a contact's *facts*: its golden
fields, the signals its systems reported (orders, engagement), its customer value and the
signals plugins register. Profile points stay; behaviour points fade with the age of the
behaviour (half-life or a percentage per period), measured against the run's clock, so the
same facts and the same clock always give the same score. Every point is accounted for: the
`Score` lists each rule that fired, with what it saw and what it gave.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.lifecycle.config import ScoringRule, ScoringSection
from hub.lifecycle.customer_value import parse_time

log = logging.getLogger("hub.scoring")

SignalFn = Callable[[Mapping[str, Any]], float]


@dataclass(frozen=True, slots=True)
class Fact:
    """One thing hub knows about a contact, and since when (None: timeless, like a profile)."""

    value: Any
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    """A rule that fired: what it saw, its full points and what is left after decay."""

    rule: str
    field: str
    value: Any
    points: float
    earned: float
    behaviour: bool
    age_days: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The shape `hub contacts explain --json` prints per rule."""
        return {"rule": self.rule, "field": self.field, "value": self.value,
                "points": self.points, "earned": round(self.earned, 2),
                "behaviour": self.behaviour,
                "age_days": None if self.age_days is None else round(self.age_days, 1)}


@dataclass(frozen=True, slots=True)
class Score:
    """A contact's score (rounded to whole points), its band and the rules behind it."""

    total: int
    band: str
    hits: tuple[Hit, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        """The shape `hub contacts explain --json` prints under "score"."""
        return {"total": self.total, "band": self.band, "rules": [h.as_dict() for h in self.hits]}


class Scorer:
    """The `[scoring]` section made executable, with the plugins' signal functions."""

    def __init__(self, section: ScoringSection,
                 signals: Mapping[str, SignalFn] | None = None) -> None:
        self.section = section
        self.signals = dict(signals or {})
        self._patterns = {i: re.compile(r.matches) for i, r in enumerate(section.rules)
                          if r.matches is not None}
        self._bands = sorted(section.bands.items(), key=lambda item: item[1])

    def score(self, facts: Mapping[str, Fact], now: datetime) -> Score:
        """Score `facts` at `now` (the run's clock: decay is measured against it)."""
        facts = self.with_plugin_signals(facts)
        hits: list[Hit] = []
        for index, rule in enumerate(self.section.rules):
            fact = facts.get(rule.field)
            if fact is None or fact.value in (None, "", []):
                continue
            if not self._fires(index, rule, fact.value):
                continue
            earned, age = float(rule.points), None
            if rule.behaviour:
                moment = fact.at
                if rule.dated_by is not None:
                    dated = facts.get(rule.dated_by)
                    moment = parse_time(dated.value) if dated is not None else None
                if moment is not None:
                    age = max(0.0, (now - moment).total_seconds() / 86400)
                    earned *= self.decay(age)
            hits.append(Hit(rule=rule.label, field=rule.field, value=_plain(fact.value),
                            points=rule.points, earned=earned, behaviour=rule.behaviour,
                            age_days=age))
        total = round(sum(h.earned for h in hits))
        return Score(total=total, band=self.band(total), hits=tuple(hits))

    def with_plugin_signals(self, facts: Mapping[str, Fact]) -> dict[str, Fact]:
        """`facts` plus each plugin signal computed over them (a failing plugin adds nothing)."""
        result = dict(facts)
        if not self.signals:
            return result
        plain = {name: fact.value for name, fact in facts.items()}
        for name, fn in self.signals.items():
            try:
                result[name] = Fact(float(fn(plain)))
            except Exception:  # a plugin's bug must not stop a run; the log names it
                log.exception("scoring signal %r raised; it counts as absent", name)
        return result

    def decay(self, age_days: float) -> float:
        """The share of behaviour points left after `age_days` (1.0 without decay)."""
        section = self.section
        if section.half_life_days is not None:
            return float(0.5 ** (age_days / section.half_life_days))
        if section.decay_period_days is not None and section.decay_percent is not None:
            periods = math.floor(age_days / section.decay_period_days)
            return float((1 - section.decay_percent / 100) ** periods)
        return 1.0

    def band(self, total: float) -> str:
        """The highest band whose threshold `total` reaches (the lowest band otherwise)."""
        chosen = self._bands[0][0]
        for name, threshold in self._bands:
            if total >= threshold:
                chosen = name
        return chosen

    def _fires(self, index: int, rule: ScoringRule, value: Any) -> bool:
        values = value if isinstance(value, list | tuple) else [value]
        return any(self._one(index, rule, v) for v in values)

    def _one(self, index: int, rule: ScoringRule, value: Any) -> bool:
        if rule.equals is not None:
            return _same(value, rule.equals)
        if rule.within is not None:
            return any(_same(value, choice) for choice in rule.within)
        if rule.matches is not None:
            return self._patterns[index].search(str(value)) is not None
        number = _number(value)
        if number is None:
            return False
        return (rule.min is None or number >= rule.min) and \
            (rule.max is None or number <= rule.max)


def _same(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return str(value).strip().casefold() == str(expected).strip().casefold()
    if isinstance(expected, int | float):
        number = _number(value)
        return number is not None and number == float(expected)
    return str(value).strip().casefold() == str(expected).strip().casefold()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
