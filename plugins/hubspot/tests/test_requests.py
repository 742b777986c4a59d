"""Every request the connector sends, checked against HubSpot's published contract.

The connector runs check, full and incremental reads and every kind of write against the
simulator, through a transport that records each request. Each request must match an endpoint
in `CONTRACT`: CRM and v3 bodies are validated through the official ``hubspot-api-client``
models (unknown keys refused, enums and required fields checked by the models themselves);
the v4 subscription endpoints, which that client does not cover, against the facts of
HubSpot's v4 reference (input shapes, ``channel=EMAIL``, integer ``subscriptionId``, the
state and legal-basis enums). A request matching nothing fails: an endpoint hub starts to use
must be added here with its source.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hubspot.communication_preferences import (  # type: ignore[import-untyped]
    models as prefs_models,
)
from hubspot.crm.contacts import models as contact_models  # type: ignore[import-untyped]

from hub.connector import ConnectorContext, OutboundRecord
from hub.secrets import MemoryBackend, Secrets
from hub_hubspot import HubSpotConnector, HubSpotSettings
from hub_sandbox.app import Sandbox

LEGAL_BASES = {"LEGITIMATE_INTEREST_PQL", "LEGITIMATE_INTEREST_CLIENT",
               "PERFORMANCE_OF_CONTRACT", "CONSENT_WITH_NOTICE", "NON_GDPR",
               "PROCESS_AND_STORE", "LEGITIMATE_INTEREST_OTHER"}


def sdk(module: Any, name: str, limit: int | None = None) -> Callable[[httpx.Request], None]:
    """A check that the JSON body is a valid `name` of the official client, nothing more."""
    def check(request: httpx.Request) -> None:
        body = json.loads(request.content)
        conform(module, name, body)
        if limit is not None:
            assert len(body["inputs"]) <= limit
    return check


def conform(module: Any, name: str, data: Any) -> Any:
    """Build the SDK model from JSON, refusing keys it does not know (recursively)."""
    if name.startswith("list["):
        return [conform(module, name[5:-1], item) for item in data]
    if name in ("str", "int", "bool", "object", "float", "datetime") or name.startswith("dict"):
        return data
    cls = getattr(module, name)
    by_json = {v: k for k, v in cls.attribute_map.items()}
    unknown = set(data) - set(by_json)
    assert not unknown, f"{name} has no {sorted(unknown)}"
    return cls(**{by_json[k]: conform(module, cls.openapi_types[by_json[k]], v)
                  for k, v in data.items()})


def emails_input(request: httpx.Request) -> None:
    """v4 batch read, unsubscribe-all and its read: ``{"inputs": [email]}``, channel=EMAIL."""
    assert request.url.params.get("channel") == "EMAIL"
    body = json.loads(request.content)
    assert set(body) == {"inputs"} and 0 < len(body["inputs"]) <= 100
    assert all(isinstance(e, str) and "@" in e for e in body["inputs"])


def status_writes(request: httpx.Request) -> None:
    """v4 batch write: the BatchInputPublicStatusRequest of HubSpot's v4 reference."""
    body = json.loads(request.content)
    assert set(body) == {"inputs"} and 0 < len(body["inputs"]) <= 100
    for item in body["inputs"]:
        assert {"subscriberIdString", "subscriptionId", "channel", "statusState"} <= set(item)
        assert set(item) <= {"subscriberIdString", "subscriptionId", "channel", "statusState",
                             "legalBasis", "legalBasisExplanation"}
        assert isinstance(item["subscriptionId"], int) and item["channel"] == "EMAIL"
        assert item["statusState"] in ("SUBSCRIBED", "UNSUBSCRIBED", "NOT_SPECIFIED")
        assert item.get("legalBasis", "CONSENT_WITH_NOTICE") in LEGAL_BASES
        if item["statusState"] == "SUBSCRIBED":  # a resubscription needs its basis
            assert item.get("legalBasis") and item.get("legalBasisExplanation")


def list_params(request: httpx.Request) -> None:
    params = request.url.params
    assert int(params["limit"]) <= 100 and params.get("archived", "false") in ("true", "false")
    assert set(params) <= {"limit", "after", "properties", "archived"}


def no_body(request: httpx.Request) -> None:
    assert not request.content


def token_info(request: httpx.Request) -> None:
    assert set(json.loads(request.content)) == {"tokenKey"}


C = "/crm/v3/objects/contacts"
P3 = "/communication-preferences/v3"
P4 = "/communication-preferences/v4/statuses"
#: (method, path pattern) → check; sources: hubspot-api-client 12 (crm.contacts,
#: communication_preferences) and HubSpot's v4 reference pages.
CONTRACT: dict[tuple[str, str], Callable[[httpx.Request], None]] = {
    ("GET", f"{C}"): list_params,
    ("POST", f"{C}/search"): sdk(contact_models, "PublicObjectSearchRequest"),
    ("POST", f"{C}/batch/upsert"): sdk(contact_models,
                                        "BatchInputSimplePublicObjectBatchInputUpsert", 100),
    ("POST", f"{C}/batch/update"): sdk(contact_models, "BatchInputSimplePublicObjectBatchInput",
                                        100),
    ("POST", f"{C}/batch/archive"): sdk(contact_models, "BatchInputSimplePublicObjectId", 100),
    ("POST", f"{C}/batch/read"): sdk(contact_models, "BatchReadInputSimplePublicObjectId", 100),
    ("POST", f"{C}/gdpr-delete"): sdk(contact_models, "PublicGdprDeleteInput"),
    ("GET", "/crm/v3/properties/contacts/lifecyclestage"): no_body,
    ("POST", "/oauth/v2/private-apps/get/access-token-info"): token_info,
    ("GET", f"{P3}/definitions"): no_body,
    ("GET", f"{P3}/status/email/[^/]+"): no_body,
    ("POST", f"{P3}/(un)?subscribe"): sdk(prefs_models, "PublicUpdateSubscriptionStatusRequest"),
    ("POST", f"{P4}/batch/read"): emails_input,
    ("POST", f"{P4}/batch/unsubscribe-all"): emails_input,
    ("POST", f"{P4}/batch/unsubscribe-all/read"): emails_input,
    ("POST", f"{P4}/batch/write"): status_writes,
}


class Recording(httpx.BaseTransport):
    """Passes requests on and keeps them."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.inner.handle_request(request)


def verify(requests: list[httpx.Request]) -> set[str]:
    """Check every request; return the endpoints seen."""
    seen = set()
    for request in requests:
        matches = [(key, check) for key, check in CONTRACT.items()
                   if key[0] == request.method and re.fullmatch(key[1], request.url.path)]
        assert matches, f"{request.method} {request.url.path} is in no contract"
        (key, check), = matches
        check(request)
        seen.add(f"{key[0]} {key[1]}")
    return seen


@pytest.fixture
def served() -> Iterator[Any]:
    with Sandbox(contacts=150, seed=8, rate_limit=False).start() as running:
        yield running


def run_everything(running: Any, api: str) -> set[str]:
    creds = running.credentials()["hubspot"]
    recording = Recording()
    settings = HubSpotSettings.model_validate({
        "plugin": "hubspot", "token": {"secret": "t"}, "base_url": creds["base_url"],
        "subscriptions_api": api})
    connector = HubSpotConnector(settings, ConnectorContext(
        name="crm", secrets=Secrets(MemoryBackend({"t": creds["token"]}), environ={}),
        transport=recording))
    assert connector.check() == []
    pages = list(connector.read("contacts", None))
    list(connector.read("contacts", pages[-1].cursor))
    records = [r for p in pages for r in p.records if r.fields.get("email")][:6]
    writes = [
        OutboundRecord("a", 1, {"email": records[0].fields["email"], "lead.stage": "mql"},
                       external_id=records[0].id, consent="unsubscribed"),
        OutboundRecord("b", 2, {"email": records[1].fields["email"]},
                       external_id=records[1].id, consent="subscribed"),
        OutboundRecord("c", 3, {"first_name": "Ohne"}, external_id=records[2].id),
        OutboundRecord("d", 4, {"email": records[3].fields["email"]}, operation="delete"),
        OutboundRecord("e", 5, {"email": records[4].fields["email"]}, operation="erase"),
    ]
    answers = {r.key: r.status for r in connector.write(writes)}
    assert "rejected" not in answers.values() or api == "v3", answers
    if api != "v3":
        connector.unsubscribe_all([records[5].fields["email"]])
    connector.close()
    return verify(recording.requests)


def test_every_v4_request_matches_hubspots_contract(served: Any) -> None:
    seen = run_everything(served, "auto")
    assert {f"POST {P4}/batch/read", f"POST {P4}/batch/write",
            f"POST {P4}/batch/unsubscribe-all/read", f"POST {P4}/batch/unsubscribe-all",
            f"POST {C}/search", f"POST {C}/batch/upsert"} <= seen


def test_every_v3_request_matches_hubspots_contract(served: Any) -> None:
    seen = run_everything(served, "v3")
    assert {f"GET {P3}/status/email/[^/]+", f"POST {P3}/(un)?subscribe"} <= seen
    assert not any("/v4/" in s for s in seen)
