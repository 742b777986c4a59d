"""E-mail subscription statuses through HubSpot's communication-preferences API, v4 or v3.

**v4** (the default) reads and writes in batches: ``statuses/batch/read`` for the statuses of
up to 100 addresses per request, ``statuses/batch/unsubscribe-all/read`` for their portal- or
brand-wide opt-outs, ``statuses/batch/write`` and ``statuses/batch/unsubscribe-all`` to change
them. Its three states map strictly onto docs/consent.md:

- ``UNSUBSCRIBED`` on the subscription type, or a wide ``UNSUBSCRIBED`` → ``opt_out`` at the
  status's timestamp;
- ``SUBSCRIBED`` on ``CONSENT_WITH_NOTICE`` whose ``source`` is one the account's double
  opt-in writes (the ``doi_sources`` setting; HubSpot documents no such value, so the default
  is none) → ``doi_confirmed``; any other ``SUBSCRIBED`` → ``single_opt_in`` (rule 1);
- ``NOT_SPECIFIED`` → nothing: the contact made no choice, which is neither an opt-out nor a
  permission (rule 9);
- hub's own ``SUBSCRIBED`` write (its explanation starts with `OWN_MARK`) → nothing: it came
  from a DOI hub already holds, and reading it back must not add weaker evidence (rule 10).

**v3** is the fallback for accounts whose token lacks the batch scopes (they need Marketing
Hub Enterprise): one request per contact, and it knows only SUBSCRIBED / NOT_SUBSCRIBED, so a
type the contact never chose looks like an opt-out. Only a portal- or brand-wide opt-out, or a
NOT_SUBSCRIBED that carries a legal basis (a recorded decision), is reported as ``opt_out``; a
bare NOT_SUBSCRIBED says nothing and is never spread to other systems as a withdrawal. v3
SUBSCRIBED has no time and no double-opt-in evidence: an undated ``single_opt_in`` at most.
v3 cannot resubscribe a contact who opted out; that comes back as a rejection saying so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar
from urllib.parse import quote

import httpx

from hub.plugin import ConnectorError, ConsentObservation, WriteResult, WriteStatus
from hub_hubspot.responses import Account, json_object, message, missing_scopes
from hub_hubspot.timestamps import parse_time

LEGAL_BASES: Final = frozenset({
    "LEGITIMATE_INTEREST_PQL", "LEGITIMATE_INTEREST_CLIENT", "PERFORMANCE_OF_CONTRACT",
    "CONSENT_WITH_NOTICE", "NON_GDPR", "PROCESS_AND_STORE", "LEGITIMATE_INTEREST_OTHER",
})
DOI_BASIS: Final = "CONSENT_WITH_NOTICE"
#: How hub's own subscribe writes explain themselves (and are recognised when read back).
OWN_MARK: Final = "hub:"
V4: Final = "/communication-preferences/v4/statuses"
V3: Final = "/communication-preferences/v3"
BATCH_READ_SCOPE: Final = "communication_preferences.statuses.batch.read"
BATCH_WRITE_SCOPE: Final = "communication_preferences.statuses.batch.write"
_WIDE_V3: Final = ("PORTAL_WIDE_STATUS", "BRAND_WIDE_STATUS")
_EMAIL: Final = {"channel": "EMAIL"}

Api = Literal["auto", "v4", "v3"]
T = TypeVar("T")
R = TypeVar("R")


# -- reading: statuses → observations -------------------------------------------------------
def v4_observations(statuses: Iterable[Mapping[str, Any]],
                    wide: Iterable[Mapping[str, Any]], subscription_id: str,
                    doi_sources: frozenset[str] = frozenset()) -> list[ConsentObservation]:
    """What one address's v4 statuses say about the newsletter type `subscription_id`."""
    found = [_observe_v4(w, "opt_out", subscription_id) for w in wide
             if isinstance(w, Mapping) and w.get("status") == "UNSUBSCRIBED"]
    for status in statuses:
        if not isinstance(status, Mapping) or str(status.get("subscriptionId")) \
                != subscription_id or status.get("channel", "EMAIL") != "EMAIL":
            continue
        state = status.get("status")
        if state == "UNSUBSCRIBED":
            found.append(_observe_v4(status, "opt_out", subscription_id))
        elif state == "SUBSCRIBED" and not str(status.get("legalBasisExplanation") or "") \
                .startswith(OWN_MARK):
            proven = status.get("legalBasis") == DOI_BASIS \
                and str(status.get("source") or "") in doi_sources \
                and parse_time(status.get("timestamp")) is not None
            found.append(_observe_v4(status, "doi_confirmed" if proven else "single_opt_in",
                                     subscription_id))
    return found


def _observe_v4(status: Mapping[str, Any], kind: str, subscription_id: str
                ) -> ConsentObservation:
    at = parse_time(status.get("timestamp"))
    evidence = _evidence("v4", subscription_id, status, _V4_EVIDENCE)
    if kind == "doi_confirmed" and at is not None:
        evidence["confirmed_at"] = at.isoformat()
    return ConsentObservation(kind=kind, at=at, evidence=evidence)


#: hub's evidence key → the status field it keeps, per API version.
_V4_EVIDENCE: Final = {"subscription": "subscriptionName", "status": "status",
                       "wide_status": "wideStatusType", "source": "source",
                       "legal_basis": "legalBasis",
                       "legal_basis_explanation": "legalBasisExplanation",
                       "business_unit": "businessUnitId"}
_V3_EVIDENCE: Final = {"subscription": "name", "status": "status",
                       "source_of_status": "sourceOfStatus", "legal_basis": "legalBasis",
                       "legal_basis_explanation": "legalBasisExplanation"}


def _evidence(api: str, subscription_id: str, status: Mapping[str, Any],
              fields: Mapping[str, str]) -> dict[str, str]:
    """The status as the ledger keeps it: what was said, under hub's names, empties left out."""
    kept = {"system": "hubspot", "api": api, "subscription_id": subscription_id}
    kept.update({ours: str(status.get(theirs) or "") for ours, theirs in fields.items()})
    return {k: v for k, v in kept.items() if v}


def v3_observations(payload: Mapping[str, Any], subscription_id: str
                    ) -> list[ConsentObservation]:
    """What one v3 status response says about `subscription_id` (see the module docstring)."""
    statuses = [s for s in payload.get("subscriptionStatuses") or () if isinstance(s, Mapping)]
    wide = [s for s in statuses if s.get("sourceOfStatus") in _WIDE_V3
            and s.get("status") == "NOT_SUBSCRIBED"]
    if wide:
        return [_observe_v3(wide[0], "opt_out", subscription_id)]
    mine = [s for s in statuses if str(s.get("id")) == subscription_id]
    if not mine:
        return []
    status = mine[0]
    if status.get("status") == "NOT_SUBSCRIBED" and status.get("legalBasis"):
        return [_observe_v3(status, "opt_out", subscription_id)]
    if status.get("status") == "SUBSCRIBED" and not str(
            status.get("legalBasisExplanation") or "").startswith(OWN_MARK):
        return [_observe_v3(status, "single_opt_in", subscription_id)]
    return []


def _observe_v3(status: Mapping[str, Any], kind: str, subscription_id: str
                ) -> ConsentObservation:
    # v3 carries no time: an undated withdrawal counts as newest, an undated opt-in only
    # when nothing dated exists (hub/consent/policy.py)
    return ConsentObservation(kind=kind, at=None,
                              evidence=_evidence("v3", subscription_id, status, _V3_EVIDENCE))


# -- the endpoints -------------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """One status write: the outbox key it answers, the address and what to say."""

    key: str
    email: str
    subscribed: bool
    legal_basis: str | None = None
    explanation: str | None = None


class Subscriptions:
    """The communication-preferences endpoints of one account, over the connector's client.

    `api` ``auto`` speaks v4 and falls back to v3 for the rest of the connector's life when
    HubSpot refuses v4 for a missing scope (logged once; `hub check` names the scope).
    """

    def __init__(self, client: httpx.Client, account: Account, subscription_id: str | None,
                 *, api: Api = "auto", doi_sources: Iterable[str] = (),
                 batch_size: int = 100, logger: logging.Logger | None = None) -> None:
        self._client = client
        self._account = account
        self._chosen = subscription_id
        self._doi_sources = frozenset(doi_sources)
        self._batch = batch_size
        self._logger = logger or logging.getLogger("hub.connector")
        self.api: Literal["v4", "v3"] = "v3" if api == "v3" else "v4"
        self._may_fall_back = api == "auto"

    @property
    def subscription_id(self) -> str:
        """The configured subscription type, or the first active definition (asked once)."""
        if self._chosen is None:
            what = "the subscription types (/communication-preferences/v3/definitions)"
            response = self._client.get(f"{V3}/definitions")
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

    def _refused_v4(self, response: httpx.Response) -> bool:
        """True (and v3 from now on) when `auto` meets a v4 endpoint the token may not use."""
        scopes = missing_scopes(response)
        if scopes is None or not self._may_fall_back:
            return False
        self.api = "v3"
        self._may_fall_back = False
        self._logger.warning(
            "connector %r: the HubSpot token lacks %s; reading and writing subscription "
            "statuses through the v3 API (one request per contact, and a type nobody chose "
            "cannot be told from an opt-out there)", self._account.connector,
            " or ".join(scopes) or "the v4 batch scopes")
        return True

    def _post_v4(self, path: str, body: Any, what: str) -> Mapping[str, Any] | None:
        """A v4 batch request; None when it was refused for scope and v3 takes over."""
        response = self._client.post(f"{V4}{path}", json=body,
                                     params=_EMAIL if not path.endswith("/write") else None)
        if self._refused_v4(response):
            return None
        self._account.check(response, what)
        if response.status_code not in (200, 207):
            raise self._account.unexpected(response, what)
        return json_object(response, what)

    # -- reading ---------------------------------------------------------------------------
    def observe_many(self, emails: Sequence[str]) -> dict[str, tuple[ConsentObservation, ...]]:
        """The observations per address (lower-cased), in batches under v4."""
        wanted = list(dict.fromkeys(e.strip() for e in emails if e and e.strip()))
        return self._each(wanted, self._read_v4,
                          lambda email: (email.lower(), self.observe_v3(email)))

    def _each(self, items: Sequence[T], batch: Callable[[Sequence[T]], dict[str, R] | None],
              one: Callable[[T], tuple[str, R]]) -> dict[str, R]:
        """`batch` over v4-sized parts; what is left once v4 is refused (or all of it under
        v3) goes through `one`, item by item."""
        done: dict[str, R] = {}
        start = 0
        while start < len(items) and self.api == "v4":
            part = items[start:start + self._batch]
            answered = batch(part)
            if answered is None:
                break
            done.update(answered)
            start += len(part)
        for item in items[start:] if self.api == "v3" else ():
            key, value = one(item)
            done[key] = value
        return done

    def _read_v4(self, emails: Sequence[str]
                 ) -> dict[str, tuple[ConsentObservation, ...]] | None:
        statuses = self._post_v4("/batch/read", {"inputs": list(emails)},
                                 "a batch of subscription statuses")
        if statuses is None:
            return None
        wide = self._post_v4("/batch/unsubscribe-all/read", {"inputs": list(emails)},
                             "a batch of unsubscribe-all statuses")
        if wide is None:
            return None
        per: dict[str, list[Mapping[str, Any]]] = {}
        wide_per: dict[str, list[Mapping[str, Any]]] = {}
        for result in _results(statuses):
            per.setdefault(str(result.get("subscriberIdString", "")).lower(), []).extend(
                _list(result.get("statuses")))
        for result in _results(wide):
            wide_per.setdefault(str(result.get("subscriberIdString", "")).lower(), []).extend(
                _list(result.get("wideStatuses")))
        subscription = self.subscription_id
        return {e.lower(): tuple(v4_observations(per.get(e.lower(), ()),
                                                 wide_per.get(e.lower(), ()), subscription,
                                                 self._doi_sources)) for e in emails}

    def observe_v3(self, email: str) -> tuple[ConsentObservation, ...]:
        """One address through v3 (one request)."""
        what = "a subscription status"
        response = self._client.get(f"{V3}/status/email/{_path(email)}")
        self._account.check(response, what)
        if response.status_code == 404:
            return ()
        if response.status_code != 200:
            raise self._account.unexpected(response, what)
        return tuple(v3_observations(json_object(response, what), self.subscription_id))

    # -- writing ---------------------------------------------------------------------------
    def change_many(self, changes: Sequence[Change]) -> dict[str, WriteResult]:
        """Apply status changes; HubSpot's refusals are per-record answers."""
        answers: dict[str, WriteResult] = {}
        valid: list[Change] = []
        for change in changes:
            refused = _refusal(change)
            if refused is not None:
                answers[change.key] = WriteResult(change.key, "rejected", reason=refused)
            else:
                valid.append(change)
        answers.update(self._each(valid, self._write_v4,
                                  lambda change: (change.key, self._write_v3(change))))
        return answers

    def _write_v4(self, changes: Sequence[Change]) -> dict[str, WriteResult] | None:
        subscription = _integer(self.subscription_id, self._account.connector)
        inputs: list[dict[str, Any]] = []
        for change in changes:
            item: dict[str, Any] = {
                "subscriberIdString": change.email, "subscriptionId": subscription,
                "channel": "EMAIL",
                "statusState": "SUBSCRIBED" if change.subscribed else "UNSUBSCRIBED"}
            if change.legal_basis:
                item["legalBasis"] = change.legal_basis
            if change.explanation:
                item["legalBasisExplanation"] = change.explanation
            inputs.append(item)
        body = self._post_v4("/batch/write", {"inputs": inputs}, "a batch of status changes")
        if body is None:
            return None
        by_email: dict[str, list[Change]] = {}
        for change in changes:
            by_email.setdefault(change.email.lower(), []).append(change)
        answers: dict[str, WriteResult] = {}
        for result in _results(body):
            reason = result.get("setStatusSuccessReason")
            status: WriteStatus = "unchanged" if reason == "NO_STATUS_CHANGE" else "updated"
            for change in by_email.get(str(result.get("subscriberIdString", "")).lower(), ()):
                answers[change.key] = WriteResult(change.key, status)
        for error in _list(body.get("errors")):
            context = error.get("context") if isinstance(error.get("context"), Mapping) else {}
            named = [str(v).lower() for v in (context or {}).get("subscriberIdString") or ()]
            for email in named:
                for change in by_email.get(email, ()):
                    answers[change.key] = WriteResult(change.key, "rejected", reason=(
                        f"HubSpot refused the subscription status "
                        f"({error.get('category') or 'error'}): {error.get('message')}"))
        for change in changes:
            answers.setdefault(change.key, WriteResult(
                change.key, "retry", reason="HubSpot's batch answer did not mention this "
                "address"))
        return answers

    def _write_v3(self, change: Change) -> WriteResult:
        body: dict[str, str] = {"emailAddress": change.email,
                                "subscriptionId": self.subscription_id}
        if change.legal_basis is not None:
            body["legalBasis"] = change.legal_basis
        if change.explanation:
            body["legalBasisExplanation"] = change.explanation
        action = "subscribe" if change.subscribed else "unsubscribe"
        response = self._client.post(f"{V3}/{action}", json=body)
        self._account.check(response, f"an {action}")
        if response.status_code in (200, 201):
            return WriteResult(change.key, "updated")
        said = message(response)
        lowered = said.lower()
        if "already subscribed" in lowered or "already unsubscribed" in lowered:
            return WriteResult(change.key, "unchanged")
        if change.subscribed and ("resubscribe" in lowered or "opted out" in lowered
                                  or "unsubscribed from all" in lowered):
            return WriteResult(change.key, "rejected", reason=(
                "HubSpot cannot resubscribe this address through the v3 API after an opt-out "
                f"(give the token the v4 batch scopes, or the contact opts in again): {said}"))
        return WriteResult(change.key, "rejected", reason=(
            f"HubSpot refused to {action} ({response.status_code}): {said}"))

    def unsubscribe_all(self, emails: Sequence[str]) -> int:
        """Opt addresses out of every subscription type (portal-wide); v4 only. Returns how
        many addresses were sent."""
        if self.api != "v4":
            raise ConnectorError(
                f"connector {self._account.connector!r}: unsubscribing from all needs the v4 "
                f"scope {BATCH_WRITE_SCOPE}")
        sent = 0
        wanted = list(dict.fromkeys(e.strip() for e in emails if e.strip()))
        for start in range(0, len(wanted), self._batch):
            part = wanted[start:start + self._batch]
            if self._post_v4("/batch/unsubscribe-all", {"inputs": part},
                             "a batch unsubscribe-all") is None:
                raise ConnectorError(
                    f"connector {self._account.connector!r}: HubSpot refused unsubscribe-all "
                    f"for scope; give the token {BATCH_WRITE_SCOPE}")
            sent += len(part)
        return sent


def _refusal(change: Change) -> str | None:
    if change.legal_basis is not None and change.legal_basis not in LEGAL_BASES:
        return (f"legal basis {change.legal_basis!r} is not one HubSpot knows "
                f"({', '.join(sorted(LEGAL_BASES))})")
    if change.subscribed and change.legal_basis is None:
        return "subscribing needs a legal basis (CONSENT_WITH_NOTICE for a proven opt-in)"
    return None


def _integer(subscription_id: str, connector: str) -> int:
    if not subscription_id.isdigit():
        raise ConnectorError(f"connector {connector!r}: subscription_id {subscription_id!r} "
                             "is not a HubSpot subscription type id; set "
                             f"[connectors.{connector}] subscription_id to a number (see "
                             "Settings → Marketing → Email → Subscription types)")
    return int(subscription_id)


def _results(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return _list(body.get("results"))


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _path(email: str) -> str:
    return quote(email.strip(), safe="@")
