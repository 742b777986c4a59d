"""HubSpot's e-mail subscription statuses: the v4 API (batch read/write, unsubscribe-all) and
the legacy v3 API over one store.

Sources, by shape (HubSpot's reference pages, developers.hubspot.com/docs/api-reference/
communication-preferences-subscriptions-v4/subscription-status/...):

- ``POST /communication-preferences/v4/statuses/batch/read?channel=EMAIL``, body
  ``{"inputs": [email]}`` → ``{"status", "results": [{"subscriberIdString", "statuses":
  [PublicStatus]}], "requestedAt", "startedAt", "completedAt"}`` (page
  ``post-communication-preferences-v4-statuses-batch-read``).
- ``POST .../v4/statuses/batch/write``, body ``{"inputs": [{"subscriberIdString",
  "subscriptionId", "channel", "statusState", "legalBasis", "legalBasisExplanation"}]}`` →
  results are PublicStatus with ``setStatusSuccessReason`` (``...-batch-write``).
- ``POST .../v4/statuses/batch/unsubscribe-all?channel=EMAIL``, ``{"inputs": [email]}`` →
  ``results: [{"subscriberIdString", "statuses"}]``, only with ``verbose=true`` (the
  single-contact page: without verbose the answer is empty).
- ``POST .../v4/statuses/batch/unsubscribe-all/read?channel=EMAIL`` → ``results:
  [{"subscriberIdString", "wideStatuses": [{"channel", "status", "subscriberIdString",
  "timestamp", "wideStatusType" (PORTAL_WIDE or BUSINESS_UNIT_WIDE), "businessUnitId"}]}]``.
- ``GET .../v3/status/email/{email}``, ``POST .../v3/subscribe`` and ``.../v3/unsubscribe``,
  ``GET .../v3/definitions``: hubspot-api-client's v3 models (``PublicSubscriptionStatus``:
  id, name, description, status SUBSCRIBED/NOT_SUBSCRIBED, sourceOfStatus, brandId,
  legalBasis, legalBasisExplanation, preferenceGroupName: **no** timestamp, **no**
  double-opt-in field).

PublicStatus (v4): required ``channel, source, status, subscriberIdString, subscriptionId
(an integer), timestamp``; status ``SUBSCRIBED | UNSUBSCRIBED | NOT_SPECIFIED``. A type the
contact never chose is NOT_SPECIFIED in v4 and NOT_SUBSCRIBED in v3, whose status enum has
only those two values (HubSpot's v3 and v4 OpenAPI files), so v3 cannot tell it from an
opt-out. v3 cannot resubscribe after an opt-out; v4 can, and a GDPR-enabled account wants a
legal basis (the v3 request reference: "required for GDPR enabled portals"; v4 takes the same
enum). Batch scopes need Marketing Hub Enterprise (the v4 guide, "Scope requirements").

Not documented, so settings of `HubSpotLimits` [U]: the batch input limit (100, like HubSpot's
other batch endpoints), the `source` strings HubSpot writes (``doi_source`` for a confirmed
double opt-in, ``api_source`` for API writes), whether per-type statuses change when a contact
unsubscribes from all (here they do not: the wide status is its own record, read through
``unsubscribe-all/read``, as the separate endpoint suggests).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse

if TYPE_CHECKING:
    from hub_sandbox.hubspot.simulator import HubSpotLimits

LEGAL_BASES = ("LEGITIMATE_INTEREST_PQL", "LEGITIMATE_INTEREST_CLIENT",
               "PERFORMANCE_OF_CONTRACT", "CONSENT_WITH_NOTICE", "NON_GDPR",
               "PROCESS_AND_STORE", "LEGITIMATE_INTEREST_OTHER")
STATES = ("SUBSCRIBED", "UNSUBSCRIBED", "NOT_SPECIFIED")
#: The account's subscription types (v3 ids are strings, v4 ids integers).
DEFINITIONS: tuple[dict[str, Any], ...] = (
    {"id": 1, "name": "Marketing newsletter", "description": "Newsletter and offers",
     "purpose": "Marketing", "communicationMethod": "Email"},
    {"id": 2, "name": "Product updates", "description": "News about products you bought",
     "purpose": "Marketing", "communicationMethod": "Email"},
)


@dataclass
class Choice:
    """One status a contact (or someone on their behalf) set; absent means NOT_SPECIFIED."""

    status: str  # SUBSCRIBED or UNSUBSCRIBED
    timestamp: str
    source: str
    legal_basis: str | None = None
    explanation: str | None = None


class PreferenceError(Exception):
    """A refusal in HubSpot's error shape (status, message, category)."""

    def __init__(self, status: int, message: str, category: str = "VALIDATION_ERROR") -> None:
        super().__init__(message)
        self.status, self.message, self.category = status, message, category


class Preferences:
    """Every address's subscription choices and portal-wide opt-outs, served as v4 and v3."""

    def __init__(self, limits: HubSpotLimits, now: Callable[[], str]) -> None:
        self.limits = limits
        self.now = now
        self.choices: dict[str, dict[int, Choice]] = {}
        self.wide: dict[str, Choice] = {}

    # -- state -------------------------------------------------------------------------
    def set(self, email: str, subscription_id: int, choice: Choice) -> None:
        """Record a choice (seeding, tests, the write endpoints)."""
        self.choices.setdefault(email.strip().lower(), {})[subscription_id] = choice

    def state(self, email: str, subscription_id: int = 1) -> str:
        """What v4 shows for one type: SUBSCRIBED, UNSUBSCRIBED or NOT_SPECIFIED."""
        choice = self.choices.get(email.strip().lower(), {}).get(subscription_id)
        return choice.status if choice else "NOT_SPECIFIED"

    def forget(self, email: str) -> None:
        """GDPR delete removes the address's statuses too."""
        self.choices.pop(email.lower(), None)
        self.wide.pop(email.lower(), None)

    def count(self) -> int:
        """Addresses with any choice (for /_sandbox/stats)."""
        return len(set(self.choices) | set(self.wide))

    # -- v4 ----------------------------------------------------------------------------
    def _public(self, email: str, definition: dict[str, Any],
                reason: str | None = None) -> dict[str, Any]:
        choice = self.choices.get(email.lower(), {}).get(definition["id"])
        status: dict[str, Any] = {
            "channel": "EMAIL", "subscriberIdString": email,
            "subscriptionId": definition["id"], "subscriptionName": definition["name"],
            "status": choice.status if choice else "NOT_SPECIFIED",
            "source": choice.source if choice else "",
            # a type nobody chose has no moment of choice; HubSpot still requires the field
            "timestamp": choice.timestamp if choice else self.now(),
            "businessUnitId": 0}
        if choice and choice.legal_basis:
            status["legalBasis"] = choice.legal_basis
        if choice and choice.explanation:
            status["legalBasisExplanation"] = choice.explanation
        if reason:
            status["setStatusSuccessReason"] = reason
        return status

    def _inputs(self, body: Any) -> list[Any]:
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list) or not inputs:
            raise PreferenceError(400, "Invalid input JSON: `inputs` must be a non-empty list")
        if len(inputs) > self.limits.status_batch_max:
            raise PreferenceError(400, f"Batch of {len(inputs)} inputs is too large; the limit "
                                  f"is {self.limits.status_batch_max}")
        return inputs

    @staticmethod
    def _channel(request: Request) -> None:
        if request.query_params.get("channel") != "EMAIL":
            raise PreferenceError(400, "Query parameter `channel` is required and must be "
                                  "EMAIL")

    def _emails(self, body: Any) -> list[str]:
        inputs = self._inputs(body)
        if not all(isinstance(i, str) for i in inputs):
            raise PreferenceError(400, "Invalid input JSON: each input is an e-mail address "
                                  "string")
        return [i.strip() for i in inputs]

    def _batch(self, results: list[dict[str, Any]], errors: Sequence[dict[str, Any]],
               started: str) -> JSONResponse:
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results,
                                  "requestedAt": started, "startedAt": started,
                                  "completedAt": self.now()}
        if errors:
            answer.update(numErrors=len(errors), errors=list(errors))
            return JSONResponse(answer, status_code=207)
        return JSONResponse(answer)

    async def batch_read(self, request: Request) -> JSONResponse:
        """Per-type statuses of up to `status_batch_max` addresses."""
        self._channel(request)
        started = self.now()
        emails = self._emails(await request.json())
        return self._batch([{"subscriberIdString": e,
                             "statuses": [self._public(e, d) for d in DEFINITIONS]}
                            for e in emails], (), started)

    async def batch_wide_read(self, request: Request) -> JSONResponse:
        """Portal-wide opt-outs (``wideStatuses`` empty when the address made none)."""
        self._channel(request)
        started = self.now()
        results = []
        for email in self._emails(await request.json()):
            wide = self.wide.get(email.lower())
            statuses = [] if wide is None else [{
                "channel": "EMAIL", "status": wide.status, "subscriberIdString": email,
                "timestamp": wide.timestamp, "wideStatusType": "PORTAL_WIDE",
                "businessUnitId": 0}]
            results.append({"subscriberIdString": email, "wideStatuses": statuses})
        return self._batch(results, (), started)

    async def batch_unsubscribe_all(self, request: Request) -> JSONResponse:
        """Opt addresses out of every type at once (no undo through v3; v4 resubscribes)."""
        self._channel(request)
        started = self.now()
        verbose = request.query_params.get("verbose", "false").lower() == "true"
        results = []
        for email in self._emails(await request.json()):
            self.wide[email.lower()] = Choice("UNSUBSCRIBED", self.now(),
                                              self.limits.api_source)
            if verbose:
                results.append({"subscriberIdString": email, "statuses": [
                    self._public(email, d, "UNSUBSCRIBE_FROM_ALL_OCCURRED")
                    for d in DEFINITIONS]})
        return self._batch(results, (), started)

    async def batch_write(self, request: Request) -> JSONResponse:
        """Set statuses; a resubscription after an opt-out needs a legal basis (GDPR)."""
        started = self.now()
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item in self._inputs(await request.json()):
            try:
                results.append(self._write_one(item))
            except PreferenceError as exc:
                errors.append({"status": "error", "category": exc.category,
                               "message": exc.message,
                               "context": {"subscriberIdString": [
                                   str(item.get("subscriberIdString")
                                       if isinstance(item, dict) else item)]}})
        return self._batch(results, errors, started)

    def _write_one(self, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise PreferenceError(400, "Invalid input JSON: each input is an object")
        missing = [k for k in ("subscriberIdString", "subscriptionId", "channel",
                               "statusState") if item.get(k) in (None, "")]
        if missing:
            raise PreferenceError(400, f"Invalid input JSON: missing {', '.join(missing)}")
        email = str(item["subscriberIdString"]).strip()
        definition = next((d for d in DEFINITIONS if str(d["id"]) == str(item["subscriptionId"])),
                          None)
        if definition is None or not isinstance(item["subscriptionId"], int):
            raise PreferenceError(400, f"Subscription {item['subscriptionId']!r} does not exist "
                                  "(subscriptionId is an integer)")
        state, basis = item["statusState"], item.get("legalBasis")
        if item["channel"] != "EMAIL" or state not in STATES:
            raise PreferenceError(400, f"Invalid channel or statusState {state!r}")
        if basis is not None and basis not in LEGAL_BASES:
            raise PreferenceError(400, f"Invalid legalBasis {basis!r}")
        before = self.state(email, definition["id"])
        wide = self.wide.get(email.lower())
        resubscribe = state == "SUBSCRIBED" and (before == "UNSUBSCRIBED" or wide is not None)
        if state == "SUBSCRIBED" and self.limits.gdpr and not basis:
            raise PreferenceError(400, "legalBasis is required to subscribe a contact in an "
                                  "account with GDPR features on")
        if before == state and not resubscribe:
            return self._public(email, definition, "NO_STATUS_CHANGE")
        if state == "NOT_SPECIFIED":
            self.choices.get(email.lower(), {}).pop(definition["id"], None)
        else:
            self.set(email, definition["id"], Choice(state, self.now(), self.limits.api_source,
                                                     basis, item.get("legalBasisExplanation")))
        if resubscribe:
            self.wide.pop(email.lower(), None)
        return self._public(email, definition,
                            "RESUBSCRIBE_OCCURRED" if resubscribe else "REQUESTED_CHANGE_OCCURRED")

    # -- v3 ----------------------------------------------------------------------------
    def _v3(self, email: str, definition: dict[str, Any]) -> dict[str, Any]:
        choice = self.choices.get(email.lower(), {}).get(definition["id"])
        wide = self.wide.get(email.lower())
        subscribed = wide is None and choice is not None and choice.status == "SUBSCRIBED"
        status: dict[str, Any] = {
            "id": str(definition["id"]), "name": definition["name"],
            "description": definition["description"],
            "status": "SUBSCRIBED" if subscribed else "NOT_SUBSCRIBED",
            "sourceOfStatus": "PORTAL_WIDE_STATUS" if wide else "SUBSCRIPTION_STATUS"}
        if choice and choice.legal_basis and not wide:
            status["legalBasis"] = choice.legal_basis
            if choice.explanation:
                status["legalBasisExplanation"] = choice.explanation
        return status

    async def definitions(self, request: Request) -> dict[str, Any]:
        """v3 ``GET /definitions`` (the connector's default subscription type)."""
        return {"subscriptionDefinitions": [
            {**d, "id": str(d["id"]), "isActive": True, "isDefault": d["id"] == 1,
             "isInternal": False} for d in DEFINITIONS]}

    async def status_v3(self, request: Request) -> dict[str, Any]:
        """Every type, NOT_SUBSCRIBED for one never chosen (v3 has no NOT_SPECIFIED)."""
        email = request.path_params["email"]
        return {"recipient": email, "subscriptionStatuses": [self._v3(email, d)
                                                             for d in DEFINITIONS]}

    def _v3_target(self, body: Any) -> tuple[str, dict[str, Any]]:
        email = str(body.get("emailAddress", "")).strip()
        definition = next((d for d in DEFINITIONS
                           if str(d["id"]) == str(body.get("subscriptionId"))), None)
        if not email or definition is None:
            raise PreferenceError(400, "emailAddress and an existing subscriptionId are "
                                  "required")
        basis = body.get("legalBasis")
        if basis is not None and basis not in LEGAL_BASES:
            raise PreferenceError(400, f"Invalid legal basis {basis!r}")
        return email, definition

    async def subscribe_v3(self, request: Request) -> dict[str, Any]:
        """v3 subscribe: refused after any opt-out (v3 cannot resubscribe)."""
        body = await request.json()
        email, definition = self._v3_target(body)
        if email.lower() in self.wide or self.state(email, definition["id"]) == "UNSUBSCRIBED":
            raise PreferenceError(400, f"{email} has opted out and cannot be resubscribed "
                                  "through this API")
        if self.state(email, definition["id"]) == "SUBSCRIBED":
            raise PreferenceError(400, f"{email} is already subscribed to subscription "
                                  f"{definition['id']}")
        self.set(email, definition["id"], Choice(
            "SUBSCRIBED", self.now(), self.limits.api_source, body.get("legalBasis"),
            body.get("legalBasisExplanation")))
        return self._v3(email, definition)

    async def unsubscribe_v3(self, request: Request) -> dict[str, Any]:
        """v3 unsubscribe: refused for a portal-wide opt-out and for one already made."""
        body = await request.json()
        email, definition = self._v3_target(body)
        if email.lower() in self.wide or self.state(email, definition["id"]) == "UNSUBSCRIBED":
            raise PreferenceError(400, f"{email} is already unsubscribed from subscription "
                                  f"{definition['id']}")
        self.set(email, definition["id"], Choice(
            "UNSUBSCRIBED", self.now(), self.limits.api_source, body.get("legalBasis"),
            body.get("legalBasisExplanation")))
        return self._v3(email, definition)


def seed_choice(status: str | None, legal_basis: str | None, confirmed: datetime | None,
                updated: datetime, iso: Callable[[datetime], str],
                limits: HubSpotLimits) -> Choice | None:
    """A seeded person's newsletter status as HubSpot would hold it (None: never chose)."""
    if status == "SUBSCRIBED":
        if confirmed is not None and legal_basis == "CONSENT_WITH_NOTICE":
            return Choice("SUBSCRIBED", iso(confirmed), limits.doi_source, legal_basis,
                          "Signed up on the website and confirmed the double opt-in mail")
        return Choice("SUBSCRIBED", iso(updated), limits.form_source, legal_basis)
    if status == "NOT_SUBSCRIBED":
        return Choice("UNSUBSCRIBED", iso(updated), limits.unsubscribe_source)
    return None
