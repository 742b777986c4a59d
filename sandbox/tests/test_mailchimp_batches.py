"""The Mailchimp simulator's batch operations: accepted shape, order, limits, results file."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from hub_sandbox.app import RunningSandbox, Sandbox
from hub_sandbox.mailchimp import MailchimpSimulator


@pytest.fixture
def running() -> Iterator[RunningSandbox]:
    with Sandbox(contacts=40, seed=5).start() as served:
        yield served


class Api:
    def __init__(self, running: RunningSandbox) -> None:
        creds = running.credentials()["mailchimp"]
        self.base, self.list_id = creds["base_url"], creds["list_id"]
        self.client = httpx.Client(auth=("hub", creds["api_key"]))
        self.sim: MailchimpSimulator = running.sandbox.mailchimp

    def start(self, operations: list[dict[str, Any]]) -> httpx.Response:
        return self.client.post(f"{self.base}/batches", json={"operations": operations})

    def status(self, batch_id: str) -> dict[str, Any]:
        response = self.client.get(f"{self.base}/batches/{batch_id}")
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body

    def patch(self, member_id: str, name: str, op: str) -> dict[str, Any]:
        return {"method": "PATCH", "path": f"/lists/{self.list_id}/members/{member_id}",
                "operation_id": op, "body": json.dumps({"merge_fields": {"FNAME": name}})}


def results(url: str) -> list[dict[str, Any]]:
    archive = httpx.get(url)  # a storage link: no key
    assert archive.status_code == 200
    found = []
    with tarfile.open(fileobj=io.BytesIO(archive.content), mode="r:gz") as tar:
        for member in tar.getmembers():
            handle = tar.extractfile(member)
            assert handle is not None and member.name.endswith(".json")
            found.extend(json.loads(handle.read()))
    return found


def test_a_batch_runs_its_operations_and_answers_each_in_the_results_file(
        running: RunningSandbox) -> None:
    api = Api(running)
    member = next(iter(api.sim.members.values()))
    started = api.start([api.patch(member["id"], "Zora", "a"),
                         api.patch("0" * 32, "Nobody", "b"),
                         {"method": "GET", "path": f"/lists/{api.list_id}/members",
                          "params": {"count": 2}, "operation_id": "c"}])
    assert started.status_code == 200
    body = started.json()
    assert (body["status"], body["total_operations"], body["response_body_url"]) == \
        ("pending", 3, "")
    assert member["merge_fields"]["FNAME"] != "Zora"  # nothing runs before its turn
    done = api.status(body["id"])
    assert (done["status"], done["finished_operations"], done["errored_operations"]) == \
        ("finished", 3, 1)
    answers = {r["operation_id"]: r for r in results(done["response_body_url"])}
    assert answers["a"]["status_code"] == 200
    assert json.loads(answers["a"]["response"])["merge_fields"]["FNAME"] == "Zora"
    assert answers["b"]["status_code"] == 404
    assert json.loads(answers["b"]["response"])["title"] == "Resource Not Found"
    assert len(json.loads(answers["c"]["response"])["members"]) == 2
    assert member["merge_fields"]["FNAME"] == "Zora"


def test_batches_run_one_at_a_time_in_the_order_they_came(running: RunningSandbox) -> None:
    api = Api(running)
    api.sim.batches.limits.polls_before_finished = 2
    member = next(iter(api.sim.members.values()))
    first = api.start([api.patch(member["id"], "Erste", "1")]).json()["id"]
    second = api.start([api.patch(member["id"], "Zweite", "2")]).json()["id"]
    assert api.status(second)["status"] == "pending"  # waits behind the first
    assert api.status(first)["status"] == "started"
    api.status(second)
    assert api.status(second)["status"] == "finished"
    # the first ran before the second, though the second was asked about first
    assert api.status(first)["status"] == "finished"
    assert member["merge_fields"]["FNAME"] == "Zweite"


def test_what_does_not_fit_the_format_is_refused_whole(running: RunningSandbox) -> None:
    api = Api(running)
    for operations, field in (
            ([{"method": "PUSH", "path": "/lists"}], "operations.item:0.method"),
            ([{"method": "GET"}], "operations.item:0.path"),
            ([{"method": "PATCH", "path": "/x", "body": {"a": 1}}], "operations.item:0.body")):
        refused = api.start(operations)
        assert refused.status_code == 400
        assert refused.json()["title"] == "Invalid Resource"
        assert refused.json()["errors"][0]["field"] == field
    assert api.client.post(f"{api.base}/batches", json={}).status_code == 400
    assert api.sim.batches.batches == {}


def test_operations_that_are_not_json_or_not_the_api_fail_alone(running: RunningSandbox) -> None:
    api = Api(running)
    member = next(iter(api.sim.members.values()))
    batch = api.start([{"method": "PATCH", "operation_id": "x", "body": "{oops",
                        "path": f"/lists/{api.list_id}/members/{member['id']}"},
                       {"method": "GET", "path": "/nowhere", "operation_id": "y"},
                       {"method": "DELETE", "path": "/ping", "operation_id": "z"},
                       api.patch(member["id"], "Ok", "ok")]).json()
    answers = {r["operation_id"]: r["status_code"]
               for r in results(api.status(batch["id"])["response_body_url"])}
    assert answers == {"x": 400, "y": 404, "z": 405, "ok": 200}


def test_more_than_500_pending_batches_answer_429(running: RunningSandbox) -> None:
    api = Api(running)
    api.sim.batches.limits.max_pending = 3
    for _ in range(3):
        assert api.start([]).status_code == 200
    refused = api.start([])
    assert refused.status_code == 429
    api.status(next(iter(api.sim.batches.batches)))  # one finishes: room again
    assert api.start([]).status_code == 200


def test_a_deleted_batch_never_runs(running: RunningSandbox) -> None:
    api = Api(running)
    api.sim.batches.limits.polls_before_finished = 5
    member = next(iter(api.sim.members.values()))
    before = member["merge_fields"]["FNAME"]
    batch = api.start([api.patch(member["id"], "Never", "n")]).json()["id"]
    assert api.client.delete(f"{api.base}/batches/{batch}").status_code == 204
    assert api.client.get(f"{api.base}/batches/{batch}").status_code == 404
    later = api.start([]).json()["id"]
    for _ in range(6):
        api.status(later)
    assert member["merge_fields"]["FNAME"] == before


def test_an_operation_limit_is_a_setting(running: RunningSandbox) -> None:
    api = Api(running)
    assert api.start([{"method": "GET", "path": "/ping"}] * 2000).status_code == 200
    api.sim.batches.limits.max_operations = 10
    refused = api.start([{"method": "GET", "path": "/ping"}] * 11)
    assert refused.status_code == 400 and refused.json()["errors"][0]["field"] == "operations"


def test_the_batch_endpoints_need_the_key_and_the_listing_pages(running: RunningSandbox) -> None:
    api = Api(running)
    assert httpx.post(f"{api.base}/batches", json={"operations": []}).status_code == 401
    for _ in range(3):
        api.start([])
    listed = api.client.get(f"{api.base}/batches", params={"count": 2}).json()
    assert listed["total_items"] == 3 and len(listed["batches"]) == 2
