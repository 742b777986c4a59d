"""The connector at every served Shopify API version, and its documents against Shopify's schema.

Contract: every GraphQL document the connector sends, fixed or built per batch, is validated
against Shopify's own schema at each served version (the reference schema moved by the
documented changes), not against the simulator's cut of it; one invalid at a version fails here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from graphql import GraphQLSchema, parse, validate

from hub.connector import ConnectorContext, Finding, OutboundRecord
from hub.secrets import MemoryBackend, Secrets
from hub_sandbox.app import RunningSandbox, Sandbox
from hub_sandbox.shopify.reference import full_schema
from hub_sandbox.shopify.scopes import SCOPES
from hub_sandbox.shopify.versions import SERVED, released
from hub_shopify import ShopifyConnector, ShopifySettings
from hub_shopify.queries import bulk_status_query, documents

DECEMBER_2026 = datetime(2026, 12, 4, 12, tzinfo=UTC)


class Recording(httpx.BaseTransport):
    """The real loopback transport, keeping each GraphQL document it carries."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.documents: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/graphql.json"):
            self.documents.append(json.loads(request.content)["query"])
        return self.inner.handle_request(request)


def problems(schema: GraphQLSchema, document: str) -> list[str]:
    return [error.message for error in validate(schema, parse(document))]


def day_of(version: str) -> datetime:
    start = released(version)
    assert start is not None
    return start + timedelta(days=30)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with Sandbox(contacts=60, seed=5, rate_scale=1000).start() as running:
        yield running


def connector(sandbox: RunningSandbox, version: str, *, clock: datetime = DECEMBER_2026,
              **extra: Any) -> tuple[ShopifyConnector, Recording]:
    creds = sandbox.credentials()["shopify"]
    settings = ShopifySettings.model_validate({
        "plugin": "shopify", "shop": creds["shop"], "token": {"secret": "t"},
        "base_url": creds["base_url"], "api_version": version, "bulk_poll_s": 0.01, **extra})
    transport = Recording()
    context = ConnectorContext(name="shop", transport=transport, sleep=lambda _s: None,
                               clock=lambda: clock,
                               secrets=Secrets(MemoryBackend({"t": creds["token"]}), environ={}))
    return ShopifyConnector(settings, context), transport


@pytest.mark.parametrize("version", SERVED)
def test_every_fixed_document_is_valid_at_every_version(version: str) -> None:
    schema = full_schema(version)
    for name, document in documents(version).items():
        assert problems(schema, document) == [], (version, name)


def test_the_check_fails_a_document_a_version_lacks() -> None:
    newest = bulk_status_query(SERVED[-1])
    found = problems(full_schema("2025-10"), newest)
    assert len(found) == 1
    assert found[0].startswith("Cannot query field 'bulkOperation' on type 'QueryRoot'.")


@pytest.mark.parametrize("version", SERVED)
def test_a_full_read_and_a_write_work_at_every_version(sandbox: RunningSandbox,
                                                        version: str) -> None:
    """Count and bulk read (polled the way the version allows), then every mutation."""
    sandbox.sandbox.shopify.limits.calendar_at = day_of(version)
    # running at the first poll (which rides along with the count), done at the next one
    sandbox.sandbox.shopify.limits.bulk_polls_to_complete = 2
    sandbox.sandbox.reset()
    shop, transport = connector(sandbox, version, clock=day_of(version), bulk_threshold=1,
                                create_customers=True)
    try:
        assert [f for f in shop.check() if f.subject == "api version"] == []
        records = [r for page in shop.read("contacts", None) for r in page.records]
        customers = sandbox.sandbox.shopify.shop.customers
        assert {r.id for r in records} == {c.gid for c in customers.values()}
        targets = sorted(customers.values(), key=lambda c: c.id)[:3]
        results = shop.write([
            OutboundRecord("a", 1, {"first_name": "Versioned", "lead.tags": ["hub:lead"],
                                    "lead.stage": "lead"}, external_id=targets[0].gid,
                           consent="unsubscribed"),
            OutboundRecord("b", 2, {"last_name": "Versioned"}, external_id=targets[1].gid,
                           consent="subscribed"),
            OutboundRecord("c", 3, {"email": "gone@example.com"}, external_id=targets[2].gid,
                           operation="erase"),
            OutboundRecord("d", 4, {"email": f"new-{version}@example.org"})])
        assert [r.status for r in results] == ["updated", "updated", "updated", "created"]
        retagged = shop.write([OutboundRecord("a2", 1, {"lead.tags": ["hub:customer"]},
                                              external_id=targets[0].gid)])
        assert [r.status for r in retagged] == ["updated"]
        assert customers[targets[0].id].tags.count("hub:customer") == 1
        assert "hub:lead" not in customers[targets[0].id].tags
        # no hub tag left to add: the current tags are read first
        cleared = shop.write([OutboundRecord("a3", 1, {"lead.tags": []},
                                             external_id=targets[0].gid)])
        assert [r.status for r in cleared] == ["updated"]
        assert not [t for t in customers[targets[0].id].tags if t.startswith("hub:")]
    finally:
        shop.close()
        sandbox.sandbox.shopify.limits.bulk_polls_to_complete = 1
    sent = "\n".join(transport.documents)
    for field in ("customerUpdate", "customerCreate", "tagsAdd", "tagsRemove", "nodes(ids:",
                  "customerEmailMarketingConsentUpdate", "metafieldsSet",
                  "customerRequestDataErasure", "bulkOperationRunQuery", "customersCount"):
        assert field in sent
    polls = [d for d in transport.documents if "HubBulkStatus" in d]
    assert polls and all(("currentBulkOperation" in d) == (version < "2026-01") for d in polls)
    schema = full_schema(version)
    for document in transport.documents:
        assert problems(schema, document) == [], document


def test_check_names_each_missing_scope(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.shopify.limits.calendar_at = None
    sandbox.sandbox.shopify.limits.scopes = frozenset({"read_customers", "write_orders"})
    try:
        shop, _ = connector(sandbox, "2026-10")
        findings = list(shop.check())
    finally:
        sandbox.sandbox.shopify.limits.scopes = frozenset(SCOPES)
    problems_found = [f.message for f in findings if f.severity == "problem"]
    assert len(problems_found) == 2
    assert "write_customers" in problems_found[0]
    assert "write_customer_data_erasure" in problems_found[1]
    # write_orders grants read_orders; read_all_orders missing is only a warning
    assert [f.message.split(":")[1] for f in findings if f.severity == "warning"] == [
        " the token lacks read_all_orders"]


def test_check_warns_when_the_version_has_fallen_forward(sandbox: RunningSandbox) -> None:
    sandbox.sandbox.shopify.limits.calendar_at = DECEMBER_2026
    shop, _ = connector(sandbox, "2025-10")
    findings = list(shop.check())
    assert findings == [Finding(
        "warning", "api version", "connector 'shop': Shopify no longer supports API version "
        "2025-10 and answered with 2026-01 instead — set api_version = \"2026-10\" (or the "
        "newest your tests pass with)")]


@pytest.mark.parametrize(("today", "warned"), [
    (datetime(2026, 10, 20, tzinfo=UTC), False),
    (datetime(2026, 11, 2, 17, tzinfo=UTC), True),  # 2026-01 ends 2027-01-01: 60 days
    (datetime(2026, 12, 31, tzinfo=UTC), True)])
def test_check_warns_sixty_days_before_the_version_ends(sandbox: RunningSandbox,
                                                        today: datetime, warned: bool) -> None:
    sandbox.sandbox.shopify.limits.calendar_at = today
    shop, _ = connector(sandbox, "2026-01", clock=today)
    messages = [f.message for f in shop.check() if f.subject == "api version"]
    assert bool(messages) is warned
    if warned:
        assert "supports API version 2026-01 until 2027-01-01" in messages[0]


@pytest.mark.parametrize("plan", ["standard", "plus"])
def test_pacing_uses_the_restore_rate_shopify_reports(sandbox: RunningSandbox,
                                                      plan: str) -> None:
    limits = sandbox.sandbox.shopify.limits
    limits.plan, limits.calendar_at = plan, None
    sandbox.sandbox.reset()
    try:
        shop, _ = connector(sandbox, "2026-10")
        assert shop.budget.rate == 100.0  # the setting, until Shopify answers
        shop.check()
        assert shop.budget.rate == limits.rate * limits.rate_scale
        assert shop.budget.size == limits.bucket
    finally:
        limits.plan = "standard"
        sandbox.sandbox.reset()


def test_before_2026_01_a_job_no_longer_current_is_found_by_node(
        sandbox: RunningSandbox) -> None:
    """A resumed read whose job finished while another app's job became the current one."""
    from hub_shopify.bulk import BulkRead

    simulator = sandbox.sandbox.shopify
    simulator.limits.calendar_at = day_of("2025-10")
    sandbox.sandbox.reset()
    shop, transport = connector(sandbox, "2025-10")
    bulk = BulkRead(shop.api, lambda: shop.files, version="2025-10", poll_s=0.01,
                    timeout_s=60, clock=shop.context.clock, sleep=lambda _s: None,
                    count=lambda: None)
    ours = bulk.start()
    simulator.execute("{ currentBulkOperation { id } }", version="2025-10")  # it completes
    other = simulator.execute(
        'mutation { bulkOperationRunQuery(query: "{ customers { edges { node { id } } } }") '
        "{ bulkOperation { id } } }", version="2025-10")
    assert other["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"] != ours
    finished = bulk.wait(ours)
    shop.close()
    assert (finished["id"], finished["status"]) == (ours, "COMPLETED")
    assert any("HubBulkNode" in d for d in transport.documents)


def test_a_mutation_outside_the_scopes_rejects_only_its_record(sandbox: RunningSandbox) -> None:
    limits = sandbox.sandbox.shopify.limits
    limits.calendar_at = None
    limits.scopes = frozenset({"read_customers", "read_orders", "write_customers"})
    sandbox.sandbox.reset()
    customers = sorted(sandbox.sandbox.shopify.shop.customers.values(), key=lambda c: c.id)
    try:
        shop, _ = connector(sandbox, "2026-10")
        results = shop.write([
            OutboundRecord("erase", 1, {"email": "x@example.com"},
                           external_id=customers[0].gid, operation="erase"),
            OutboundRecord("fix", 2, {"first_name": "Scoped"}, external_id=customers[1].gid)])
        shop.close()
    finally:
        limits.scopes = frozenset(SCOPES)
    erase, fix = results
    assert erase.status == "rejected" and erase.reason is not None
    assert "`write_customer_data_erasure`" in erase.reason
    assert fix.status == "updated"
    assert customers[1].first_name == "Scoped" and customers[0].erasure_due_at is None
