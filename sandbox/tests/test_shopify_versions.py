"""The Shopify simulator per API version: schemas, fall-forward, scopes, plans, bulk limits.

Each served version's schema is Shopify's reference schema moved by the documented changes
(`versions.CHANGES`); these tests hold the simulator to that and to the calendar.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import GraphQLEnumType
from hypothesis import given
from hypothesis import strategies as st
from starlette.applications import Starlette

from hub.ops.serving import serve_in_thread
from hub_sandbox.app import Sandbox
from hub_sandbox.shopify.reference import full_schema, surface_gaps
from hub_sandbox.shopify.schema import surface
from hub_sandbox.shopify.simulator import ShopifyLimits, ShopifySimulator, schema_at
from hub_sandbox.shopify.versions import CHANGES, SERVED, answering, released, supported
from tests.test_shopify import TOKEN, FakeTime, people

DECEMBER_2026 = datetime(2026, 12, 4, 12, tzinfo=UTC)
BULK_RUN = """mutation($q: String!) { bulkOperationRunQuery(query: $q) {
  bulkOperation { id } userErrors { code message } } }"""
INNER = "{ customers { edges { node { id orders { edges { node { id } } } } } } }"


def simulator(version_day: datetime = DECEMBER_2026, **limits: Any) -> ShopifySimulator:
    fake = FakeTime()
    fake.wall = version_day
    return ShopifySimulator(people(), limits=ShopifyLimits(calendar_at=version_day, **limits),
                            clock=fake.clock, now=fake.now)


def day_of(version: str) -> datetime:
    """A day on which `version` answers as itself."""
    start = released(version)
    assert start is not None
    return start + timedelta(days=30)


def test_the_surface_names_only_what_shopify_has() -> None:
    assert list(surface_gaps(SERVED[-1], surface())) == []
    # what older versions lack is exactly what the documented changes added later
    gaps = set(surface_gaps(SERVED[0], surface()))
    assert gaps == {"QueryRoot.customersCount(limit:)", "QueryRoot.bulkOperation",
                    "Mutation.bulkOperationRunQuery(groupObjects:)"}
    assert all(change.source.startswith("https://shopify.dev/changelog/")
               for change in CHANGES)


@pytest.mark.parametrize("version", [SERVED[0], SERVED[-1]])
def test_the_served_schema_agrees_with_shopifys_schema(version: str) -> None:
    """Every served type, field, argument, default and enum value is Shopify's own."""
    served, full = schema_at(version), full_schema(version)
    compared = 0
    for name, served_type in served.type_map.items():
        if name.startswith("__") or name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        real = full.type_map[name]
        assert type(real) is type(served_type), name
        if isinstance(served_type, GraphQLEnumType):
            assert set(served_type.values) == set(real.values), name  # type: ignore[attr-defined]
        for field_name, field in getattr(served_type, "fields", {}).items():
            real_field = real.fields[field_name]  # type: ignore[attr-defined]
            assert str(field.type) == str(real_field.type), f"{name}.{field_name}"
            for arg_name, arg in getattr(field, "args", {}).items():
                real_arg = real_field.args[arg_name]
                assert (str(arg.type), arg.ast_node and arg.ast_node.default_value) == \
                    (str(real_arg.type), real_arg.ast_node and real_arg.ast_node.default_value)
            compared += 1
    assert compared > 200


@pytest.mark.parametrize("version", SERVED)
def test_each_version_refuses_what_it_lacks(version: str) -> None:
    shop = simulator(day_of(version))
    polled = shop.execute('{ bulkOperation(id: "gid://shopify/BulkOperation/1") { id } }',
                          version=version)
    counted = shop.execute("{ customersCount(limit: null) { count } }", version=version)
    if version >= "2026-01":
        assert polled == {"data": {"bulkOperation": None}, "extensions": polled["extensions"]}
    else:
        assert polled == {"errors": [{
            "message": "Field 'bulkOperation' doesn't exist on type 'QueryRoot'",
            "locations": [{"line": 1, "column": 3}], "path": ["query", "bulkOperation"],
            "extensions": {"code": "undefinedField", "typeName": "QueryRoot",
                           "fieldName": "bulkOperation"}}]}
    if version >= "2025-07":
        assert counted["data"] == {"customersCount": {"count": 10}}
    else:
        assert counted["errors"][0]["message"] == \
            "Field 'customersCount' doesn't accept argument 'limit'"
        assert counted["errors"][0]["extensions"]["code"] == "argumentNotAccepted"
    # the e-mail address object exists in every served version (2025-04 on)
    email = shop.execute("{ customers(first: 1) { nodes { defaultEmailAddress { "
                         "marketingOptInLevel marketingUpdatedAt } } } }", version=version)
    assert "errors" not in email


def test_an_unsupported_version_falls_forward_with_the_header() -> None:
    shop = simulator()
    with serve_in_thread(Starlette(routes=shop.routes())) as served:
        def ask(version: str, query: str) -> httpx.Response:
            return httpx.post(f"{served.base_url}/admin/api/{version}/graphql.json",
                              json={"query": query}, headers={"X-Shopify-Access-Token": TOKEN})
        fallen = ask("2025-10", '{ bulkOperation(id: "gid://shopify/BulkOperation/1") { id } }')
        assert fallen.headers["X-Shopify-API-Version"] == "2026-01"
        assert fallen.json()["data"] == {"bulkOperation": None}  # 2026-01 has it
        assert ask("2023-04", "{ shop { name } }").headers["X-Shopify-API-Version"] == "2026-01"
        assert ask("2026-10", "{ shop { name } }").headers["X-Shopify-API-Version"] == "2026-10"
        assert ask("2027-01", "{ shop { name } }").status_code == 404


@given(st.sampled_from((*SERVED, "2023-01", "2024-07")),
       st.datetimes(min_value=datetime(2025, 4, 2), max_value=datetime(2027, 9, 30),
                    timezones=st.just(UTC)))
def test_the_answer_is_a_supported_version_not_older_than_asked(requested: str,
                                                                at: datetime) -> None:
    answer = answering(requested, at)
    if answer is not None:
        assert answer in supported(at)
        assert answer >= requested
        assert answer == requested or requested not in supported(at)


def test_missing_scopes_are_refused_as_shopify_refuses_them() -> None:
    shop = simulator(scopes=frozenset({"read_customers"}))
    body = shop.execute("{ customers(first: 2) { nodes { id orders(first: 1) { nodes { id } } }"
                        " } }")
    assert body["data"] is None  # orders is non-null, so the null climbs to the root
    assert body["errors"][0] == {
        "message": "Access denied for orders field. Required access: `read_orders` access "
                   "scope.",
        "locations": [{"line": 1, "column": 36}], "path": ["customers", "nodes", 0, "orders"],
        "extensions": {"code": "ACCESS_DENIED",
                       "documentation": "https://shopify.dev/api/usage/access-scopes"}}
    erase = shop.execute('mutation { customerRequestDataErasure(customerId: '
                         '"gid://shopify/Customer/7000000000001") { customerId } }')
    assert erase["data"] == {"customerRequestDataErasure": None}
    assert "`write_customer_data_erasure`" in erase["errors"][0]["message"]
    granted = shop.execute("{ currentAppInstallation { accessScopes { handle } } }")
    assert granted["data"]["currentAppInstallation"]["accessScopes"] == [
        {"handle": "read_customers"}]


def test_a_write_scope_grants_its_read_scope() -> None:
    shop = simulator(scopes=frozenset({"write_customers"}))
    assert "errors" not in shop.execute("{ customersCount { count } }")
    updated = shop.execute('mutation { customerUpdate(input: {id: "gid://shopify/Customer/'
                           '7000000000001", lastName: "Neu"}) { userErrors { message } } }')
    assert updated["data"] == {"customerUpdate": {"userErrors": []}}
    tagged = shop.execute('mutation { tagsAdd(id: "gid://shopify/Order/5000000000001", '
                          'tags: ["x"]) { userErrors { message } } }')
    assert tagged["errors"][0]["extensions"]["code"] == "ACCESS_DENIED"


def test_a_bulk_query_outside_the_scopes_fails_with_access_denied() -> None:
    shop = simulator(scopes=frozenset({"read_customers"}), bulk_polls_to_complete=0)
    started = shop.execute(BULK_RUN, {"q": INNER})["data"]["bulkOperationRunQuery"]
    assert started["userErrors"] == []
    current = shop.execute("{ currentBulkOperation { status errorCode url } }")
    assert current["data"]["currentBulkOperation"] == {
        "status": "FAILED", "errorCode": "ACCESS_DENIED", "url": None}


def test_unknown_scopes_are_refused_by_the_sandbox() -> None:
    with pytest.raises(ValueError, match="read_custmers"):
        Sandbox(contacts=0, shopify_scopes=["read_custmers"])


@pytest.mark.parametrize(("plan", "rate"), [("standard", 100.0), ("advanced", 200.0),
                                            ("plus", 1000.0), ("enterprise", 2000.0)])
def test_throttle_numbers_follow_the_plan(plan: str, rate: float) -> None:
    status = simulator(plan=plan).execute("{ shop { name } }")["extensions"]["cost"]
    assert status["throttleStatus"]["restoreRate"] == rate
    assert status["throttleStatus"]["maximumAvailable"] == rate * 20


def test_an_unknown_plan_is_refused() -> None:
    with pytest.raises(ValueError, match="basic"):
        ShopifyLimits(plan="basic")


@pytest.mark.parametrize(("version", "at_once"), [("2025-10", 1), ("2026-01", 5)])
def test_bulk_queries_at_once_per_version(version: str, at_once: int) -> None:
    shop = simulator(day_of(version))
    answers = [shop.execute(BULK_RUN, {"q": INNER}, version=version)
               ["data"]["bulkOperationRunQuery"] for _ in range(at_once + 1)]
    assert all(a["userErrors"] == [] for a in answers[:at_once])
    assert answers[-1]["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"


def _parents(shop: ShopifySimulator, version: str, grouping: str = "") -> list[bool]:
    """Per JSONL line of a finished bulk query: whether it is a child line."""
    run = BULK_RUN.replace("(query: $q)", f"(query: $q{grouping})")
    started = shop.execute(run, {"q": INNER}, version=version)["data"]["bulkOperationRunQuery"]
    operation = shop.bulk.get(int(started["bulkOperation"]["id"].rsplit("/", 1)[1]))
    assert operation is not None
    shop.bulk.poll(operation)
    content = shop.bulk.file(operation.id) or b""
    return [b"__parentId" in line for line in content.splitlines()]


def test_grouping_of_bulk_results_follows_the_version_default() -> None:
    grouped = _parents(simulator(day_of("2025-10")), "2025-10")
    assert grouped.index(True) == 1  # anna's orders follow anna
    ungrouped = _parents(simulator(day_of("2026-01")), "2026-01")
    assert ungrouped == sorted(ungrouped)  # every root first, then the children
    assert _parents(simulator(day_of("2026-01")), "2026-01", ", groupObjects: true") == grouped
    refused = simulator(day_of("2025-04")).execute(
        'mutation { bulkOperationRunQuery(query: "{ shop { id } }", groupObjects: false) '
        "{ userErrors { message } } }", version="2025-04")
    assert refused["errors"][0]["extensions"]["code"] == "argumentNotAccepted"


def test_serve_issues_a_token_with_the_chosen_scopes() -> None:
    hub = Path(sys.executable).parent / "hub"
    process = subprocess.Popen([str(hub), "sandbox", "serve", "--json", "--contacts", "5",
                                "--shopify-scopes", "read_customers,write_orders"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        creds = json.loads(process.stdout.readline())["shopify"]
        answer = httpx.post(
            f"{creds['base_url']}/admin/api/{creds['api_version']}/graphql.json",
            json={"query": "{ currentAppInstallation { accessScopes { handle } } "
                           "customersCount { count } }"},
            headers={"X-Shopify-Access-Token": creds["token"]}).json()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    assert answer["data"]["currentAppInstallation"]["accessScopes"] == [
        {"handle": "read_customers"}, {"handle": "write_orders"}]
    refused = subprocess.run([str(hub), "sandbox", "serve", "--shopify-scopes", "read_all"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "read_all" in refused.stderr
