"""E-mail subscription status through HubSpot's communication-preferences API (v3).

Reading turns one contact's statuses into `ConsentObservation`s, strictly by docs/consent.md: only
SUBSCRIBED on ``CONSENT_WITH_NOTICE`` *with* double-opt-in evidence (a confirmation time) is
``doi_confirmed``; SUBSCRIBED on any other basis, or without that evidence, is
``single_opt_in``; NOT_SUBSCRIBED on the subscription, or a portal/brand-wide opt-out, is
``opt_out``. A subscription the contact has no status for says nothing (no observation): an
unknown state must never read as a withdrawal or a permission.

Writing uses subscribe/unsubscribe. v3 cannot resubscribe a contact who opted out; that
answer becomes a per-record rejection that says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

import httpx

from hub.plugin import ConnectorError, ConsentObservation, WriteResult
from hub_hubspot.responses import Account, json_object, message
from hub_hubspot.timestamps import parse_time

LEGAL_BASES: Final = frozenset({
    "LEGITIMATE_INTEREST_PQL", "LEGITIMATE_INTEREST_CLIENT", "PERFORMANCE_OF_CONTRACT",
    "CONSENT_WITH_NOTICE", "NON_GDPR", "PROCESS_AND_STORE", "LEGITIMATE_INTEREST_OTHER",
})
DOI_BASIS: Final = "CONSENT_WITH_NOTICE"
_WIDE: Final = ("PORTAL_WIDE_STATUS", "BRAND_WIDE_STATUS")


@dataclass(frozen=True)
class DoiEvidence:
    """HubSpot's proof of a confirmed double opt-in, where a status carries one."""

    confirmed_at: datetime
    details: Mapping[str, str]


def doi_evidence(status: Mapping[str, Any]) -> DoiEvidence | None:
    """The confirmation recorded on a status entry, or None (no proof of a DOI).

    Without a confirmation time there is no DOI (docs/consent.md), so a flag alone is not enough.
    """
    doi = status.get("doubleOptIn")
    if not isinstance(doi, Mapping):
        return None
    confirmed = parse_time(doi.get("confirmedAt"))
    if confirmed is None:
        return None
    details = {f"doi_{k}": str(v) for k, v in doi.items() if v not in (None, "")}
    return DoiEvidence(confirmed_at=confirmed, details=details)


def observations(payload: Mapping[str, Any], subscription_id: str) -> list[ConsentObservation]:
    """What one status response says about the newsletter subscription `subscription_id`."""
    statuses = [s for s in payload.get("subscriptionStatuses") or () if isinstance(s, Mapping)]
    wide = [s for s in statuses if s.get("sourceOfStatus") in _WIDE
            and s.get("status") == "NOT_SUBSCRIBED"]
    mine = [s for s in statuses if str(s.get("id")) == subscription_id]
    if wide:
        return [_observe(wide[0], "opt_out", subscription_id)]
    if not mine:
        return []
    status = mine[0]
    state = status.get("status")
    if state == "NOT_SUBSCRIBED":
        return [_observe(status, "opt_out", subscription_id)]
    if state != "SUBSCRIBED":
        return []
    evidence = doi_evidence(status)
    if status.get("legalBasis") == DOI_BASIS and evidence is not None:
        return [_observe(status, "doi_confirmed", subscription_id, evidence)]
    return [_observe(status, "single_opt_in", subscription_id)]


def _observe(status: Mapping[str, Any], kind: str, subscription_id: str,
             doi: DoiEvidence | None = None) -> ConsentObservation:
    evidence = {
        "system": "hubspot",
        "subscription_id": subscription_id,
        "subscription": str(status.get("name") or ""),
        "status": str(status.get("status") or ""),
        "source_of_status": str(status.get("sourceOfStatus") or ""),
        "legal_basis": str(status.get("legalBasis") or ""),
        "legal_basis_explanation": str(status.get("legalBasisExplanation") or ""),
    }
    at = parse_time(status.get("timestamp"))
    if doi is not None:
        evidence.update(doi.details)
        evidence["confirmed_at"] = doi.confirmed_at.isoformat()
        at = doi.confirmed_at
    return ConsentObservation(kind=kind, at=at,
                              evidence={k: v for k, v in evidence.items() if v})


class Subscriptions:
    """The communication-preferences endpoints of one account, over the connector's client."""

    def __init__(self, client: httpx.Client, account: Account,
                 subscription_id: str | None) -> None:
        self._client = client
        self._account = account
        self._chosen = subscription_id

    @property
    def subscription_id(self) -> str:
        """The configured subscription type, or the first active definition (asked once)."""
        if self._chosen is None:
            what = "the subscription types (/communication-preferences/v3/definitions)"
            response = self._client.get("/communication-preferences/v3/definitions")
            self._account.check(response, what)
            if response.status_code != 200:
                raise self._account.unexpected(response, what)
            definitions = [d for d in json_object(response, what).get("subscriptionDefinitions")
                           or () if isinstance(d, Mapping) and d.get("id") is not None]
            active = [d for d in definitions if d.get("isActive", True)] or definitions
            if not active:
                raise ConnectorError(
                    "the HubSpot account has no e-mail subscription types; create one "
                    "(Settings → Marketing → Email → Subscription types) or turn "
                    "read_subscriptions off")
            self._chosen = str(active[0]["id"])
        return self._chosen

    def status(self, email: str) -> Mapping[str, Any] | None:
        """The raw status of `email` (None: HubSpot knows no status for that address)."""
        what = "a subscription status"
        response = self._client.get(f"/communication-preferences/v3/status/email/{_path(email)}")
        self._account.check(response, what)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._account.unexpected(response, what)
        return json_object(response, what)

    def observe(self, email: str) -> Sequence[ConsentObservation]:
        """The consent observations for one address (one request)."""
        payload = self.status(email)
        return observations(payload, self.subscription_id) if payload else ()

    def change(self, key: str, email: str, subscribed: bool, legal_basis: str | None,
               explanation: str | None) -> WriteResult:
        """Subscribe or unsubscribe `email`; HubSpot's refusals are per-record answers."""
        if legal_basis is not None and legal_basis not in LEGAL_BASES:
            return WriteResult(key, "rejected", reason=(
                f"legal basis {legal_basis!r} is not one HubSpot knows "
                f"({', '.join(sorted(LEGAL_BASES))})"))
        if subscribed and legal_basis is None:
            return WriteResult(key, "rejected", reason=(
                "subscribing needs a legal basis (CONSENT_WITH_NOTICE for a proven opt-in)"))
        body: dict[str, str] = {"emailAddress": email, "subscriptionId": self.subscription_id}
        if legal_basis is not None:
            body["legalBasis"] = legal_basis
        if explanation:
            body["legalBasisExplanation"] = explanation
        action = "subscribe" if subscribed else "unsubscribe"
        response = self._client.post(f"/communication-preferences/v3/{action}", json=body)
        self._account.check(response, f"an {action}")
        if response.status_code in (200, 201):
            return WriteResult(key, "updated")
        said = message(response)
        lowered = said.lower()
        if "already subscribed" in lowered or "already unsubscribed" in lowered:
            return WriteResult(key, "unchanged")
        if subscribed and ("resubscribe" in lowered or "opted out" in lowered
                           or "unsubscribed from all" in lowered):
            return WriteResult(key, "rejected", reason=(
                f"HubSpot cannot resubscribe {email} through the v3 API after an opt-out "
                f"(the contact must opt in again themselves): {said}"))
        return WriteResult(key, "rejected",
                           reason=f"HubSpot refused to {action} ({response.status_code}): {said}")


def _path(email: str) -> str:
    return quote(email.strip(), safe="@")
