"""How a batch answer becomes one result per record (HubSpot's answers given verbatim).

End-to-end writes run against the simulator in test_sandbox.py; here a mock transport plays
answers that are hard to provoke there: a 207 multi-status, errors that name nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from hub.connector import ConnectorContext, OutboundRecord
from hub.secrets import Secrets
from hub_hubspot import HubSpotConnector, HubSpotSettings


class Backend:
    def get(self, name: str) -> str | None:
        return "pat-na1-test-token"

    def set(self, name: str, value: str) -> None:
        raise NotImplementedError

    def delete(self, name: str) -> bool:
        return False


def connector(handler: Callable[[httpx.Request], httpx.Response]) -> HubSpotConnector:
    settings = HubSpotSettings.model_validate(
        {"plugin": "hubspot", "token": {"secret": "hubspot-token"}})
    context = ConnectorContext(name="crm", secrets=Secrets(Backend(), environ={}),
                               transport=httpx.MockTransport(handler), sleep=lambda _s: None)
    return HubSpotConnector(settings, context)


def record(n: int, email: str | None = None, **fields: Any) -> OutboundRecord:
    return OutboundRecord(key=f"k{n}", contact_id=n,
                          fields={"email": email or f"p{n}@example.com", **fields})


def upserted(inputs: list[dict[str, Any]], *, start: int = 1) -> list[dict[str, Any]]:
    return [{"id": str(start + n), "new": n % 2 == 0,
             "properties": {"email": i["id"].lower()}} for n, i in enumerate(inputs)]


def test_a_207_answers_per_input() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["inputs"]
        good = [i for i in inputs if i["id"] != "p2@example.com"]
        return httpx.Response(207, json={
            "status": "COMPLETE", "results": upserted(good), "numErrors": 1,
            "errors": [{"status": "error", "category": "VALIDATION_ERROR",
                        "message": "Property values were not valid",
                        "context": {"ids": ["p2@example.com"]}}]})

    results = connector(handler).write([record(1), record(2), record(3)])
    assert [(r.key, r.status) for r in results] == [
        ("k1", "created"), ("k2", "rejected"), ("k3", "updated")]
    assert results[1].reason and "VALIDATION_ERROR" in results[1].reason


def test_an_error_that_names_nothing_is_narrowed_down_by_halving() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["inputs"]
        calls.append(len(inputs))
        if any(i["properties"].get("phone") == "broken" for i in inputs):
            return httpx.Response(400, json={"status": "error", "category": "VALIDATION_ERROR",
                                             "message": "Something was not valid"})
        return httpx.Response(200, json={"status": "COMPLETE", "results": upserted(inputs)})

    records = [record(n, phone="broken" if n == 5 else "+49301234") for n in range(8)]
    results = {r.key: r for r in connector(handler).write(records)}
    assert results["k5"].status == "rejected"
    assert "Something was not valid" in (results["k5"].reason or "")
    assert all(r.status in ("created", "updated") for k, r in results.items() if k != "k5")
    assert calls[0] == 8 and len(calls) <= 1 + 2 * 3


def test_suspects_named_by_the_message_are_retried_apart() -> None:
    calls: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["inputs"]
        calls.append([i["id"] for i in inputs])
        bad = [i for i in inputs if i["properties"].get("hs_lead_status") == "WRONG"]
        if bad:
            problems = [{"isValid": False, "message": "WRONG was not one of the allowed options",
                         "error": "INVALID_OPTION", "name": "hs_lead_status"}]
            return httpx.Response(400, json={
                "status": "error", "category": "VALIDATION_ERROR",
                "message": f"Property values were not valid: {json.dumps(problems)}"})
        return httpx.Response(200, json={"status": "COMPLETE", "results": upserted(inputs)})

    records = [record(n, hs_lead_status="WRONG" if n in (2, 4) else "OPEN") for n in range(6)]
    results = {r.key: r for r in connector(handler).write(records)}
    assert {k for k, r in results.items() if r.status == "rejected"} == {"k2", "k4"}
    assert "INVALID_OPTION" in (results["k2"].reason or "")
    # the batch, the four good ones once, then the two suspects apart
    assert [len(c) for c in calls][:2] == [6, 4]


def test_without_email_updates_by_id_and_without_both_rejects() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        inputs = json.loads(request.content)["inputs"]
        return httpx.Response(200, json={"status": "COMPLETE", "results": [
            {"id": i["id"], "properties": i["properties"]} for i in inputs]})

    results = connector(handler).write([
        OutboundRecord(key="a", contact_id=1, fields={"first_name": "Ada"}, external_id="42"),
        OutboundRecord(key="b", contact_id=2, fields={"first_name": "Bob"})])
    assert seen == ["/crm/v3/objects/contacts/batch/update"]
    assert (results[0].status, results[0].external_id) == ("updated", "42")
    assert results[1].status == "rejected" and "neither an e-mail nor a HubSpot id" in (
        results[1].reason or "")


def test_one_email_twice_goes_in_two_batches() -> None:
    sizes: list[list[str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["inputs"]
        ids = [i["id"].lower() for i in inputs]
        sizes.append(ids)
        assert len(ids) == len(set(ids))
        return httpx.Response(200, json={"status": "COMPLETE", "results": upserted(inputs)})

    results = connector(handler).write([record(1, "a@x.com"), record(2, "A@x.com"),
                                        record(3, "b@x.com")])
    assert [len(s) for s in sizes] == [2, 1]
    assert [r.key for r in results] == ["k1", "k2", "k3"]
