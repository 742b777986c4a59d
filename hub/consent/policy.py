"""DECIDE, consent: what a contact's newsletter permission is, from every system's evidence.

The rules are docs/consent.md's, applied to the observations connectors report
(`ConsentObservation`, stored per source record):

- only ``doi_confirmed`` evidence makes a contact *confirmed*; nothing else can (never upgrade);
- the newest event wins across systems, so an opt-out anywhere after a DOI withdraws it, and a
  DOI newer than an opt-out may re-subscribe (a single opt-in newer than it may not);
- at the same moment, the more restrictive event wins (a merge never creates consent);
- bounces and complaints *suppress*.

The function is pure: the same observations give the same decision in any order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

State = Literal["confirmed", "pending", "unconfirmed", "unsubscribed", "suppressed", "none"]

#: What each kind of event means for the newsletter, and how restrictive it is (higher wins a tie).
_EFFECT: dict[str, tuple[State, int]] = {
    "complaint": ("suppressed", 6),
    "bounce": ("suppressed", 5),
    "erasure": ("suppressed", 7),
    "opt_out": ("unsubscribed", 4),
    "doi_requested": ("pending", 2),
    "single_opt_in": ("unconfirmed", 1),
    "signup": ("unconfirmed", 1),
    "doi_confirmed": ("confirmed", 3),
}


@dataclass(frozen=True)
class Decision:
    """The current permission with the event that decided it."""

    state: State
    since: str | None
    source: str | None
    reason: str

    @property
    def may_subscribe(self) -> bool:
        """Only a confirmed double opt-in may be written as subscribed (rule 2)."""
        return self.state == "confirmed"

    def as_dict(self) -> dict[str, Any]:
        """The shape `hub contacts show --json` prints under consent.newsletter."""
        return {"state": self.state, "since": self.since, "source": self.source,
                "reason": self.reason}


NONE = Decision("none", None, None, "no system reported any e-mail marketing permission")


@dataclass(frozen=True)
class Policy:
    """``[consent]`` as the outbox applies it."""

    #: Never a second confirmation request to the same address within this many days.
    doi_request_window_days: int = 30
    #: A confirmed DOI older than this, with nothing newer, is stale (flagged for re-permission).
    expire_after_days: int = 730
    #: Stale consent is not used to add anyone to the newsletter.
    suppress_stale: bool = False

    def stale(self, decision: Decision, now: datetime) -> bool:
        """A confirmed permission nobody renewed within `expire_after_days`."""
        if decision.state != "confirmed" or not decision.since:
            return False
        try:
            since = datetime.fromisoformat(decision.since.replace("Z", "+00:00"))
        except ValueError:
            return False
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        return now - since > timedelta(days=self.expire_after_days)


def decide(events: Iterable[tuple[str, Mapping[str, Any]]], *,
           purpose: str = "newsletter") -> Decision:
    """The decision for (connector, observation) pairs; observations as stored (JSON dicts)."""
    best: tuple[str, int, str, str] | None = None  # (at, restrictiveness, kind, connector)
    withdrawal: tuple[str, int, str, str] | None = None
    lifted: str = ""  # when a double opt-in (or one under way) last happened
    undated_pending: tuple[str, str] | None = None
    for connector, event in events:
        if event.get("channel", "email") != "email":
            continue  # consent is per channel: phone or SMS permissions say nothing here
        if event.get("purpose", purpose) != purpose:
            continue
        kind = str(event.get("kind"))
        if kind not in _EFFECT:
            continue
        at = event.get("at") or ""
        if not at:
            # an undated opt-in (a ticked box in an export) counts only when nothing is dated
            if kind in ("single_opt_in", "signup"):
                undated_pending = (kind, connector)
            elif _EFFECT[kind][1] >= 4:
                # an undated withdrawal withdraws for good: no DOI can be shown to be newer
                at = "9999"
            else:
                continue
        key = (str(at), _EFFECT[kind][1], kind, connector)
        if best is None or key > best:
            best = key
        if _EFFECT[kind][1] >= 4 and (withdrawal is None or key > withdrawal):
            withdrawal = key
        if kind in ("doi_confirmed", "doi_requested"):
            lifted = max(lifted, str(at))
    if best is None:
        if undated_pending is None:
            return NONE
        kind, connector = undated_pending
        return Decision("unconfirmed", None, connector,
                        f"{connector} reports a {kind.replace('_', ' ')} without a double "
                        "opt-in: a confirmation mail must be requested")
    if best[2] in ("single_opt_in", "signup") and withdrawal is not None \
            and withdrawal[0] > lifted:
        # rule 3: only a double opt-in newer than a withdrawal may lift it; a ticked box or
        # a typed-in address after an opt-out proves nothing about the owner
        best = withdrawal
    at, _, kind, connector = best
    state = _EFFECT[kind][0]
    reasons = {
        "confirmed": f"double opt-in confirmed in {connector}",
        "pending": f"confirmation mail requested by {connector}, not yet clicked",
        "unconfirmed": f"{connector} reports a {kind.replace('_', ' ')} without a double "
                       "opt-in: a confirmation mail must be requested",
        "unsubscribed": f"opted out in {connector}",
        "suppressed": f"{kind} reported by {connector}",
    }
    return Decision(state, at if at != "9999" else None, connector, reasons[state])
