"""Lifecycle stages: the demand waterfall as an ordered enum, and how the CRM spells them.

The order is the agreement marketing and sales made: a contact only ever moves right by a
sync. `other` sits outside the waterfall (partners, vendors): it is never promoted by a rule
and never outranks a real stage.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Stage(StrEnum):
    """A contact's lifecycle stage; compare with `rank`, not with string order."""

    SUBSCRIBER = "subscriber"
    LEAD = "lead"
    MQL = "mql"
    SAL = "sal"
    SQL = "sql"
    OPPORTUNITY = "opportunity"
    CUSTOMER = "customer"
    EVANGELIST = "evangelist"
    OTHER = "other"

    @property
    def rank(self) -> int:
        """Position in the waterfall; `other` ranks below everything (it is no progress)."""
        return -1 if self is Stage.OTHER else _ORDER.index(self)

    @classmethod
    def parse(cls, text: str) -> Stage:
        """A stage from its name; the error lists the valid ones."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValueError(f"{text!r} is not a lifecycle stage; use one of: "
                             + ", ".join(s.value for s in cls)) from None


_ORDER: Final = (Stage.SUBSCRIBER, Stage.LEAD, Stage.MQL, Stage.SAL, Stage.SQL,
                 Stage.OPPORTUNITY, Stage.CUSTOMER, Stage.EVANGELIST)

#: Stages only sales sets (in the CRM); hub's rules stop at mql (and customer from orders).
SALES_STAGES: Final = frozenset({Stage.SAL, Stage.SQL, Stage.OPPORTUNITY})

#: HubSpot's `lifecyclestage` internal values. SAL has no HubSpot stage: sales accept a lead
#: through `hs_lead_status` (see `from_crm`).
HUBSPOT: Final[dict[Stage, str]] = {
    Stage.SUBSCRIBER: "subscriber", Stage.LEAD: "lead", Stage.MQL: "marketingqualifiedlead",
    Stage.SQL: "salesqualifiedlead", Stage.OPPORTUNITY: "opportunity",
    Stage.CUSTOMER: "customer", Stage.EVANGELIST: "evangelist", Stage.OTHER: "other",
}
_FROM_HUBSPOT: Final = {value: stage for stage, value in HUBSPOT.items()}

#: `hs_lead_status` values by which sales accept an MQL (it becomes SAL).
ACCEPTED_STATUSES: Final = frozenset({"OPEN", "IN_PROGRESS", "ATTEMPTED_TO_CONTACT",
                                      "CONNECTED", "OPEN_DEAL"})


def later(a: Stage, b: Stage) -> Stage:
    """The further of two stages (ties keep `a`)."""
    return b if b.rank > a.rank else a


def from_crm(lifecyclestage: str | None, lead_status: str | None,
             accepted: frozenset[str] = ACCEPTED_STATUSES) -> Stage | None:
    """The stage a CRM record shows: its lifecycle stage, raised to SAL when sales accepted.

    Unknown values give None (hub does not guess what a custom stage means).
    """
    stage = _FROM_HUBSPOT.get((lifecyclestage or "").strip().lower())
    if stage is Stage.MQL and (lead_status or "").strip().upper() in accepted:
        return Stage.SAL
    return stage
