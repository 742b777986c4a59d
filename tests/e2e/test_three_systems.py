"""The real CLI against all three simulated systems at once: HubSpot, Shopify, Mailchimp.

A full sync, then the read-back of what hub wrote, then a quiet run; a change made in Shopify
through its API reaches HubSpot, and one made in HubSpot reaches Shopify, each after one
`hub sync`; the shop gets no new customers; and a run under injected 429 storms, THROTTLED
answers, 5xx and timeouts leaves all three systems in the same state as a clean run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from benchmarks.faults import systems_state as state
from hub_sandbox.app import RunningSandbox, Sandbox
from tests.e2e.conftest import run_hub, sandbox_config

pytestmark = pytest.mark.e2e


def _start() -> Any:
    return Sandbox(contacts=700, seed=5, rate_scale=100).start()


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with _start() as running:
        yield running


def setup(folder: Path, running: RunningSandbox) -> dict[str, str]:
    return sandbox_config(
        folder, running,
        crm="rate_per_10s = 250          # the highest tier; the sandbox allows it",
        shop="bulk_threshold = 100        # read the shop the way a large one is read",
        extra='[consent]\nnewsletter = "newsletter"')


def sync(folder: Path, env: dict[str, str]) -> dict[str, Any]:
    result = run_hub("sync", "--json", cwd=folder, env=env)
    assert result.code in (0, 1), result.stdout + result.stderr
    summary: dict[str, Any] = result.json()
    # record-level refusals are allowed only for what HubSpot cannot take: no e-mail address
    refused = [d for d in summary["rejected"] if "e-mail" not in str(d)]
    assert summary["errors"] == [] and not refused, summary
    return summary


def shopify(running: RunningSandbox, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    creds = running.credentials()["shopify"]
    response = httpx.post(
        f"{creds['base_url']}/admin/api/{creds['api_version']}/graphql.json",
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": creds["token"]})
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    return body["data"]


def test_three_systems_converge_and_changes_travel(tmp_path: Path,
                                                   sandbox: RunningSandbox) -> None:
    env = setup(tmp_path, sandbox)
    shop = sandbox.sandbox.shopify.shop
    customers = len(shop.customers)
    first = sync(tmp_path, env)
    assert first["connectors"]["shop"]["read"] == customers
    assert first["connectors"]["shop"]["created"] == 0  # the shop's customer list is the shop's
    assert first["connectors"]["shop"]["api_calls"] <= 12  # bulk read: count, run, poll, file
    assert first["connectors"]["crm"]["created"] > 0
    second = sync(tmp_path, env)  # reads back what hub wrote
    assert second["contacts"]["created"] == 0
    third = sync(tmp_path, env)
    assert all(c["created"] == 0 and c["updated"] == 0 for c in third["connectors"].values()), \
        third["connectors"]
    assert third["contacts"]["updated"] == 0
    # the read re-reads the last minute's changes (hub's own writes among them)
    assert third["connectors"]["shop"]["api_calls"] <= 3
    assert len(shop.customers) == customers

    # a change in Shopify reaches HubSpot
    hubspot = sandbox.sandbox.hubspot
    linked = [c for c in shop.customers.values()
              if c.email and c.email.lower() in hubspot.by_email]
    customer = linked[0]
    shopify(sandbox, "mutation($i: CustomerInput!) { customerUpdate(input: $i) "
                     "{ userErrors { message } } }",
            {"i": {"id": customer.gid, "lastName": "Ladenfrisch"}})
    fourth = sync(tmp_path, env)
    assert fourth["connectors"]["crm"]["updated"] >= 1
    contact = hubspot.contacts[hubspot.by_email[customer.email.lower()]]
    assert contact["properties"]["lastname"] == "Ladenfrisch"

    # a change in HubSpot reaches Shopify
    other = linked[1]
    cid = hubspot.by_email[other.email.lower()]
    httpx.patch(f"{sandbox.base_url}/crm/v3/objects/contacts/{cid}",
                json={"properties": {"firstname": "Vertrieb"}},
                headers={"Authorization": f"Bearer {env['HUB_SECRET_HUBSPOT_TOKEN']}"}
                ).raise_for_status()
    fifth = sync(tmp_path, env)
    assert fifth["connectors"]["shop"]["updated"] >= 1
    assert other.first_name == "Vertrieb"
    # and the next run is quiet again: nothing echoes back
    sixth = sync(tmp_path, env)
    assert all(c["created"] == 0 and c["updated"] == 0 for c in sixth["connectors"].values())


def test_faults_in_all_three_systems_end_in_the_same_state(tmp_path: Path) -> None:
    with _start() as clean:
        env = setup(tmp_path / "clean", clean)
        sync(tmp_path / "clean", env)
        sync(tmp_path / "clean", env)
        expected = state(clean)
    with _start() as faulty:
        env = setup(tmp_path / "faulty", faulty)
        # HubSpot's 429 means "wait for the 10 s window": one is enough to prove it is honoured
        faulty.sandbox.controls.set_faults("hubspot.429storm:1,shopify.429storm:4,"
                                           "mailchimp.429storm:4,500:0.1,502:0.05,reset:0.02")
        try:
            sync(tmp_path / "faulty", env)
            sync(tmp_path / "faulty", env)
        finally:
            faulty.sandbox.controls.set_faults("")
        injected = faulty.sandbox.controls.injected
        assert {"hubspot.429", "shopify.429", "mailchimp.429"} <= set(injected), injected
        assert state(faulty) == expected
