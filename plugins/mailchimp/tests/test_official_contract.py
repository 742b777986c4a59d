"""Contract: every request the connector sends is one Mailchimp's official client can make.

The connector is driven through everything it does (check, read, write of each decision,
lead fields and tags, archive, erase) against the simulator, and every request it sends is
recorded. Each one must then:

- match an operation of the official `mailchimp-marketing` client (path template and HTTP
  method, read from the client's own operations);
- use only query parameters that operation accepts (the client refuses any other);
- come out byte for byte the same when the official client builds it from the same
  arguments (path, query, JSON body);
- carry a body of the documented shape: the client ships no body models, so the fields and
  values of each body are the Marketing API reference's (`BODIES` below) — a field or a
  status Mailchimp does not document fails here, not in a real account.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import mailchimp_marketing  # type: ignore[import-untyped]
import pytest

from hub.connector import ConnectorContext, OutboundRecord
from hub.secrets import MemoryBackend, Secrets
from hub_mailchimp import MailchimpConnector, MailchimpSettings
from hub_sandbox.app import RunningSandbox


@dataclass(frozen=True)
class Operation:
    api: str
    method: str
    http: str
    path: str
    accepts: frozenset[str]

    def matches(self, http: str, path: str) -> bool:
        pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", re.escape(self.path))
        return http == self.http and re.fullmatch(pattern, path) is not None


def _operations() -> list[Operation]:
    """Every operation of the official client: api, method, HTTP method, path, parameters."""
    client = mailchimp_marketing.Client()
    found = []
    for api_name, api in vars(client).items():
        if not type(api).__name__.endswith("Api"):
            continue
        for name, fn in inspect.getmembers(type(api), inspect.isfunction):
            if not name.endswith("_with_http_info"):
                continue
            source = inspect.getsource(fn)
            call = re.search(r"call_api\(\s*'([^']+)', '(\w+)'", source)
            params = re.search(r"all_params = \[([^\]]*)\]", source)
            assert call and params, name
            accepts = frozenset(re.findall(r"'(\w+)'", params.group(1)))
            found.append(Operation(api_name, name.removesuffix("_with_http_info"),
                                   call.group(2), call.group(1), accepts))
    return found


OPERATIONS = _operations()

# Body fields per operation, from the Marketing API reference ("Add or update list member",
# "Update list member", "Batch subscribe or unsubscribe", "Add or remove member tags", "Add
# merge field", "Add segment", "Batch add or remove members"); member status values exclude
# "archived", which only DELETE produces.
_MEMBER = {"email_address", "email_type", "status", "merge_fields", "interests", "language",
           "vip", "location", "marketing_permissions", "ip_signup", "timestamp_signup",
           "ip_opt", "timestamp_opt"}
STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}
BODIES: dict[str, set[str]] = {
    "set_list_member": _MEMBER | {"status_if_new", "skip_merge_validation"},
    "update_list_member": _MEMBER,
    "batch_list_members": {"members", "update_existing", "sync_tags"},
    "update_list_member_tags": {"tags", "is_syncing"},
    "create_segment": {"name", "static_segment", "options"},
    "batch_segment_members": {"members_to_add", "members_to_remove"},
    "add_list_merge_field": {"tag", "name", "type", "required", "default_value", "public",
                             "display_order", "options", "help_text"},
    # "Start batch operation": operations of method, path, params, body (a JSON string),
    # operation_id
    "start": {"operations"},
}
BATCH_OPERATION = {"method", "path", "params", "body", "operation_id"}
MERGE_TYPES = {"text", "number", "address", "phone", "date", "url", "imageurl", "radio",
               "dropdown", "birthday", "zip"}


def check_body(operation: str, body: Any) -> None:
    """The body has only documented fields, with documented values where they are enums."""
    allowed = BODIES.get(operation)
    if body is None:
        return
    assert allowed is not None, f"{operation} sends a body nobody checked: add it to BODIES"
    assert set(body) <= allowed, f"{operation}: undocumented fields {set(body) - allowed}"
    members = body.get("members", [body] if operation.endswith("_member") else [])
    for member in members:
        assert set(member) <= _MEMBER | {"status_if_new"}, set(member) - _MEMBER
        for key in ("status", "status_if_new"):
            assert member.get(key, "pending") in STATUSES, member.get(key)
        assert all(isinstance(v, str) for v in (member.get("merge_fields") or {}).values())
    for tag in body.get("tags", []):
        assert set(tag) == {"name", "status"} and tag["status"] in ("active", "inactive")
    for name in ("members_to_add", "members_to_remove", "static_segment"):
        # addresses, at most 500 per list (the segment batch's documented limit)
        assert len(body.get(name, [])) <= 500
        assert all(isinstance(a, str) and "@" in a for a in body.get(name, []))
    if operation == "add_list_merge_field":
        assert body["type"] in MERGE_TYPES and body["tag"] == body["tag"].upper()
    for inner in body.get("operations", []) if operation == "start" else ():
        # each operation of a batch is itself a call of the official client, checked alike
        assert set(inner) <= BATCH_OPERATION and {"method", "path"} <= set(inner), set(inner)
        assert isinstance(inner.get("body", ""), str)
        assert inner["path"].startswith("/")
        found = [op for op in OPERATIONS if op.matches(inner["method"], inner["path"])]
        assert found, f"{inner['method']} {inner['path']}: no operation of the official client"
        named = max(found, key=lambda op: op.path.count("/"))
        assert set(inner.get("params") or {}) <= named.accepts
        check_body(named.method, json.loads(inner["body"]) if inner.get("body") else None)


@dataclass
class Sent:
    http: str
    path: str
    query: list[tuple[str, str]]
    body: Any
    authorised: bool = False


class Recorder(httpx.HTTPTransport):
    """The connector's transport: sends as usual and keeps what was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Sent] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        content = request.read()
        self.sent.append(Sent(request.method, request.url.path,
                              parse_qsl(request.url.query.decode(), keep_blank_values=True),
                              json.loads(content) if content else None,
                              "authorization" in request.headers))
        return super().handle_request(request)


@pytest.fixture
def recorded(sandbox: RunningSandbox) -> Iterator[tuple[MailchimpConnector, Recorder]]:
    creds = sandbox.credentials()["mailchimp"]
    recorder = Recorder()
    settings = MailchimpSettings.model_validate({
        "plugin": "mailchimp", "api_key": {"secret": "mc-key"}, "list_id": creds["list_id"],
        "base_url": creds["base_url"]})
    context = ConnectorContext(name="newsletter", secrets=Secrets(
        MemoryBackend({"mc-key": creds["api_key"]}), environ={}), transport=recorder,
        sleep=lambda _s: None)
    connector = MailchimpConnector(settings, context)
    yield connector, recorder
    connector.close()


def _drive(connector: MailchimpConnector, sandbox: RunningSandbox) -> None:
    """Everything the connector does, once."""
    assert list(connector.check()) == []
    pages = list(connector.read("contacts", None))
    cursor = pages[-1].cursor
    list(connector.read("contacts", cursor))
    sim = sandbox.sandbox.mailchimp
    listed = next(m for m in sim.members.values() if m["status"] == "subscribed")
    gone = next(m for m in sim.members.values() if m["status"] == "pending")
    written = connector.write([
        OutboundRecord("p", 1, {"email": "vertrag.neu@sonnenpost.de", "first_name": "Vera",
                                "phone": "+49301234567"}, consent="pending"),
        OutboundRecord("s", 2, {"email": "bewiesen@sonnenpost.de", "last_name": "Beweis",
                                "lead.stage": "mql", "lead.score": 61,
                                "lead.tags": ["hub:mql"]}, consent="subscribed"),
        OutboundRecord("u", 3, {"email": listed["email_address"]}, external_id=listed["id"],
                       consent="unsubscribed"),
        OutboundRecord("m", 4, {"email": gone["email_address"], "first_name": "Neu"},
                       external_id=gone["id"]),
        OutboundRecord("x", 5, {"email": "nicht.gefragt@sonnenpost.de"}),
    ])
    assert [r.status for r in written] == ["created", "created", "updated", "updated",
                                           "rejected"]
    connector.write([OutboundRecord("a", 2, {"email": "bewiesen@sonnenpost.de"},
                                    external_id=written[1].external_id, operation="delete"),
                     OutboundRecord("e", 1, {"email": "vertrag.neu@sonnenpost.de"},
                                    external_id=written[0].external_id, operation="erase")])


def _client_request(operation: Operation, sent: Sent, base_path: str) -> Sent:
    """The request the official client builds for `operation` from the same arguments."""
    client = mailchimp_marketing.Client()
    client.set_config({"api_key": "key-us1", "server": "us1"})
    client.api_client.host = "http://client" + base_path
    made: list[Sent] = []

    def capture(method: str, url: str, query_params: Any = None, headers: Any = None,
                body: Any = None) -> Any:
        made.append(Sent(method, urlsplit(url).path,
                         [(k, str(v)) for k, v in query_params or []], body))
        raise RuntimeError("captured")

    client.api_client.request = capture
    names = re.findall(r"\{(\w+)\}", operation.path)
    values = re.fullmatch(re.sub(r"\\\{[a-z_]+\\\}", "([^/]+)", re.escape(operation.path)),
                          sent.path.removeprefix(base_path))
    assert values is not None
    args = dict(zip(names, values.groups(), strict=True))
    fn = getattr(getattr(client, operation.api), operation.method)
    positional = [p for p in inspect.signature(fn).parameters if p not in ("self", "kwargs")]
    query: dict[str, Any] = {}
    for key, value in sent.query:
        assert key in operation.accepts, f"{operation.method} does not accept ?{key}"
        query[key] = value.split(",") if key in ("fields", "exclude_fields") \
            else int(value) if key in ("count", "offset") else value
    with pytest.raises(mailchimp_marketing.api_client.ApiClientError):
        fn(*[args[p] if p != "body" else sent.body for p in positional], **query)
    return made[0]


def test_every_request_the_connector_sends_is_the_official_clients(
        sandbox: RunningSandbox, recorded: tuple[MailchimpConnector, Recorder]) -> None:
    connector, recorder = recorded
    _drive(connector, sandbox)
    base_path = urlsplit(sandbox.credentials()["mailchimp"]["base_url"]).path
    used: set[str] = set()
    files = [sent for sent in recorder.sent if not sent.path.startswith(base_path)]
    # batch results come from a storage link, never with the API key
    assert files and all(f.http == "GET" and not f.authorised for f in files)
    for sent in recorder.sent:
        if sent in files:
            continue
        assert sent.authorised
        path = sent.path.removeprefix(base_path)
        matching = [op for op in OPERATIONS if op.matches(sent.http, path)]
        assert matching, f"{sent.http} {path}: no operation of the official client"
        # the most specific template wins (/lists/{id}/members before /lists/{id})
        operation = max(matching, key=lambda op: op.path.count("/"))
        used.add(f"{operation.api}.{operation.method}")
        used.update(f"{op.api}.{op.method}" for op in _inner(sent.body))
        check_body(operation.method, sent.body)
        made = _client_request(operation, sent, base_path)
        assert (made.http, made.path) == (sent.http, sent.path)
        assert sorted(made.query) == sorted(sent.query), operation.method
        assert made.body == sent.body, operation.method
    # the drive reached every kind of request the connector makes
    assert used == {"ping.get", "batches.start", "batches.status"} | {f"lists.{m}" for m in (
        "get_list", "get_list_members_info", "batch_list_members", "update_list_member",
        "get_list_merge_fields", "add_list_merge_field", "list_segments", "create_segment",
        "batch_segment_members", "delete_list_member", "delete_list_member_permanent")}


def _inner(body: Any) -> list[Operation]:
    """The official client's operations a batch request carries."""
    found = []
    for inner in (body or {}).get("operations", []) if isinstance(body, dict) else ():
        ops = [op for op in OPERATIONS if op.matches(inner["method"], inner["path"])]
        found.append(max(ops, key=lambda op: op.path.count("/")))
    return found


def test_the_body_check_refuses_what_mailchimp_does_not_document() -> None:
    with pytest.raises(AssertionError):
        check_body("batch_list_members", {"members": [{"email_address": "a@b.de",
                                                       "status": "archived"}]})
    with pytest.raises(AssertionError):
        check_body("update_list_member", {"merge_fields": {}, "consent": "subscribed"})
    with pytest.raises(AssertionError):
        check_body("update_list_member_tags", {"tags": [{"name": "x", "status": "on"}]})
    with pytest.raises(AssertionError):
        check_body("batch_segment_members", {"members_to_add": [f"a{i}@b.de"
                                                                for i in range(501)]})
    with pytest.raises(AssertionError):  # a body that is no JSON string
        check_body("start", {"operations": [{"method": "PATCH", "path": "/lists/a/members/b",
                                             "body": {"merge_fields": {}}}]})
    with pytest.raises(AssertionError):  # an undocumented field inside an operation's body
        check_body("start", {"operations": [{"method": "PATCH", "path": "/lists/a/members/b",
                                             "body": '{"consent": "subscribed"}'}]})
