"""``[scoring]`` and ``[lifecycle]``: the agreement marketing and sales made, as config models.

Marketing and sales agree once what makes a lead worth a call (the "SLA": points, decay, the
MQL threshold, who gets the call); these models make that agreement checkable before a run
and executable during one (`scoring`, `evaluation`). Every condition a rule can state
is validated here, so a typo is a config error with a line number, not a silent zero.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.lifecycle.stage import Stage


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ScoringRule(_Section):
    """One rule: a condition on a fact (golden field, signal or customer value) → points.

    Exactly one condition: ``equals``, ``in``, ``matches`` (a regular expression, searched),
    or a range ``min``/``max`` (either or both, inclusive). ``behaviour = true`` marks points
    earned by doing something; they fade with ``[scoring]`` decay, profile points do not.
    """

    field: str
    points: float
    #: A label for explanations; default: the condition itself.
    name: str | None = None
    equals: str | float | bool | None = None
    within: list[str | float] | None = Field(default=None, alias="in")
    matches: str | None = None
    min: float | None = None
    max: float | None = None
    behaviour: bool = False
    #: The date fact that says when the behaviour happened (e.g. "last_order_at"); default:
    #: when the system that reported the signal last changed the record.
    dated_by: str | None = None

    @field_validator("matches")
    @classmethod
    def _pattern(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"matches = {value!r} is not a regular expression: {exc}") \
                    from None
        return value

    @model_validator(mode="after")
    def _one_condition(self) -> ScoringRule:
        given = [name for name, value in (("equals", self.equals), ("in", self.within),
                                          ("matches", self.matches)) if value is not None]
        if self.min is not None or self.max is not None:
            given.append("min/max")
        if len(given) != 1:
            raise ValueError("a rule needs exactly one condition: equals, in, matches or "
                             f"min/max (got {', '.join(given) or 'none'})")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min = {self.min} is above max = {self.max}")
        return self

    @property
    def label(self) -> str:
        """How the rule reads in `hub contacts explain`."""
        if self.name:
            return self.name
        if self.equals is not None:
            return f"{self.field} = {self.equals!r}"
        if self.within is not None:
            return f"{self.field} in {self.within!r}"
        if self.matches is not None:
            return f"{self.field} matches {self.matches!r}"
        low = "" if self.min is None else f"{self.min:g} ≤ "
        high = "" if self.max is None else f" ≤ {self.max:g}"
        return f"{low}{self.field}{high}"


class ScoringSection(_Section):
    """``[scoring]``: profile and behaviour points, their decay and the bands."""

    rules: list[ScoringRule] = []
    #: Behaviour points halve every this many days (continuous decay).
    half_life_days: float | None = Field(default=None, gt=0)
    #: Or: behaviour points lose ``decay_percent`` per full ``decay_period_days``.
    decay_period_days: int | None = Field(default=None, ge=1)
    decay_percent: float | None = Field(default=None, gt=0, le=100)
    #: Band name → lowest score of the band; the highest band a score reaches is its band.
    bands: dict[str, float] = {"cold": 0, "warm": 30, "hot": 60}

    @model_validator(mode="after")
    def _one_decay(self) -> ScoringSection:
        if self.half_life_days is not None and self.decay_period_days is not None:
            raise ValueError("choose one decay: half_life_days, or decay_period_days with "
                             "decay_percent")
        if (self.decay_period_days is None) != (self.decay_percent is None):
            raise ValueError("decay_period_days and decay_percent go together")
        if not self.bands:
            raise ValueError('bands needs at least one band, e.g. bands = { cold = 0 }')
        return self


class Route(_Section):
    """One hand-over route: contacts whose field matches go to `owner`."""

    field: str
    owner: str
    equals: str | None = None
    within: list[str] | None = Field(default=None, alias="in")
    #: An inclusive range compared as text of equal length (zip codes) or as numbers.
    min: str | None = None
    max: str | None = None

    @model_validator(mode="after")
    def _condition(self) -> Route:
        if self.equals is None and self.within is None and self.min is None \
                and self.max is None:
            raise ValueError("a route needs equals, in, or min/max")
        return self


class HandoverSection(_Section):
    """``[lifecycle.handover]``: which CRM owner gets a new MQL."""

    #: Tried in order; the first match wins.
    routes: list[Route] = []
    #: Everyone no route matched: round-robin over these owner ids.
    owners: list[str] = []


class PushSection(_Section):
    """``[lifecycle.push.NAME]``: what connector NAME is told about each contact's lifecycle."""

    stage: bool = True
    score: bool = True
    band: bool = True
    #: ``hub:<stage>``, ``hub:dormant``, ``hub:premium`` tags (replacing stale ``hub:`` tags).
    tags: bool = True
    #: The hand-over owner (CRM only).
    owner: bool = False
    #: Stage → the system's lead status (HubSpot ``hs_lead_status``), e.g. { mql = "NEW" }.
    lead_status: dict[str, str] = {}
    #: Value → property of the system: score, band, stage, orders, revenue, aov, rfm,
    #: first_order_at, last_order_at, dormant, premium.
    properties: dict[str, str] = {}

    @field_validator("lead_status")
    @classmethod
    def _stages(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            Stage.parse(name)
        return value

    @field_validator("properties")
    @classmethod
    def _values(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name not in VALUES:
                raise ValueError(f"properties: {name!r} is not a lifecycle value; use one of: "
                                 + ", ".join(VALUES))
        return value


VALUES = ("score", "band", "stage", "orders", "revenue", "aov", "rfm", "first_order_at",
          "last_order_at", "dormant", "premium")


class LifecycleSection(_Section):
    """``[lifecycle]``: stage rules, customer value and hand-over."""

    mql_threshold: float = 50
    #: Newsletter consent states that keep a contact from becoming an MQL.
    mql_blocked_consent: list[Literal["suppressed", "unsubscribed", "none", "pending",
                                      "unconfirmed"]] = ["suppressed"]
    #: A paid order makes the contact a customer.
    customer_on_paid_order: bool = True
    #: CRM lead statuses that mean sales rejected the lead: hub never re-MQLs it.
    disqualified_statuses: list[str] = ["UNQUALIFIED"]
    #: A customer with no order for this long is dormant (win-back).
    dormant_after_days: int = Field(default=365, ge=1)
    #: Revenue from which a customer is premium.
    premium_revenue: float | None = Field(default=1000, ge=0)
    #: RFM: recency in days (≤ first: 3, ≤ second: 2, else 1), order counts and revenue
    #: (≥ second: 3, ≥ first: 2, else 1).
    rfm_recency_days: tuple[int, int] = (90, 365)
    rfm_frequency: tuple[int, int] = (2, 5)
    rfm_monetary: tuple[float, float] = (100, 1000)
    handover: HandoverSection = HandoverSection()
    push: dict[str, PushSection] = {}
