"""HubSpot CRM v3 contacts simulator, faithful to HubSpot's public API documentation.

Records (numeric-string ids, all property values strings), list with ``limit``/``after``
(max 100), get by id or ``idProperty=email``, create (409 on a duplicate e-mail), PATCH
(``""`` clears), archive; search (filter groups OR'd, filters AND'd, one sort, max 200 a page,
the 10,000-result cap, the body and filter-count limits); batch read/create/update/upsert/
archive (max 100 inputs, 207 with per-input errors); property validation for
``lifecyclestage`` and ``hs_lead_status`` (lifecycle moves forward only: an earlier stage is
silently ignored unless ``lifecycle_backward_allowed``); custom properties; GDPR delete;
communication preferences v3; the TEN_SECONDLY_ROLLING and search SECONDLY limits with
HubSpot's headers and 429 bodies, on an injected clock.

DOI evidence: HubSpot documents little about it [U], so a subscription seeded with a
confirmed double opt-in carries ``legalBasis = CONSENT_WITH_NOTICE``, ``legalBasisExplanation
= "Double opt-in confirmed <ISO time>"`` and, standing for HubSpot's own double opt-in
setting, ``doubleOptIn = {"confirmedAt": "<ISO time>"}`` on the status entry.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hub_sandbox.hubspot.search import DATE_PROPERTIES, OPERATORS, search
from hub_sandbox.people import Person

LIFECYCLE = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
             "opportunity", "customer", "evangelist", "other")
LEAD_STATUS = ("NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED",
               "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING")
LEGAL_BASES = ("LEGITIMATE_INTEREST_PQL", "LEGITIMATE_INTEREST_CLIENT",
               "PERFORMANCE_OF_CONTRACT", "CONSENT_WITH_NOTICE", "NON_GDPR",
               "PROCESS_AND_STORE", "LEGITIMATE_INTEREST_OTHER")
STANDARD = ("email", "firstname", "lastname", "phone", "company", "jobtitle", "address", "city",
            "zip", "state", "country", "lifecyclestage", "hs_lead_status", "createdate",
            "lastmodifieddate", "hs_object_id", "hubspot_owner_id", "hs_language",
            "date_of_birth", "website", "mobilephone")
READ_ONLY = {"createdate", "lastmodifieddate", "hs_object_id"}
DEFAULT_PROPERTIES = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate",
                      "lastname")
ALWAYS = ("createdate", "hs_object_id", "lastmodifieddate")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
AUTH_MESSAGE = ("Authentication credentials not found. This API supports OAuth 2.0 "
                "authentication and you can find more details at "
                "https://developers.hubspot.com/docs/methods/auth/oauth-overview")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


def _ms(iso: str | None) -> str | None:
    if not iso:
        return None
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return str(int(moment.timestamp() * 1000))


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class HubSpotLimits:
    """Documented limits; [U] ones are settings."""

    token: str = "sandbox-hubspot-token"
    rate_per_10s: int = 100
    search_per_second: int = 5
    daily_limit: int = 250_000
    max_page: int = 100
    max_search_page: int = 200
    search_cap: int = 10_000
    max_batch: int = 100
    max_search_body: int = 3000
    max_filter_groups: int = 5
    max_filters_per_group: int = 6
    max_filters_total: int = 18
    lifecycle_backward_allowed: bool = False
    search_has_rate_headers: bool = False
    rate_limit: bool = True
    rate_scale: float = 1.0


class HubSpotError(Exception):
    """An error answer in HubSpot's shape."""

    def __init__(self, status: int, message: str, category: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.message, self.category, self.extra = status, message, category, extra

    def response(self) -> Response:
        body = {"status": "error", "message": self.message,
                "correlationId": str(uuid.uuid4()), "category": self.category, **self.extra}
        return JSONResponse(body, status_code=self.status)


def _invalid(problems: list[dict[str, Any]]) -> HubSpotError:
    return HubSpotError(400, "Property values were not valid: " + json.dumps(problems),
                        "VALIDATION_ERROR")


class HubSpotSimulator:
    """Contacts, subscriptions and limits of one HubSpot account, in memory."""

    system: ClassVar[str] = "hubspot"

    def __init__(self, people: Sequence[Person], *, limits: HubSpotLimits | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = _utcnow) -> None:
        self.limits = limits or HubSpotLimits()
        self.clock = clock
        self.now = now
        self.reset(people)

    # -- state ---------------------------------------------------------------------------
    def reset(self, people: Sequence[Person]) -> None:
        """Back to the seeded account with fresh rate windows."""
        self.contacts: dict[str, dict[str, Any]] = {}
        self.by_email: dict[str, str] = {}
        self.properties: dict[str, dict[str, str]] = {
            name: {"name": name, "label": name, "type": "string", "fieldType": "text",
                   "groupName": "contactinformation"} for name in STANDARD}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.portal_opt_out: set[str] = set()
        self.next_id = 100_001
        self.calls: deque[float] = deque()
        self.searches: deque[float] = deque()
        self.daily = 0
        for person in people:
            view = person.hubspot
            if view is None:
                continue
            props = {"email": view.email.strip(), "firstname": view.firstname,
                     "lastname": view.lastname, "phone": view.phone, "company": view.company,
                     "jobtitle": view.jobtitle, "city": view.city, "zip": view.zip,
                     "country": view.country, "lifecyclestage": view.lifecyclestage,
                     "hs_lead_status": view.hs_lead_status}
            record = self._new(props, view.created_at, view.updated_at)
            if view.subscription_status:
                confirmed = _iso(view.doi_confirmed_at) if view.doi_confirmed_at else None
                self.subscriptions[record["properties"]["email"].lower()] = {
                    "status": view.subscription_status, "legalBasis": view.legal_basis,
                    "legalBasisExplanation": f"Double opt-in confirmed {confirmed}"
                    if confirmed else "", "confirmedAt": confirmed}

    def _new(self, props: dict[str, Any], created: datetime, updated: datetime) -> dict[str, Any]:
        cid = str(self.next_id)
        self.next_id += 1
        properties: dict[str, str | None] = {k: (None if v is None else str(v))
                                             for k, v in props.items()}
        properties.update(createdate=_iso(created), lastmodifieddate=_iso(updated),
                          hs_object_id=cid)
        record: dict[str, Any] = {"id": cid, "properties": properties,
                                  "createdAt": _iso(created), "updatedAt": _iso(updated),
                                  "archived": False}
        self.contacts[cid] = record
        email = properties.get("email")
        if email:
            self.by_email[email.lower()] = cid
        return record

    def summary(self) -> dict[str, int]:
        """Contact counts for /_sandbox/stats."""
        archived = sum(1 for c in self.contacts.values() if c["archived"])
        return {"contacts": len(self.contacts) - archived, "archived": archived,
                "subscriptions": len(self.subscriptions)}

    def credentials(self, base_url: str) -> dict[str, str]:
        """What `hub sandbox serve --json` prints for HubSpot."""
        return {"base_url": base_url, "token": self.limits.token}

    def rate_limited_response(self) -> Response:
        """HubSpot's ten-secondly 429, for the sandbox's storm faults."""
        return HubSpotError(429, "You have reached your ten_secondly_rolling limit.",
                            "RATE_LIMITS", errorType="RATE_LIMIT",
                            policyName="TEN_SECONDLY_ROLLING",
                            groupName="publicapi:private-app").response()

    # -- rules ---------------------------------------------------------------------------
    def _validate(self, props: dict[str, Any], current: dict[str, Any] | None) -> dict[str, Any]:
        problems: list[dict[str, Any]] = []
        clean: dict[str, Any] = {}
        for name, value in props.items():
            text = None if value is None else str(value)
            if name not in self.properties:
                problems.append({"isValid": False, "message": f"Property \"{name}\" does not "
                                 "exist", "error": "PROPERTY_DOESNT_EXIST", "name": name})
            elif name in READ_ONLY:
                continue
            elif text and ((name == "lifecyclestage" and text not in LIFECYCLE)
                              or (name == "hs_lead_status" and text not in LEAD_STATUS)):
                problems.append({"isValid": False, "message": f"{text} was not one of the "
                                 "allowed options", "error": "INVALID_OPTION", "name": name})
            elif name == "email" and text and not _EMAIL.match(text):
                problems.append({"isValid": False, "message": f"Email address {text} is "
                                 "invalid", "error": "INVALID_EMAIL", "name": name})
            elif name == "lifecyclestage" and text and current and not \
                    self.limits.lifecycle_backward_allowed:
                before = current.get("lifecyclestage")
                if before in LIFECYCLE and LIFECYCLE.index(text) < LIFECYCLE.index(before):
                    continue  # HubSpot silently ignores a backward move
                clean[name] = text
            else:
                clean[name] = text if text != "" else None
        if problems:
            raise _invalid(problems)
        return clean

    def create(self, props: dict[str, Any]) -> dict[str, Any]:
        """A new contact; a duplicate e-mail is HubSpot's 409."""
        clean = self._validate(props, None)
        email = (clean.get("email") or "").lower()
        if email and email in self.by_email and \
                not self.contacts[self.by_email[email]]["archived"]:
            raise HubSpotError(409, "Contact already exists. Existing ID: "
                               f"{self.by_email[email]}", "CONFLICT")
        moment = self.now()
        return self._new(clean, moment, moment)

    def update(self, record: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
        """Apply properties; `lastmodifieddate` moves only when a value changed."""
        clean = self._validate(props, record["properties"])
        changed = {k: v for k, v in clean.items() if record["properties"].get(k) != v}
        if changed:
            old = (record["properties"].get("email") or "").lower()
            record["properties"].update(changed)
            new = (record["properties"].get("email") or "").lower()
            if old != new:
                self.by_email.pop(old, None)
                if new:
                    self.by_email[new] = record["id"]
            stamp = _iso(self.now())
            record["updatedAt"] = stamp
            record["properties"]["lastmodifieddate"] = stamp
        return record

    def find(self, ident: str, by: str | None = None) -> dict[str, Any]:
        """By id, or by e-mail with idProperty=email; archived records are not found."""
        cid = self.by_email.get(ident.lower()) if by == "email" else ident
        record = self.contacts.get(cid or "")
        if record is None or record["archived"]:
            raise HubSpotError(404, "resource not found", "OBJECT_NOT_FOUND")
        return record

    def _shape(self, record: dict[str, Any], wanted: Sequence[str] | None) -> dict[str, Any]:
        # createdate, hs_object_id and lastmodifieddate come back whatever was asked for
        names = list(dict.fromkeys([*(wanted or DEFAULT_PROPERTIES), *ALWAYS]))
        shaped = {"id": record["id"], "properties": {n: record["properties"].get(n)
                                                     for n in names if n in self.properties},
                  "createdAt": record["createdAt"], "updatedAt": record["updatedAt"],
                  "archived": record["archived"]}
        if record["archived"]:
            shaped["archivedAt"] = record.get("archivedAt")
        return shaped

    # -- rate limits ---------------------------------------------------------------------
    def _limited(self, searching: bool) -> Response | None:
        if not self.limits.rate_limit:
            return None
        now = self.clock()
        window = self.searches if searching else self.calls
        span, limit = (1.0, self.limits.search_per_second) if searching else \
            (10.0, self.limits.rate_per_10s)
        limit = max(1, int(limit * self.limits.rate_scale))
        while window and window[0] <= now - span:
            window.popleft()
        if len(window) >= limit:
            if searching:
                return HubSpotError(429, "You have reached your secondly limit.", "RATE_LIMITS",
                                    errorType="RATE_LIMIT", policyName="SECONDLY").response()
            return self.rate_limited_response()
        if self.daily >= self.limits.daily_limit:
            return HubSpotError(429, "You have reached your daily limit.", "RATE_LIMITS",
                                errorType="RATE_LIMIT", policyName="DAILY").response()
        window.append(now)
        self.daily += 1
        return None

    def _headers(self) -> dict[str, str]:
        limit = max(1, int(self.limits.rate_per_10s * self.limits.rate_scale))
        return {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-RateLimit-Max": str(limit),
                "X-HubSpot-RateLimit-Remaining": str(max(0, limit - len(self.calls))),
                "X-HubSpot-RateLimit-Daily": str(self.limits.daily_limit),
                "X-HubSpot-RateLimit-Daily-Remaining": str(self.limits.daily_limit - self.daily)}

    # -- HTTP ----------------------------------------------------------------------------
    def routes(self) -> list[BaseRoute]:
        """Every endpoint, most specific first."""
        c = "/crm/v3/objects/contacts"
        p = "/communication-preferences/v3"
        return [
            Route(c + "/search", self._endpoint(self._search, searching=True), methods=["POST"]),
            Route(c + "/batch/{action}", self._endpoint(self._batch), methods=["POST"]),
            Route(c + "/gdpr-delete", self._endpoint(self._gdpr_delete), methods=["POST"]),
            Route(c + "/merge", self._endpoint(self._merge), methods=["POST"]),
            Route(c, self._endpoint(self._collection), methods=["GET", "POST"]),
            Route(c + "/{contact_id}", self._endpoint(self._one),
                  methods=["GET", "PATCH", "DELETE"]),
            Route("/crm/v3/properties/contacts", self._endpoint(self._properties),
                  methods=["GET", "POST"]),
            Route(p + "/definitions", self._endpoint(self._definitions), methods=["GET"]),
            Route(p + "/status/email/{email}", self._endpoint(self._status), methods=["GET"]),
            Route(p + "/subscribe", self._endpoint(self._subscribe), methods=["POST"]),
            Route(p + "/unsubscribe", self._endpoint(self._unsubscribe), methods=["POST"]),
            Route("/account-info/v3/api-usage/daily/private-apps", self._endpoint(self._usage),
                  methods=["GET"]),
        ]

    def _endpoint(self, handler: Callable[[Request], Any], *,
                  searching: bool = False) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {self.limits.token}":
                return HubSpotError(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION").response()
            limited = self._limited(searching)
            if limited is not None:
                return limited
            try:
                result = await handler(request)
            except HubSpotError as exc:
                response = exc.response()
            else:
                response = result if isinstance(result, Response) else JSONResponse(result)
            if not searching or self.limits.search_has_rate_headers:
                response.headers.update(self._headers())
            return response
        return endpoint

    @staticmethod
    def _wanted(request: Request) -> list[str] | None:
        values = request.query_params.getlist("properties")
        names = [n.strip() for v in values for n in v.split(",") if n.strip()]
        return names or None

    async def _collection(self, request: Request) -> Any:
        if request.method == "POST":
            body = await request.json()
            return JSONResponse(self._shape(self.create(body.get("properties") or {}),
                                            list((body.get("properties") or {}).keys())),
                                status_code=201)
        q = request.query_params
        limit = min(int(q.get("limit", 10)), self.limits.max_page)
        archived = q.get("archived", "false").lower() == "true"
        after = int(q.get("after", 0) or 0)
        chosen = [r for r in self.contacts.values()
                  if r["archived"] == archived and int(r["id"]) > after]
        chosen.sort(key=lambda r: int(r["id"]))
        page = chosen[:limit]
        listing: dict[str, Any] = {
            "results": [self._shape(r, self._wanted(request)) for r in page]}
        if len(chosen) > limit:
            nxt = page[-1]["id"]
            listing["paging"] = {"next": {"after": nxt, "link": f"{request.base_url}crm/v3/objects/"
                                                             f"contacts?after={nxt}"}}
        return listing

    async def _one(self, request: Request) -> Any:
        ident = request.path_params["contact_id"]
        if request.method == "DELETE":
            record = self.contacts.get(ident)
            if record is not None and not record["archived"]:
                record["archived"] = True
                record["archivedAt"] = _iso(self.now())
            return Response(status_code=204)
        record = self.find(ident, request.query_params.get("idProperty"))
        if request.method == "PATCH":
            body = await request.json()
            self.update(record, body.get("properties") or {})
            return self._shape(record, list((body.get("properties") or {}).keys()))
        return self._shape(record, self._wanted(request))

    def _sortable(self, prop: str, value: Any) -> Any:
        return _ms(value) if prop in DATE_PROPERTIES and value else value

    async def _search(self, request: Request) -> Any:
        raw = await request.body()
        if len(raw) > self.limits.max_search_body:
            raise HubSpotError(400, "The request body is too long; the limit is "
                               f"{self.limits.max_search_body} characters", "VALIDATION_ERROR")
        body = json.loads(raw or b"{}")
        groups = body.get("filterGroups") or []
        total_filters = sum(len(g.get("filters", [])) for g in groups)
        if len(groups) > self.limits.max_filter_groups or total_filters > \
                self.limits.max_filters_total or any(
                    len(g.get("filters", [])) > self.limits.max_filters_per_group for g in groups):
            raise HubSpotError(400, "Too many filters or filter groups in the request",
                               "VALIDATION_ERROR")
        for f in (f for g in groups for f in g.get("filters", [])):
            if f.get("operator") not in OPERATORS:
                raise HubSpotError(400, f"Invalid operator {f.get('operator')!r}",
                                   "VALIDATION_ERROR")
        if len(body.get("sorts") or []) > 1:
            raise HubSpotError(400, "Only one sort is allowed", "VALIDATION_ERROR")
        limit = min(int(body.get("limit", 10)), self.limits.max_search_page)
        after = int(body.get("after", 0) or 0)
        if after >= self.limits.search_cap or after + limit > self.limits.search_cap:
            if after >= self.limits.search_cap:
                raise HubSpotError(400, "Search results are limited to "
                                   f"{self.limits.search_cap} results; narrow the filters",
                                   "VALIDATION_ERROR")
            limit = self.limits.search_cap - after
        live = [r["properties"] for r in self.contacts.values() if not r["archived"]]
        found = search(live, groups, body.get("sorts") or [], self._sortable)
        page = found[after:after + limit]
        result: dict[str, Any] = {
            "total": len(found),
            "results": [self._shape(self.contacts[str(p["hs_object_id"])],
                                    body.get("properties")) for p in page]}
        if after + limit < min(len(found), self.limits.search_cap):
            result["paging"] = {"next": {"after": str(after + limit)}}
        return result

    async def _batch(self, request: Request) -> Any:
        action = request.path_params["action"]
        body = await request.json()
        inputs = body.get("inputs") or []
        if len(inputs) > self.limits.max_batch:
            raise HubSpotError(400, f"Batch of {len(inputs)} inputs is too large; the limit is "
                               f"{self.limits.max_batch}", "VALIDATION_ERROR")
        started = _iso(self.now())
        results: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        if action == "create":
            for item in inputs:  # a duplicate fails the whole request, naming the first
                email = str((item.get("properties") or {}).get("email") or "").lower()
                if email in self.by_email and not self.contacts[self.by_email[email]]["archived"]:
                    raise HubSpotError(409, "Contact already exists. Existing ID: "
                                       f"{self.by_email[email]}", "CONFLICT")
        for item in inputs:
            try:
                if action == "read":
                    results.append(self._shape(self.find(str(item["id"]), body.get("idProperty")),
                                               body.get("properties")))
                elif action == "create":
                    results.append(self._shape(self.create(item.get("properties") or {}),
                                               list(item.get("properties") or {})))
                elif action == "update":
                    record = self.update(self.find(str(item["id"])), item.get("properties") or {})
                    results.append(self._shape(record, list(item.get("properties") or {})))
                elif action == "upsert":
                    results.append(self._upsert(item))
                elif action == "archive":
                    gone = self.contacts.get(str(item.get("id")))
                    if gone is not None and not gone["archived"]:
                        gone["archived"] = True
                        gone["archivedAt"] = _iso(self.now())
                else:
                    raise HubSpotError(404, "resource not found", "OBJECT_NOT_FOUND")
            except HubSpotError as exc:
                errors.append({"status": "error", "category": exc.category,
                               "message": exc.message, "context": {"id": [str(item.get("id"))]}})
        if action == "archive":
            return Response(status_code=204)
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results,
                                  "requestedAt": started, "startedAt": started,
                                  "completedAt": _iso(self.now())}
        if errors:
            answer.update(numErrors=len(errors), errors=errors)
            return JSONResponse(answer, status_code=207)
        return JSONResponse(answer, status_code=201 if action == "create" else 200)

    def _upsert(self, item: dict[str, Any]) -> dict[str, Any]:
        props = dict(item.get("properties") or {})
        if item.get("idProperty") == "email":
            email = str(item.get("id", "")).strip()
            props.setdefault("email", email)
            cid = self.by_email.get(email.lower())
            if cid and not self.contacts[cid]["archived"]:
                record = self.update(self.contacts[cid], props)
                return {**self._shape(record, list(props)), "new": False}
            return {**self._shape(self.create(props), list(props)), "new": True}
        record = self.update(self.find(str(item.get("id"))), props)
        return {**self._shape(record, list(props)), "new": False}

    async def _gdpr_delete(self, request: Request) -> Any:
        body = await request.json()
        record = self.find(str(body.get("objectId", "")), body.get("idProperty"))
        email = (record["properties"].get("email") or "").lower()
        del self.contacts[record["id"]]
        self.by_email.pop(email, None)
        self.subscriptions.pop(email, None)
        return Response(status_code=204)

    async def _merge(self, request: Request) -> Any:
        body = await request.json()
        primary = self.find(str(body.get("primaryObjectId")))
        other = self.find(str(body.get("objectIdToMerge")))
        for key, value in other["properties"].items():
            if value and not primary["properties"].get(key) and key not in READ_ONLY:
                primary["properties"][key] = value
        other["archived"] = True
        other["archivedAt"] = _iso(self.now())
        return self._shape(primary, None)

    async def _properties(self, request: Request) -> Any:
        if request.method == "GET":
            return {"results": list(self.properties.values())}
        body = await request.json()
        name = str(body.get("name", ""))
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise HubSpotError(400, f"Invalid property name {name!r}", "VALIDATION_ERROR")
        if name in self.properties:
            raise HubSpotError(409, f"A property named '{name}' already exists.", "CONFLICT")
        self.properties[name] = {"name": name, "label": body.get("label", name),
                                 "type": body.get("type", "string"),
                                 "fieldType": body.get("fieldType", "text"),
                                 "groupName": body.get("groupName", "contactinformation")}
        return JSONResponse(self.properties[name], status_code=201)

    async def _definitions(self, request: Request) -> Any:
        return {"subscriptionDefinitions": [{
            "id": "1", "name": "Marketing newsletter", "description": "Newsletter and offers",
            "isActive": True, "isDefault": True, "isInternal": False,
            "purpose": "Marketing", "communicationMethod": "Email"}]}

    def _status_object(self, email: str) -> dict[str, Any]:
        entry = self.subscriptions.get(email.lower())
        statuses = []
        if entry is not None or email.lower() in self.portal_opt_out:
            entry = entry or {"status": "NOT_SUBSCRIBED", "legalBasis": None,
                              "legalBasisExplanation": ""}
            statuses.append({"id": "1", "name": "Marketing newsletter",
                             "description": "Newsletter and offers", "status": entry["status"],
                             "sourceOfStatus": "PORTAL_WIDE_STATUS"
                             if email.lower() in self.portal_opt_out else "SUBSCRIPTION_STATUS",
                             "legalBasis": entry["legalBasis"],
                             "legalBasisExplanation": entry["legalBasisExplanation"]})
            if entry.get("confirmedAt"):
                statuses[-1]["doubleOptIn"] = {"confirmedAt": entry["confirmedAt"]}
        return {"recipient": email, "subscriptionStatuses": statuses}

    async def _status(self, request: Request) -> Any:
        return self._status_object(request.path_params["email"])

    async def _subscribe(self, request: Request) -> Any:
        body = await request.json()
        email = str(body.get("emailAddress", "")).lower()
        if body.get("legalBasis") and body["legalBasis"] not in LEGAL_BASES:
            raise HubSpotError(400, f"Invalid legal basis {body['legalBasis']!r}",
                               "VALIDATION_ERROR")
        entry = self.subscriptions.get(email)
        if email in self.portal_opt_out or (entry and entry.get("opted_out")):
            raise HubSpotError(400, f"{email} has opted out and cannot be resubscribed through "
                               "this API", "VALIDATION_ERROR")
        self.subscriptions[email] = {"status": "SUBSCRIBED",
                                     "legalBasis": body.get("legalBasis"),
                                     "legalBasisExplanation": body.get("legalBasisExplanation",
                                                                       "")}
        return self._status_object(email)["subscriptionStatuses"][0]

    async def _unsubscribe(self, request: Request) -> Any:
        body = await request.json()
        email = str(body.get("emailAddress", "")).lower()
        entry = self.subscriptions.get(email)
        if entry is None or entry["status"] != "SUBSCRIBED":
            raise HubSpotError(400, f"{email} is already unsubscribed", "VALIDATION_ERROR")
        entry.update(status="NOT_SUBSCRIBED", opted_out=True)
        return self._status_object(email)["subscriptionStatuses"][0]

    async def _usage(self, request: Request) -> Any:
        return {"results": [{"name": "private-apps-api-calls-daily",
                             "usageLimit": self.limits.daily_limit, "currentUsage": self.daily,
                             "collectedAt": _iso(self.now()), "fetchStatus": "SUCCESS",
                             "resetsAt": _iso(self.now())}]}
