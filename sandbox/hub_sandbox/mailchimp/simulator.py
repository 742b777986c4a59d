"""Mailchimp Marketing API 3.0 simulator: one audience, its members, and Mailchimp's rules.

Faithful to Mailchimp's public API documentation: members by subscriber hash (MD5 of the lower-cased
address; the raw address works too), offset paging (count ≤ 1000), `since_last_changed`,
`status`, `fields`/`exclude_fields` with dot notation, PUT with `status_if_new`, batch
subscribe (≤ 500 members, per-member errors, HTTP 200), tags (static segments, one member at
a time or up to 500 added and 500 removed per segment call), merge fields, permanent delete.
The consent rules are the point: `pending` is the double opt-in state and every time
Mailchimp would send its confirmation mail the simulator records it in `confirmation_mails`;
an unsubscribed or cleaned member cannot be set to `subscribed` (only to `pending`); a
permanently deleted address can never be re-imported; fake-looking addresses are refused.
Batch subscribe reports each refused member with Mailchimp's two `error_code` values.
Errors are Problem-JSON with Mailchimp's titles and texts. More than `max_connections`
requests in flight get a 429, as the real 10-connection limit does. Batch operations
(``/3.0/batches``, `hub_sandbox.mailchimp.batches`) run any of these calls later, one batch
at a time, through the same handlers.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match, Route

from hub_sandbox.mailchimp.batches import RESULTS_PATH, BatchLimits, BatchQueue
from hub_sandbox.mailchimp.errors import MailchimpError, not_found
from hub_sandbox.people import Person

STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional", "archived")

# Addresses Mailchimp refuses with 400 "<address> looks fake or invalid, please enter a real
# email address." Mailchimp publishes no list; what is known comes from quoted real answers:
#   example.com       JustFixNYC/tenants2#1554 (fooboo@example.com), HHS/simpler-grants-gov
#                     PR #11089 (name@example.com "due to the example.com domain")
#   yopmail.com       VingtCinq/python-mailchimp#183 (a real answer quoted in full)
#   yopmail.com, sharklasers.com   Arcadier/Mailchimp-Exporter wiki "Mailchimp Sync Errors"
#                     ("all well-known temporary email services")
# The rest are settings (`MailchimpLimits`), not claims: the other names RFC 2606 / RFC 6761
# reserve (example.net/.org, .example, .test, .invalid, .localhost), which no real mailbox
# can have, two more throw-away services, and a few role or throw-away local parts.
RESERVED_DOMAINS = ("example.com", "example.net", "example.org", "example", "test", "invalid",
                    "localhost")
DISPOSABLE_DOMAINS = ("yopmail.com", "sharklasers.com", "trash-mail.com", "mailinator.com")
FAKE_LOCAL_PARTS = ("test", "fake", "asdf", "noreply", "no-reply", "abuse", "postmaster")
# Batch subscribe's per-member errors carry one of two codes (Marketing API reference, "Batch
# subscribe or unsubscribe", response errors[].error_code: ERROR_CONTACT_EXISTS, ERROR_GENERIC):
# the first for a member that exists when the batch does not update existing ones, the second
# for every other refusal, told apart only by the text.
CONTACT_EXISTS = "ERROR_CONTACT_EXISTS"
GENERIC = "ERROR_GENERIC"


def subscriber_hash(email: str) -> str:
    """MD5 of the lower-cased address: Mailchimp's member id."""
    return hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()


def looks_fake(email: str, limits: MailchimpLimits) -> bool:
    """Mailchimp's "looks fake or invalid" refusal, as far as the sources above show it."""
    local, _, domain = email.strip().lower().partition("@")
    if not local or "." not in domain or local in limits.refused_local_parts:
        return True
    return any(domain == d or domain.endswith("." + d) for d in limits.refused_domains)


def _iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00") if moment else ""


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class MailchimpLimits:
    """The audience and the documented limits."""

    api_key: str = "sandboxkey0000000000000000000000-us1"
    list_id: str = "a1b2c3d4e5"
    list_name: str = "hub sandbox audience"
    max_count: int = 1000
    max_batch: int = 500
    max_connections: int = 10
    #: Members per list of a static segment's batch add/remove: "members_to_add" and
    #: "members_to_remove" take up to 500 addresses each (Marketing API reference, "Batch add
    #: or remove members", https://mailchimp.com/developer/marketing/api/list-segments/batch-add-or-remove-members/).
    max_segment_batch: int = 500
    #: [U] What the segment batch does with an address that is not on the audience: report it
    #: in `errors` (True), or ignore it silently (False; an R client's docs say "Any emails
    #: provided that are not present on the list will be ignored" for static segments).
    segment_reports_strangers: bool = True
    rate_limit: bool = True
    rate_scale: float = 1.0
    #: Domains (and their subdomains) refused as fake; see RESERVED_DOMAINS for the sources.
    refused_domains: tuple[str, ...] = RESERVED_DOMAINS + DISPOSABLE_DOMAINS
    refused_local_parts: tuple[str, ...] = FAKE_LOCAL_PARTS
    #: Batch operations: the documented pending limit and the settings no source fixes.
    batches: BatchLimits = dataclasses.field(default_factory=BatchLimits)


class MailchimpSimulator:
    """The audience's members in memory; `routes()` serves them under /3.0."""

    system: ClassVar[str] = "mailchimp"

    def __init__(self, people: Sequence[Person], *, limits: MailchimpLimits | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], datetime] = _utcnow) -> None:
        self.limits = limits or MailchimpLimits()
        self.clock = clock
        self.now = now
        self.in_flight = 0
        self.batches = BatchQueue(self.dispatch, lambda: _iso(self.now()), self.limits.batches)
        #: the API's routes with their bare handlers, for the operations of a batch
        self._batchable = [Route(path, handler, methods=methods)
                           for path, handler, methods in self._api()]
        self.reset(people)

    # -- state ---------------------------------------------------------------------------
    def reset(self, people: Sequence[Person]) -> None:
        """Back to the seeded audience; nothing sent, nothing forgotten, no batches."""
        self.batches.reset()
        self.members: dict[str, dict[str, Any]] = {}
        #: Tags are static segments (Mailchimp: "tags are static segments"); by segment id.
        self.segments: dict[int, dict[str, Any]] = {}
        self.forgotten: set[str] = set()
        self.confirmation_mails: list[tuple[str, datetime]] = []
        self.merge_fields: dict[str, dict[str, Any]] = {
            tag: {"merge_id": i + 1, "tag": tag, "name": name, "type": kind, "required": False,
                  "list_id": self.limits.list_id}
            for i, (tag, name, kind) in enumerate((("FNAME", "First Name", "text"),
                                                   ("LNAME", "Last Name", "text"),
                                                   ("PHONE", "Phone Number", "phone"),
                                                   ("ADDRESS", "Address", "address"),
                                                   ("BIRTHDAY", "Birthday", "birthday")))}
        for person in people:
            view = person.mailchimp
            if view is None:
                continue
            member = self._new_member(view.email.strip(), view.status, view.last_changed)
            member["merge_fields"].update({"FNAME": view.fname or "", "LNAME": view.lname or "",
                                           "PHONE": view.phone or ""})
            member.update({
                "language": view.language or "", "ip_signup": view.ip_signup or "",
                "timestamp_signup": _iso(view.timestamp_signup), "ip_opt": view.ip_opt or "",
                "timestamp_opt": _iso(view.timestamp_opt), "member_rating": view.member_rating,
                "stats": {"avg_open_rate": view.avg_open_rate,
                          "avg_click_rate": view.avg_click_rate},
                "source": view.source or "",
                "tags": [{"id": self._segment(t)["id"], "name": t} for t in view.tags],
            })
            member["tags_count"] = len(member["tags"])
            self.members[member["id"]] = member

    def _segment(self, name: str) -> dict[str, Any]:
        """The static segment (tag) called `name`, created when first used, as Mailchimp
        creates a tag the first time a member gets it."""
        for segment in self.segments.values():
            if segment["name"] == name:
                return segment
        segment_id = max(self.segments, default=0) + 1
        moment = _iso(self.now())
        segment = {"id": segment_id, "name": name, "member_count": 0, "type": "static",
                   "created_at": moment, "updated_at": moment, "options": {},
                   "list_id": self.limits.list_id}
        self.segments[segment_id] = segment
        return segment

    def _tag(self, member: dict[str, Any], name: str, on: bool) -> bool:
        """Give `member` the tag `name` or take it away; True when that changed anything."""
        names = {t["name"]: t for t in member["tags"]}
        if on == (name in names):
            return False
        if on:
            names[name] = {"id": self._segment(name)["id"], "name": name}
        else:
            del names[name]
        member["tags"] = list(names.values())
        member["tags_count"] = len(member["tags"])
        member["last_changed"] = _iso(self.now())
        return True

    def _count_segment(self, segment: dict[str, Any]) -> dict[str, Any]:
        segment["member_count"] = sum(
            1 for m in self.members.values()
            if m["status"] != "archived" and any(t["id"] == segment["id"] for t in m["tags"]))
        return segment

    def _new_member(self, email: str, status: str, changed: datetime) -> dict[str, Any]:
        member_id = subscriber_hash(email)
        return {
            "id": member_id, "email_address": email, "unique_email_id": member_id[:10],
            "contact_id": member_id[10:26], "full_name": "", "email_type": "html",
            "status": status, "merge_fields": {tag: "" for tag in self.merge_fields},
            "interests": {}, "stats": {"avg_open_rate": 0, "avg_click_rate": 0},
            "ip_signup": "", "timestamp_signup": "", "ip_opt": "", "timestamp_opt": "",
            "member_rating": 2, "last_changed": _iso(changed), "language": "", "vip": False,
            "email_client": "", "location": {"latitude": 0, "longitude": 0, "country_code": ""},
            "source": "API - Generic", "tags_count": 0, "tags": [],
            "list_id": self.limits.list_id,
        }

    def confirm(self, email: str) -> dict[str, Any]:
        """The member clicks the confirmation link: subscribed, with the opt-in evidence."""
        member = self.members.get(subscriber_hash(email))
        if member is None or member["status"] != "pending":
            raise not_found()
        moment = self.now()
        member.update(status="subscribed", timestamp_opt=_iso(moment), ip_opt="198.51.100.77",
                      last_changed=_iso(moment))
        return member

    def summary(self) -> dict[str, int]:
        """Members per status, and the confirmation mails sent."""
        counts = {status: 0 for status in STATUSES}
        for member in self.members.values():
            counts[member["status"]] += 1
        return {"members": len(self.members), **counts,
                "confirmation_mails": len(self.confirmation_mails)}

    def credentials(self, base_url: str) -> dict[str, str]:
        """What `hub sandbox serve --json` prints for Mailchimp."""
        return {"base_url": f"{base_url}/3.0", "api_key": self.limits.api_key,
                "list_id": self.limits.list_id}

    def rate_limited_response(self) -> Response:
        """The answer to one connection too many."""
        return MailchimpError(429, "Too Many Requests", "You have exceeded the limit of 10 "
                              "simultaneous connections.").response()

    # -- rules ---------------------------------------------------------------------------
    def _check_address(self, email: str) -> None:
        if email.strip().lower() in self.forgotten:
            raise MailchimpError(400, "Forgotten Email Not Subscribed",
                                 f"{email} was permanently deleted and cannot be re-imported. "
                                 "The contact must re-subscribe to get back on the list.")
        if looks_fake(email, self.limits):
            raise MailchimpError(400, "Invalid Resource", f"{email} looks fake or invalid, "
                                 "please enter a real email address.")

    def _apply(self, member: dict[str, Any], body: dict[str, Any], *, new: bool) -> None:
        status = body.get("status_if_new") if new and body.get("status_if_new") else \
            body.get("status")
        if status is not None:
            if status not in STATUSES:
                raise MailchimpError(400, "Invalid Resource", "The resource submitted could not "
                                     "be validated.", [{"field": "status", "message":
                                                        "Value must be one of: " +
                                                        ", ".join(STATUSES)}])
            if status == "subscribed" and member["status"] in ("unsubscribed", "cleaned") \
                    and not new:
                raise MailchimpError(400, "Member In Compliance State",
                                     f"{member['email_address']} is in a compliance state due "
                                     "to unsubscribe, bounce, or compliance review and cannot "
                                     "be subscribed.")
            if status == "pending" and (new or member["status"] != "pending"):
                self.confirmation_mails.append((member["email_address"], self.now()))
            member["status"] = status
            if status == "subscribed" and body.get("timestamp_opt"):
                member["timestamp_opt"] = body["timestamp_opt"]
        for key in ("email_type", "language", "vip", "ip_signup", "timestamp_signup",
                    "ip_opt", "timestamp_opt"):
            if key in body:
                member[key] = body[key]
        fields = body.get("merge_fields") or {}
        unknown = [tag for tag in fields if tag not in self.merge_fields]
        if unknown:
            raise MailchimpError(400, "Invalid Resource", "Your merge fields were invalid.",
                                 [{"field": unknown[0], "message": "Merge field does not exist"}])
        member["merge_fields"].update(fields)
        member["last_changed"] = _iso(self.now())

    def _check_required(self, body: dict[str, Any], *, skip: bool) -> None:
        """A new member needs every required merge field (unless skip_merge_validation).

        The verbatim answer (a real one quoted in full in ibericode/mailchimp-for-wordpress
        #545): 400 "Invalid Resource", "Your merge fields were invalid.", errors [{"field":
        "LNAME", "message": "Please enter a value"}].
        """
        if skip:
            return
        given = body.get("merge_fields") or {}
        for tag, field in self.merge_fields.items():
            if field.get("required") and not str(given.get(tag) or "").strip():
                raise MailchimpError(400, "Invalid Resource", "Your merge fields were invalid.",
                                     [{"field": tag, "message": "Please enter a value"}])

    def upsert(self, body: dict[str, Any], *, member_id: str | None = None,
               create_only: bool = False, update_existing: bool = True,
               skip_merge_validation: bool = False) -> tuple[dict[str, Any], bool]:
        """Create or update one member by the rules above; returns (member, created)."""
        email = str(body.get("email_address", "")).strip()
        if not email:
            raise MailchimpError(400, "Invalid Resource", "The resource submitted could not be "
                                 "validated.", [{"field": "email_address",
                                                 "message": "This value should not be blank."}])
        key = subscriber_hash(email)
        if member_id is not None and member_id not in (key, email.lower()):
            raise MailchimpError(400, "Invalid Resource", "The email address in the request "
                                 "body does not match the subscriber hash.")
        existing = self.members.get(key)
        if existing is not None and existing["status"] != "archived":
            if create_only or not update_existing:
                raise MailchimpError(400, "Member Exists", f"{email} is already a list member. "
                                     "Use PUT to insert or update list members.")
            self._apply(existing, body, new=False)
            return existing, False
        self._check_address(email)
        if not (body.get("status") or body.get("status_if_new")):
            raise MailchimpError(400, "Invalid Resource", "The resource submitted could not be "
                                 "validated.", [{"field": "status", "message":
                                                 "This value should not be blank."}])
        self._check_required(body, skip=skip_merge_validation)
        member = existing or self._new_member(email, "pending", self.now())
        member["email_address"] = email
        self._apply(member, {**body, "status": body.get("status_if_new") or body.get("status")},
                    new=True)
        self.members[key] = member
        return member, True

    # -- HTTP ----------------------------------------------------------------------------
    def _api(self) -> list[tuple[str, Callable[[Request], Any], list[str]]]:
        """The API's paths under /3.0, their handlers and methods: served over HTTP, and
        run inside batch operations."""
        base = "/3.0/lists/{list_id}"
        member = base + "/members/{member_id}"
        return [
            ("/3.0/ping", self._ping, ["GET"]),
            (base, self._list, ["GET", "POST"]),
            (base + "/members", self._members, ["GET", "POST"]),
            (member, self._member, ["GET", "PUT", "PATCH", "DELETE"]),
            (member + "/actions/delete-permanent", self._forget, ["POST"]),
            (member + "/tags", self._tags, ["GET", "POST"]),
            (base + "/segments", self._segments, ["GET", "POST"]),
            (base + "/segments/{segment_id}", self._segment_members, ["GET", "POST"]),
            (base + "/merge-fields", self._merge_fields, ["GET", "POST"]),
        ]

    def routes(self) -> list[BaseRoute]:
        """The API under /3.0, batch operations, their results, the confirmation click."""
        return [
            *(Route(path, self._endpoint(handler), methods=methods)
              for path, handler, methods in self._api()),
            Route("/3.0/batches", self._endpoint(self.batches.collection),
                  methods=["GET", "POST"]),
            Route("/3.0/batches/{batch_id}", self._endpoint(self.batches.item),
                  methods=["GET", "DELETE"]),
            Route(RESULTS_PATH, self.batches.results, methods=["GET"]),
            Route("/_sandbox/mailchimp/confirm", self._confirm_click, methods=["POST"]),
        ]

    def _endpoint(self, handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def endpoint(request: Request) -> Response:
            if not self._authorised(request):
                return MailchimpError(401, "API Key Invalid", "Your API key may be invalid, or "
                                      "you've attempted to access the wrong datacenter."
                                      ).response()
            if self.limits.rate_limit and self.in_flight >= self.limits.max_connections:
                return self.rate_limited_response()
            self.in_flight += 1
            try:
                return await self._serve(handler, request)
            finally:
                self.in_flight -= 1
        return endpoint

    async def _serve(self, handler: Callable[[Request], Any], request: Request) -> Response:
        try:
            list_id = request.path_params.get("list_id")
            if list_id is not None and list_id != self.limits.list_id:
                raise not_found()
            result = await handler(request)
            return result if isinstance(result, Response) else JSONResponse(result)
        except MailchimpError as exc:
            return exc.response()

    async def dispatch(self, method: str, path: str, params: dict[str, str],
                       body: bytes) -> tuple[int, str]:
        """One operation of a batch, run as Mailchimp runs it: inside, as the batch's user,
        outside the connection limit (the batch holds no connection while it runs).

        A path outside the API (or the batch endpoints themselves) is a 404; a body that is
        not JSON a 400 [U: the title and text are those of real answers seen in logs, not of a
        documented source].
        """
        scope: dict[str, Any] = {
            "type": "http", "method": method.upper(), "root_path": "",
            "path": "/3.0/" + path.lstrip("/"), "query_string": urlencode(params).encode(),
            "headers": [(b"content-type", b"application/json")], "path_params": {}}
        allowed = False
        for route in self._batchable:
            match, child = route.matches(scope)
            if match == Match.FULL:
                handler = route.endpoint
                break
            allowed = allowed or match == Match.PARTIAL
        else:
            error = MailchimpError(405, "Method Not Allowed", "The requested method and "
                                   "resource are not compatible. See the Allow header for "
                                   "this resource's available methods.") if allowed \
                else not_found()
            return error.status, _text(error.response())
        if body:
            try:
                json.loads(body)
            except ValueError:
                error = MailchimpError(400, "JSON Parse Error", "We encountered an unspecified "
                                       "JSON parsing error.")
                return error.status, _text(error.response())
        else:
            body = b"{}"
        sent = False

        async def receive() -> dict[str, Any]:
            nonlocal sent
            part = b"" if sent else body
            sent = True
            return {"type": "http.request", "body": part, "more_body": False}

        response = await self._serve(handler, Request({**scope, **child}, receive))
        return response.status_code, _text(response)

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                _, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            return password == self.limits.api_key
        return header == f"Bearer {self.limits.api_key}"

    async def _ping(self, request: Request) -> dict[str, str]:
        return {"health_status": "Everything's Chimpy!"}

    async def _list(self, request: Request) -> Any:
        if request.method == "GET":
            counts = self.summary()
            return {"id": self.limits.list_id, "name": self.limits.list_name,
                    "stats": {"member_count": counts["subscribed"],
                              "unsubscribe_count": counts["unsubscribed"],
                              "cleaned_count": counts["cleaned"]}}
        return self._batch(await request.json(),
                           skip=_flag(request.query_params.get("skip_merge_validation")))

    def _batch(self, body: dict[str, Any], *, skip: bool = False) -> dict[str, Any]:
        members = body.get("members") or []
        if len(members) > self.limits.max_batch:
            raise MailchimpError(400, "Invalid Resource", "The resource submitted could not be "
                                 "validated.", [{"field": "members", "message": "Maximum of "
                                                 f"{self.limits.max_batch} members"}])
        created: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        errors: list[dict[str, str]] = []
        for entry in members:
            try:
                member, is_new = self.upsert(entry, update_existing=bool(
                    body.get("update_existing", False)), skip_merge_validation=skip)
            except MailchimpError as exc:
                field = (exc.errors or [{}])[0]
                errors.append({"email_address": entry.get("email_address", ""),
                               "error": exc.detail,
                               "error_code": CONTACT_EXISTS if exc.title == "Member Exists"
                               else GENERIC,
                               "field": field.get("field", ""),
                               "field_message": field.get("message", "")})
                continue
            (created if is_new else updated).append(member)
        return {"new_members": created, "updated_members": updated, "errors": errors,
                "total_created": len(created), "total_updated": len(updated),
                "error_count": len(errors), "_links": []}

    async def _members(self, request: Request) -> Any:
        if request.method == "POST":
            member, _ = self.upsert(await request.json(), create_only=True,
                                    skip_merge_validation=_flag(
                                        request.query_params.get("skip_merge_validation")))
            return member
        q = request.query_params
        count = min(int(q.get("count", 10)), self.limits.max_count)
        offset = int(q.get("offset", 0))
        chosen = list(self.members.values())
        if q.get("status"):
            chosen = [m for m in chosen if m["status"] == q["status"]]
        else:
            chosen = [m for m in chosen if m["status"] != "archived"]
        since = q.get("since_last_changed")
        if since:
            cutoff = datetime.fromisoformat(since.replace("Z", "+00:00"))
            chosen = [m for m in chosen
                      if datetime.fromisoformat(m["last_changed"]) > cutoff]
        if q.get("sort_field") == "last_changed":
            chosen.sort(key=lambda m: (m["last_changed"], m["id"]),
                        reverse=q.get("sort_dir", "ASC").upper() == "DESC")
        page = chosen[offset:offset + count]
        body = {"members": page, "list_id": self.limits.list_id, "total_items": len(chosen),
                "_links": []}
        return _select(body, q.get("fields"), q.get("exclude_fields"))

    def _find(self, member_id: str) -> dict[str, Any]:
        key = subscriber_hash(member_id) if "@" in member_id else member_id.lower()
        member = self.members.get(key)
        if member is None:
            raise not_found()
        return member

    async def _member(self, request: Request) -> Any:
        member_id = request.path_params["member_id"]
        if request.method == "GET":
            member = self._find(member_id)
            return _select(member, request.query_params.get("fields"),
                           request.query_params.get("exclude_fields"))
        if request.method == "DELETE":
            member = self._find(member_id)
            member["status"] = "archived"
            member["last_changed"] = _iso(self.now())
            return Response(status_code=204)
        body = await request.json()
        if request.method == "PATCH":
            member = self._find(member_id)
            self._apply(member, body, new=False)
            return member
        member, _ = self.upsert(body, member_id=member_id, skip_merge_validation=_flag(
            request.query_params.get("skip_merge_validation")))
        return member

    async def _forget(self, request: Request) -> Response:
        member = self._find(request.path_params["member_id"])
        self.forgotten.add(member["email_address"].strip().lower())
        del self.members[member["id"]]
        return Response(status_code=204)

    async def _tags(self, request: Request) -> Any:
        member = self._find(request.path_params["member_id"])
        if request.method == "GET":
            return {"tags": member["tags"], "total_items": len(member["tags"])}
        body = await request.json()
        for tag in body.get("tags") or []:
            self._tag(member, str(tag["name"]), tag.get("status") != "inactive")
        return Response(status_code=204)

    async def _segments(self, request: Request) -> Any:
        """List segments (``type=static`` lists the tags) or create one.

        Marketing API reference, "List segments" (GET /lists/{list_id}/segments: `count`
        default 10, max 1000, `offset`, `type` saved|static|fuzzy) and "Add segment" (POST
        with `name` and `static_segment`, an array of addresses; an empty one makes an empty
        static segment), https://mailchimp.com/developer/marketing/api/list-segments/.
        """
        if request.method == "POST":
            body = await request.json()
            name = str(body.get("name") or "").strip()
            if not name:
                raise MailchimpError(400, "Invalid Resource", "The resource submitted could not "
                                     "be validated.", [{"field": "name", "message":
                                                        "This value should not be blank."}])
            moment = _iso(self.now())
            segment_id = max(self.segments, default=0) + 1
            segment = {"id": segment_id, "name": name, "member_count": 0, "type": "static",
                       "created_at": moment, "updated_at": moment, "options": {},
                       "list_id": self.limits.list_id}
            self.segments[segment_id] = segment
            for address in body.get("static_segment") or []:
                member = self.members.get(subscriber_hash(str(address)))
                if member is not None:
                    self._tag(member, name, True)
            return self._count_segment(segment)
        q = request.query_params
        count = min(int(q.get("count", 10)), self.limits.max_count)
        offset = int(q.get("offset", 0))
        chosen = [s for s in self.segments.values()
                  if not q.get("type") or s["type"] == q["type"]]
        page = [self._count_segment(s) for s in chosen[offset:offset + count]]
        return _select({"segments": page, "list_id": self.limits.list_id,
                        "total_items": len(chosen), "_links": []},
                       q.get("fields"), q.get("exclude_fields"))

    async def _segment_members(self, request: Request) -> Any:
        """Batch add or remove members of a static segment (POST), or read the segment (GET).

        Marketing API reference, "Batch add or remove members"
        (https://mailchimp.com/developer/marketing/api/list-segments/batch-add-or-remove-members/):
        body `members_to_add` and `members_to_remove`, arrays of addresses; the answer lists
        `members_added` and `members_removed` (member objects), `errors` (`email_addresses`,
        `error`), `total_added`, `total_removed`, `error_count`. Each array takes at most 500
        addresses; a longer one is refused as a whole, before anything changes.
        """
        segment = self.segments.get(_int(request.path_params["segment_id"]))
        if segment is None:
            raise not_found()
        if request.method == "GET":
            return self._count_segment(segment)
        body = await request.json()
        adding = [str(a) for a in body.get("members_to_add") or []]
        removing = [str(a) for a in body.get("members_to_remove") or []]
        for name, addresses in (("members_to_add", adding), ("members_to_remove", removing)):
            if len(addresses) > self.limits.max_segment_batch:
                raise MailchimpError(400, "Invalid Resource", "The resource submitted could not "
                                     "be validated.", [{"field": name, "message": "Maximum of "
                                                        f"{self.limits.max_segment_batch} "
                                                        "members"}])
        added: list[dict[str, Any]] = []
        removed: list[dict[str, Any]] = []
        strangers: list[str] = []
        for addresses, on, done in ((adding, True, added), (removing, False, removed)):
            for address in addresses:
                member = self.members.get(subscriber_hash(address))
                if member is None or member["status"] == "archived":
                    strangers.append(address)
                elif self._tag(member, segment["name"], on):
                    done.append(member)
        errors = [{"email_addresses": strangers,
                   "error": "Email addresses are not subscribed to the list"}] \
            if strangers and self.limits.segment_reports_strangers else []
        segment["updated_at"] = _iso(self.now())
        return {"members_added": added, "members_removed": removed, "errors": errors,
                "total_added": len(added), "total_removed": len(removed),
                "error_count": len(strangers) if errors else 0, "_links": []}

    async def _merge_fields(self, request: Request) -> Any:
        if request.method == "GET":
            return {"merge_fields": list(self.merge_fields.values()),
                    "list_id": self.limits.list_id, "total_items": len(self.merge_fields)}
        body = await request.json()
        tag = str(body.get("tag", "")).upper()
        if not tag or tag in self.merge_fields:
            raise MailchimpError(400, "Invalid Resource", f"A Merge Field with the tag \"{tag}\" "
                                 "already exists for this list." if tag else "The resource "
                                 "submitted could not be validated.")
        field = {"merge_id": len(self.merge_fields) + 1, "tag": tag,
                 "name": body.get("name", tag), "type": body.get("type", "text"),
                 "required": False, "list_id": self.limits.list_id}
        self.merge_fields[tag] = field
        for member in self.members.values():
            member["merge_fields"].setdefault(tag, "")
        return field

    async def _confirm_click(self, request: Request) -> Response:
        body = await request.json()
        try:
            return JSONResponse(self.confirm(str(body.get("email_address", ""))))
        except MailchimpError as exc:
            return exc.response()


def _int(value: str) -> int:
    """A numeric path segment; anything else matches nothing (-1)."""
    return int(value) if value.isdigit() else -1


def _flag(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1")


def _select(body: dict[str, Any], fields: str | None, exclude: str | None) -> dict[str, Any]:
    """`fields`/`exclude_fields`, comma lists with dot notation (members.email_address)."""
    if fields:
        picked: dict[str, Any] = _pick(body, [f.strip().split(".") for f in fields.split(",")
                                              if f.strip()])
        return picked
    if exclude:
        result = body
        for path in (f.strip().split(".") for f in exclude.split(",") if f.strip()):
            result = _drop(result, path)
        return result
    return body


def _pick(value: Any, paths: list[list[str]]) -> Any:
    if isinstance(value, list):
        return [_pick(v, paths) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for head in dict.fromkeys(p[0] for p in paths):
        if head not in value:
            continue
        rests = [p[1:] for p in paths if p[0] == head]
        out[head] = value[head] if any(not r for r in rests) else _pick(value[head], rests)
    return out


def _drop(value: Any, path: list[str]) -> Any:
    if isinstance(value, list):
        return [_drop(v, path) for v in value]
    if not isinstance(value, dict) or path[0] not in value:
        return value
    if len(path) == 1:
        return {k: v for k, v in value.items() if k != path[0]}
    return {**value, path[0]: _drop(value[path[0]], path[1:])}


def _text(response: Response) -> str:
    """A response's body as text, as a batch result holds it."""
    return bytes(response.body).decode()
