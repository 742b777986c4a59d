"""HubSpot CRM v3 contacts simulator, faithful to HubSpot's public API documentation.

Records (numeric-string ids, all property values strings), list with ``limit``/``after``
(max 100), get by id or ``idProperty=email``, create (409 on a duplicate e-mail), PATCH
(``""`` clears), archive; search (filter groups OR'd, filters AND'd, one sort, max 200 a page,
the 10,000-result cap, the body and filter-count limits); batch read/create/update/upsert/
archive (max 100 inputs, 207 with per-input errors); property validation for
``lifecyclestage`` and ``hs_lead_status`` (lifecycle moves forward only: an earlier stage is
silently ignored unless ``lifecycle_backward_allowed``); custom properties; GDPR delete;
communication preferences v4 and v3 (`preferences`); the TEN_SECONDLY_ROLLING and search
SECONDLY limits with HubSpot's headers and 429 bodies, on an injected clock.

Scopes: a token carries the scopes `HubSpotLimits.scopes` names (None: every scope), and an
endpoint whose scopes the token lacks answers 403 ``MISSING_SCOPES`` in the body HubSpot sends
(quoted in HubSpot/hubspot-api-nodejs#268: message, ``errors[0].context.requiredScopes``,
``links.scopes``). Which scope each endpoint needs is in `SCOPES`, from the reference pages'
"Required Scopes" and the scopes reference (developers.hubspot.com/docs/apps/.../scopes). The
private-app token-info endpoint (``POST /oauth/v2/private-apps/get/access-token-info``,
body ``{"tokenKey"}``, the private apps guide) tells which scopes a token has.

Lifecycle stages: an account may add, rename and remove stages (changelog 2022-09); the
simulator's stages are `HubSpotLimits.lifecycle_stages` (internal value → label), served as
the options of ``GET /crm/v3/properties/contacts/lifecyclestage`` and enforced on writes.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from hub_sandbox.hubspot.preferences import PreferenceError, Preferences, seed_choice
from hub_sandbox.hubspot.search import DATE_PROPERTIES, OPERATORS, search
from hub_sandbox.people import Person

LEAD_STATUS = ("NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED",
               "ATTEMPTED_TO_CONTACT", "CONNECTED", "BAD_TIMING")
#: HubSpot's default stage labels (internal value → label).
DEFAULT_STAGES = {"subscriber": "Subscriber", "lead": "Lead",
                  "marketingqualifiedlead": "Marketing Qualified Lead",
                  "salesqualifiedlead": "Sales Qualified Lead", "opportunity": "Opportunity",
                  "customer": "Customer", "evangelist": "Evangelist", "other": "Other"}
CONTACTS_READ = "crm.objects.contacts.read"
CONTACTS_WRITE = "crm.objects.contacts.write"
PREFS_READ = ("communication_preferences.read", "communication_preferences.read_write")
PREFS_WRITE = ("communication_preferences.write", "communication_preferences.read_write")
BATCH_READ = "communication_preferences.statuses.batch.read"
BATCH_WRITE = "communication_preferences.statuses.batch.write"
#: Every scope the simulator knows; a token gets these unless `HubSpotLimits.scopes` says.
ALL_SCOPES = frozenset({CONTACTS_READ, CONTACTS_WRITE, "crm.schemas.contacts.read",
                        "crm.schemas.contacts.write", *PREFS_READ, *PREFS_WRITE, BATCH_READ,
                        BATCH_WRITE})
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


def required_scopes(method: str, path: str) -> tuple[str, ...]:
    """The scopes of which a token needs one for `method path` (empty: none)."""
    if path.startswith("/communication-preferences/v4/statuses/batch/"):
        return (BATCH_READ,) if path.endswith("/read") else (BATCH_WRITE,)
    if path.startswith("/communication-preferences/"):
        return PREFS_READ if method == "GET" else PREFS_WRITE
    if path.startswith("/crm/v3/properties/"):
        return ("crm.schemas.contacts.read",) if method == "GET" \
            else ("crm.schemas.contacts.write",)
    if path.startswith("/crm/v3/objects/contacts"):
        reading = method == "GET" or path.endswith(("/search", "/batch/read"))
        return (CONTACTS_READ,) if reading else (CONTACTS_WRITE,)
    return ()


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
    #: The token's scopes (None: all of `ALL_SCOPES`); a missing one is a 403 MISSING_SCOPES.
    scopes: frozenset[str] | None = None
    #: The account's lifecycle stages in order, internal value → label (customisable).
    lifecycle_stages: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_STAGES))
    #: [U] v4 batch input limit (not stated; HubSpot's other batch endpoints take 100).
    status_batch_max: int = 100
    #: GDPR features on: subscribing needs a legal basis.
    gdpr: bool = True
    #: [U] `source` strings on v4 statuses (HubSpot does not document the values).
    doi_source: str = "DOUBLE_OPT_IN"
    form_source: str = "FORM"
    unsubscribe_source: str = "UNSUBSCRIBE_LINK"
    api_source: str = "API"

    def granted(self) -> frozenset[str]:
        """The scopes the sandbox token carries."""
        return ALL_SCOPES if self.scopes is None else frozenset(self.scopes)


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
        self.properties: dict[str, dict[str, Any]] = {
            name: {"name": name, "label": name, "type": "string", "fieldType": "text",
                   "groupName": "contactinformation"} for name in STANDARD}
        for name, choices in (("lifecyclestage", self.limits.lifecycle_stages),
                              ("hs_lead_status", {s: s.replace("_", " ").title()
                                                  for s in LEAD_STATUS})):
            self.properties[name].update(type="enumeration", fieldType="select", options=[
                {"label": label, "value": value, "displayOrder": n, "hidden": False}
                for n, (value, label) in enumerate(choices.items())])
        self.preferences = Preferences(self.limits, lambda: _iso(self.now()))
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
            choice = seed_choice(view.subscription_status, view.legal_basis,
                                 view.doi_confirmed_at, view.updated_at, _iso, self.limits)
            if choice is not None:
                self.preferences.set(record["properties"]["email"], 1, choice)

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
                "subscriptions": self.preferences.count()}

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
        stages = list(self.limits.lifecycle_stages)
        for name, value in props.items():
            text = None if value is None else str(value)
            if name not in self.properties:
                problems.append({"isValid": False, "message": f"Property \"{name}\" does not "
                                 "exist", "error": "PROPERTY_DOESNT_EXIST", "name": name})
            elif name in READ_ONLY:
                continue
            elif text and ((name == "lifecyclestage" and text not in stages)
                              or (name == "hs_lead_status" and text not in LEAD_STATUS)):
                problems.append({"isValid": False, "message": f"{text} was not one of the "
                                 "allowed options", "error": "INVALID_OPTION", "name": name})
            elif name == "email" and text and not _EMAIL.match(text):
                problems.append({"isValid": False, "message": f"Email address {text} is "
                                 "invalid", "error": "INVALID_EMAIL", "name": name})
            elif name == "lifecyclestage" and text and current and not \
                    self.limits.lifecycle_backward_allowed:
                before = current.get("lifecyclestage")
                if before in stages and stages.index(text) < stages.index(before):
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
        v4 = "/communication-preferences/v4/statuses"
        prefs = self.preferences
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
            Route("/crm/v3/properties/contacts/{name}", self._endpoint(self._property),
                  methods=["GET"]),
            Route(p + "/definitions", self._endpoint(prefs.definitions), methods=["GET"]),
            Route(p + "/status/email/{email}", self._endpoint(prefs.status_v3),
                  methods=["GET"]),
            Route(p + "/subscribe", self._endpoint(prefs.subscribe_v3), methods=["POST"]),
            Route(p + "/unsubscribe", self._endpoint(prefs.unsubscribe_v3), methods=["POST"]),
            Route(v4 + "/batch/read", self._endpoint(prefs.batch_read), methods=["POST"]),
            Route(v4 + "/batch/write", self._endpoint(prefs.batch_write), methods=["POST"]),
            Route(v4 + "/batch/unsubscribe-all", self._endpoint(prefs.batch_unsubscribe_all),
                  methods=["POST"]),
            Route(v4 + "/batch/unsubscribe-all/read", self._endpoint(prefs.batch_wide_read),
                  methods=["POST"]),
            Route("/oauth/v2/private-apps/get/access-token-info", self._token_info,
                  methods=["POST"]),
            Route("/account-info/v3/api-usage/daily/private-apps", self._endpoint(self._usage),
                  methods=["GET"]),
        ]

    def _endpoint(self, handler: Callable[[Request], Any], *,
                  searching: bool = False) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {self.limits.token}":
                return HubSpotError(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION").response()
            missing = self._missing_scopes(request)
            if missing is not None:
                return missing
            limited = self._limited(searching)
            if limited is not None:
                return limited
            try:
                result = await handler(request)
            except HubSpotError as exc:
                response = exc.response()
            except PreferenceError as exc:
                response = HubSpotError(exc.status, exc.message, exc.category).response()
            else:
                response = result if isinstance(result, Response) else JSONResponse(result)
            if not searching or self.limits.search_has_rate_headers:
                response.headers.update(self._headers())
            return response
        return endpoint

    def _missing_scopes(self, request: Request) -> Response | None:
        """HubSpot's 403 when the token lacks every scope that would allow the call."""
        accepted = required_scopes(request.method, request.url.path)
        if not accepted or set(accepted) & self.limits.granted():
            return None
        return HubSpotError(
            403, "This app hasn't been granted all required scopes to make this call. Read "
            "more about required scopes here: https://developers.hubspot.com/scopes.",
            "MISSING_SCOPES",
            errors=[{"message": "One or more of the following scopes are required.",
                     "context": {"requiredScopes": list(accepted)}}],
            links={"scopes": "https://developers.hubspot.com/scopes"}).response()

    async def _token_info(self, request: Request) -> Response:
        """Which scopes a private-app token carries (the private apps guide)."""
        body = await request.json()
        if body.get("tokenKey") != self.limits.token:
            return HubSpotError(401, AUTH_MESSAGE, "INVALID_AUTHENTICATION").response()
        return JSONResponse({"userId": 1, "hubId": 1234567, "appId": 7654321,
                             "scopes": sorted(self.limits.granted())})

    async def _property(self, request: Request) -> Any:
        name = request.path_params["name"]
        if name not in self.properties:
            raise HubSpotError(404, f"Unable to find property {name}", "OBJECT_NOT_FOUND")
        return self.properties[name]

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
        self.preferences.forget(email)
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

    async def _usage(self, request: Request) -> Any:
        return {"results": [{"name": "private-apps-api-calls-daily",
                             "usageLimit": self.limits.daily_limit, "currentUsage": self.daily,
                             "collectedAt": _iso(self.now()), "fetchStatus": "SUCCESS",
                             "resetsAt": _iso(self.now())}]}
