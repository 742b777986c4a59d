"""The Shopify simulator, driven through the official ShopifyAPI GraphQL client over loopback.

The client is pointed at the sandbox by changing only its base URL: the session is activated
as for a real shop and `ShopifyResource.site` is set to `http://127.0.0.1:PORT/admin/api/<v>`.
Time is injected (a fake monotonic clock for the throttle, a settable "now" for timestamps),
so nothing here sleeps.
"""

from __future__ import annotations

import json
import urllib.error
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import shopify  # type: ignore[import-untyped]
from starlette.applications import Starlette

from hub.ops.serving import serve_in_thread
from hub_sandbox.people import Order, Person, ShopifyView
from hub_sandbox.shopify.search import Search, SearchField
from hub_sandbox.shopify.simulator import ShopifyLimits, ShopifySimulator

VERSION = "2026-10"
TOKEN = "shpat_sandbox"
START = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


class FakeTime:
    """Monotonic seconds and wall-clock "now", both moved by the test."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.wall = START

    def clock(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return self.wall

    def advance(self, seconds: float) -> None:
        self.seconds += seconds
        self.wall += timedelta(seconds=seconds)


def _person(key: int, *, email: str | None, updated: datetime, state: str = "SUBSCRIBED",
            level: str | None = "CONFIRMED_OPT_IN", orders: tuple[Order, ...] = (),
            phone: str | None = None) -> Person:
    view = ShopifyView(
        email=email, first_name=f"First{key}", last_name=f"Last{key}", phone=phone,
        tags=("newsletter", "VIP") if key % 2 else ("retail",),
        created_at=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=key),
        updated_at=updated, marketing_state=state, opt_in_level=level,
        consent_updated_at=datetime(2024, 2, 1, tzinfo=UTC), city="Köln", zip="50667",
        country_code="DE", orders=orders)
    return Person(key=key, email=email or f"p{key}@example.com", first_name=f"First{key}",
                  last_name=f"Last{key}", phone=phone, company=None, job_title=None,
                  city="Köln", zip="50667", country="DE", language="de", shopify=view)


def _order(number: int, day: int, total: str, status: str = "PAID") -> Order:
    placed = datetime(2026, 9, day, 12, 0, tzinfo=UTC)
    return Order(id=5_000_000_000 + number, created_at=placed, updated_at=placed,
                 total=total, currency="EUR", financial_status=status)


def people() -> list[Person]:
    """Ten customers; the first two have orders, the last has no e-mail address."""
    base = datetime(2026, 10, 1, tzinfo=UTC)
    crowd = [
        _person(1, email="anna@example.com", updated=base + timedelta(days=1),
                phone="+4915112345671",
                orders=(_order(1, 1, "129.90"), _order(2, 20, "20.00", "REFUNDED"),
                        _order(3, 25, "50.10", "PARTIALLY_REFUNDED"))),
        _person(2, email="ben@example.com", updated=base + timedelta(days=2),
                orders=(_order(4, 3, "10.00"),), state="UNSUBSCRIBED", level="SINGLE_OPT_IN"),
    ]
    for key in range(3, 10):
        crowd.append(_person(key, email=f"p{key}@example.com",
                             updated=base + timedelta(days=key), state="NOT_SUBSCRIBED",
                             level="SINGLE_OPT_IN"))
    crowd.append(_person(10, email=None, updated=base + timedelta(days=10),
                         phone="+4915112345670", state="NOT_SUBSCRIBED", level=None))
    return crowd


@dataclass
class Sandbox:
    simulator: ShopifySimulator
    base_url: str
    time: FakeTime

    def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        """One request through the official client."""
        result: dict[str, Any] = json.loads(shopify.GraphQL().execute(query, variables))
        return result


def _start(limits: ShopifyLimits) -> Iterator[Sandbox]:
    fake = FakeTime()
    simulator = ShopifySimulator(people(), limits=limits, clock=fake.clock, now=fake.now)
    with serve_in_thread(Starlette(routes=simulator.routes())) as served:
        session = shopify.Session(limits.shop, VERSION, limits.token)
        shopify.ShopifyResource.activate_session(session)
        shopify.ShopifyResource.site = f"{served.base_url}/admin/api/{VERSION}"
        try:
            yield Sandbox(simulator, served.base_url, fake)
        finally:
            shopify.ShopifyResource.clear_session()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    yield from _start(ShopifyLimits())


@pytest.fixture
def small_bucket() -> Iterator[Sandbox]:
    yield from _start(ShopifyLimits(bucket_size=30, restore_rate=5))


CUSTOMER_PAGE = """
query Changed($after: String, $since: String!) {
  customers(first: 4, after: $after, sortKey: UPDATED_AT, query: $since) {
    edges { cursor node { id email updatedAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


def test_pages_through_changed_customers_with_cursors(sandbox: Sandbox) -> None:
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = sandbox.gql(CUSTOMER_PAGE, {
            "after": after, "since": "updated_at:>'2026-10-03T00:00:00Z'"})
        connection = body["data"]["customers"]
        seen.extend(edge["node"]["updatedAt"] for edge in connection["edges"])
        pages += 1
        assert connection["pageInfo"]["hasPreviousPage"] is (after is not None)
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
        assert after == connection["edges"][-1]["cursor"]
    assert pages == 2
    assert seen == [f"2026-10-{day:02d}T00:00:00Z" for day in range(4, 12)]
    assert "cost" in body["extensions"]


def test_cursor_survives_a_change_between_pages(sandbox: Sandbox) -> None:
    first = sandbox.gql(CUSTOMER_PAGE, {"after": None, "since": ""})["data"]["customers"]
    ids = [edge["node"]["id"] for edge in first["edges"]]
    sandbox.time.advance(60)
    sandbox.gql('mutation($id: ID!) { tagsAdd(id: $id, tags: ["moved"]) { node { id } } }',
                {"id": ids[0]})
    later: list[str] = []
    after = first["pageInfo"]["endCursor"]
    while after:
        rest = sandbox.gql(CUSTOMER_PAGE, {"after": after, "since": ""})["data"]["customers"]
        later.extend(edge["node"]["id"] for edge in rest["edges"])
        after = rest["pageInfo"]["endCursor"] if rest["pageInfo"]["hasNextPage"] else None
    assert len(later) == len(set(later)) == 7
    assert later[-1] == ids[0]  # it moved to the end of the UPDATED_AT order
    assert not set(ids[1:]) & set(later)


def test_customer_with_orders_and_totals(sandbox: Sandbox) -> None:
    body = sandbox.gql("""
      query($id: ID!) {
        customer(id: $id) {
          id displayName numberOfOrders
          amountSpent { amount currencyCode }
          tags
          emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
          defaultAddress { city zip country countryCodeV2 }
          lastOrder { name }
          recent: orders(first: 10, sortKey: CREATED_AT, reverse: true) {
            nodes {
              id name createdAt cancelledAt displayFinancialStatus
              totalPriceSet { shopMoney { amount currencyCode } }
              currentTotalPriceSet { shopMoney { amount } }
              customer { id }
            }
          }
        }
      }""", {"id": "gid://shopify/Customer/7000000000001"})
    customer = body["data"]["customer"]
    assert customer["numberOfOrders"] == "3"
    assert customer["amountSpent"] == {"amount": "180.0", "currencyCode": "EUR"}
    assert customer["tags"] == ["newsletter", "VIP"]
    assert customer["emailMarketingConsent"] == {
        "marketingState": "SUBSCRIBED", "marketingOptInLevel": "CONFIRMED_OPT_IN",
        "consentUpdatedAt": "2024-02-01T00:00:00Z"}
    assert customer["defaultAddress"] == {"city": "Köln", "zip": "50667", "country": "Germany",
                                          "countryCodeV2": "DE"}
    orders = customer["recent"]["nodes"]
    assert [o["id"] for o in orders] == [f"gid://shopify/Order/{5_000_000_000 + n}"
                                         for n in (3, 2, 1)]
    assert customer["lastOrder"]["name"] == orders[0]["name"]
    assert orders[1]["displayFinancialStatus"] == "REFUNDED"
    assert orders[1]["totalPriceSet"]["shopMoney"] == {"amount": "20.0", "currencyCode": "EUR"}
    assert orders[1]["currentTotalPriceSet"]["shopMoney"]["amount"] == "0.0"
    assert {o["customer"]["id"] for o in orders} == {customer["id"]}


def test_orders_updated_since(sandbox: Sandbox) -> None:
    body = sandbox.gql("""{ orders(first: 250, sortKey: UPDATED_AT,
                                query: "updated_at:>'2026-09-04T00:00:00Z'") {
                              nodes { name updatedAt customer { id } } } }""")
    nodes = body["data"]["orders"]["nodes"]
    assert [n["updatedAt"][:10] for n in nodes] == ["2026-09-20", "2026-09-25"]


def test_older_orders_hidden_without_read_all_orders() -> None:
    fake = FakeTime()
    simulator = ShopifySimulator(people(), limits=ShopifyLimits(scopes=frozenset({"read_customers", "read_orders"})),
                                 clock=fake.clock, now=fake.now)
    body = simulator.execute("{ orders(first: 10) { nodes { createdAt } } }")
    shown = [n["createdAt"][:10] for n in body["data"]["orders"]["nodes"]]
    assert shown == ["2026-09-03", "2026-09-20", "2026-09-25"]  # 2026-09-01 is > 60 days ago


CREATE = """
mutation Create($input: CustomerInput!) {
  customerCreate(input: $input) {
    customer { id email firstName tags createdAt updatedAt phone }
    userErrors { field message }
  }
}
"""
UPDATE = """
mutation Update($input: CustomerInput!) {
  customerUpdate(input: $input) {
    customer { id email lastName updatedAt }
    userErrors { field message }
  }
}
"""


def test_customer_create_and_update_with_user_errors(sandbox: Sandbox) -> None:
    taken = sandbox.gql(CREATE, {"input": {"email": "Anna@Example.com"}})
    assert taken["data"]["customerCreate"] == {
        "customer": None,
        "userErrors": [{"field": ["email"], "message": "Email has already been taken"}]}
    nobody = sandbox.gql(CREATE, {"input": {"note": "nothing else"}})
    assert nobody["data"]["customerCreate"]["userErrors"] == [
        {"field": None, "message": "A name, phone number, or email address must be present"}]
    created = sandbox.gql(CREATE, {"input": {
        "email": " New.Per son@Example.com ", "firstName": "New", "tags": ["b", "a, c"],
        "phone": "0221 1234567"}})["data"]["customerCreate"]
    assert created["userErrors"] == []
    customer = created["customer"]
    assert customer["email"] == "New.Person@Example.com"
    assert customer["tags"] == ["a", "b", "c"]
    assert customer["phone"] == "+492211234567"
    assert customer["createdAt"] == customer["updatedAt"] == "2026-11-01T09:00:00Z"

    sandbox.time.advance(90)
    clash = sandbox.gql(UPDATE, {"input": {"id": customer["id"], "email": "ben@example.com"}})
    assert clash["data"]["customerUpdate"]["userErrors"] == [
        {"field": ["email"], "message": "Email has already been taken"}]
    renamed = sandbox.gql(UPDATE, {"input": {"id": customer["id"], "lastName": "Person"}})
    assert renamed["data"]["customerUpdate"]["customer"]["lastName"] == "Person"
    assert renamed["data"]["customerUpdate"]["customer"]["updatedAt"] == "2026-11-01T09:01:30Z"
    missing = sandbox.gql(UPDATE, {"input": {"id": "gid://shopify/Customer/1", "note": "x"}})
    assert missing["data"]["customerUpdate"]["userErrors"] == [
        {"field": ["id"], "message": "Customer does not exist"}]
    inline = sandbox.gql(UPDATE, {"input": {"id": customer["id"], "emailMarketingConsent": {
        "marketingState": "SUBSCRIBED", "marketingOptInLevel": "SINGLE_OPT_IN"}}})
    assert inline["data"]["customerUpdate"]["userErrors"][0]["field"] == ["emailMarketingConsent"]
    assert {k: v for k, v in sandbox.simulator.summary().items() if k != "points_spent"} \
        == {"customers": 11, "orders": 4}


def test_tags_add_and_remove(sandbox: Sandbox) -> None:
    query = """mutation($id: ID!, $tags: [String!]!) {
      added: tagsAdd(id: $id, tags: $tags) { node { id ... on Customer { tags } } userErrors { field message } }
    }"""
    added = sandbox.gql(query, {"id": "gid://shopify/Customer/7000000000004",
                                "tags": ["wholesale", "retail"]})
    assert added["data"]["added"]["node"]["tags"] == ["retail", "wholesale"]
    removed = sandbox.gql("""mutation($id: ID!) { tagsRemove(id: $id, tags: ["RETAIL"]) {
        node { ... on Customer { tags updatedAt } } userErrors { field message } } }""",
                          {"id": "gid://shopify/Customer/7000000000004"})
    assert removed["data"]["tagsRemove"]["node"] == {"tags": ["wholesale"],
                                                     "updatedAt": "2026-11-01T09:00:00Z"}
    unknown = sandbox.gql(query, {"id": "gid://shopify/Customer/999", "tags": ["x"]})
    assert unknown["data"]["added"] == {
        "node": None, "userErrors": [{"field": ["id"], "message": "Customer does not exist"}]}


CONSENT = """
mutation Consent($input: CustomerEmailMarketingConsentUpdateInput!) {
  customerEmailMarketingConsentUpdate(input: $input) {
    customer { id emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt } }
    userErrors { field message code }
  }
}
"""


def _consent(customer: int, state: str, level: str | None = "SINGLE_OPT_IN",
             at: str | None = None) -> dict[str, Any]:
    consent: dict[str, Any] = {"marketingState": state}
    if level:
        consent["marketingOptInLevel"] = level
    if at:
        consent["consentUpdatedAt"] = at
    return {"input": {"customerId": f"gid://shopify/Customer/{7_000_000_000_000 + customer}",
                      "emailMarketingConsent": consent}}


def test_consent_update_rules(sandbox: Sandbox) -> None:
    unsubscribed = sandbox.gql(CONSENT, _consent(1, "UNSUBSCRIBED", at="2026-10-31T10:00:00Z"))
    payload = unsubscribed["data"]["customerEmailMarketingConsentUpdate"]
    assert payload["userErrors"] == []
    assert payload["customer"]["emailMarketingConsent"] == {
        "marketingState": "UNSUBSCRIBED", "marketingOptInLevel": "SINGLE_OPT_IN",
        "consentUpdatedAt": "2026-10-31T10:00:00Z"}

    read_only = sandbox.gql(CONSENT, _consent(1, "NOT_SUBSCRIBED"))
    assert read_only["data"] == {"customerEmailMarketingConsentUpdate": None}
    assert read_only["errors"][0]["message"] == \
        "Cannot specify NOT_SUBSCRIBED as a marketing state input"
    assert read_only["errors"][0]["extensions"] == {"code": "INVALID"}

    pending = sandbox.gql(CONSENT, _consent(3, "PENDING"))
    assert pending["data"]["customerEmailMarketingConsentUpdate"]["userErrors"] == [{
        "field": ["input", "emailMarketingConsent", "marketingOptInLevel"],
        "message": "Marketing opt in level must be confirmed opt-in for pending consent state",
        "code": "INVALID"}]
    confirmed = sandbox.gql(CONSENT, _consent(3, "PENDING", "CONFIRMED_OPT_IN"))
    state = confirmed["data"]["customerEmailMarketingConsentUpdate"]["customer"]
    assert state["emailMarketingConsent"]["marketingState"] == "PENDING"
    assert state["emailMarketingConsent"]["consentUpdatedAt"] == "2026-11-01T09:00:00Z"

    future = sandbox.gql(CONSENT, _consent(3, "SUBSCRIBED", at="2999-01-01T00:00:00Z"))
    assert future["data"]["customerEmailMarketingConsentUpdate"]["userErrors"][0]["message"] \
        == "Consent updated at must not be in the future"
    no_email = sandbox.gql(CONSENT, _consent(10, "SUBSCRIBED"))
    assert no_email["data"]["customerEmailMarketingConsentUpdate"] == {
        "customer": None, "userErrors": [{"field": ["input", "customerId"], "code": "INVALID",
                                          "message": "Customer must have an email address"}]}
    unknown = sandbox.gql(CONSENT, _consent(999, "SUBSCRIBED"))
    assert unknown["data"]["customerEmailMarketingConsentUpdate"]["userErrors"] == [
        {"field": ["input", "customerId"], "message": "Customer not found", "code": "INVALID"}]
    bad_enum = sandbox.gql(CONSENT, _consent(1, "BOGUS"))
    assert bad_enum["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"
    assert "data" not in bad_enum


def test_metafields_set_and_read(sandbox: Sandbox) -> None:
    mutation = """mutation($m: [MetafieldsSetInput!]!) {
      metafieldsSet(metafields: $m) {
        metafields { id namespace key value type }
        userErrors { field message code elementIndex }
      }
    }"""
    owner = "gid://shopify/Customer/7000000000002"
    written = sandbox.gql(mutation, {"m": [
        {"ownerId": owner, "namespace": "hub", "key": "lead_score", "type": "number_integer",
         "value": "42"},
        {"ownerId": owner, "namespace": "hub", "key": "stage", "type": "single_line_text_field",
         "value": "mql"}]})["data"]["metafieldsSet"]
    assert written["userErrors"] == []
    assert [(m["key"], m["value"]) for m in written["metafields"]] == [("lead_score", "42"),
                                                                        ("stage", "mql")]
    read = sandbox.gql("""query($id: ID!) { customer(id: $id) {
        score: metafield(namespace: "hub", key: "lead_score") { value jsonValue type }
        metafields(first: 5, namespace: "hub") { nodes { key } } } }""", {"id": owner})
    assert read["data"]["customer"]["score"] == {"value": "42", "jsonValue": 42,
                                                 "type": "number_integer"}
    assert len(read["data"]["customer"]["metafields"]["nodes"]) == 2
    invalid = sandbox.gql(mutation, {"m": [
        {"ownerId": owner, "namespace": "hub", "key": "lead_score", "value": "many"}]})
    assert invalid["data"]["metafieldsSet"] == {"metafields": [], "userErrors": [{
        "field": ["metafields", "0", "value"], "message": "Value must be an integer.",
        "code": "INVALID_VALUE", "elementIndex": None}]}


def test_bad_field_is_a_validation_error(sandbox: Sandbox) -> None:
    body = sandbox.gql("query Bad { customers(first: 1) { nodes { id shoeSize } } }")
    assert body == {"errors": [{
        "message": "Field 'shoeSize' doesn't exist on type 'Customer'",
        "locations": [{"line": 1, "column": 46}],
        "path": ["query Bad", "customers", "nodes", "shoeSize"],
        "extensions": {"code": "undefinedField", "typeName": "Customer",
                       "fieldName": "shoeSize"}}]}


def test_other_request_errors_are_shopify_shaped(sandbox: Sandbox) -> None:
    syntax = sandbox.gql("query {\n  shop {\n    id\n")
    assert syntax["errors"][0]["message"] == "syntax error, unexpected end of file at [3, 5]"
    missing = sandbox.gql("{ customer { id } }")
    assert missing["errors"][0]["message"] == "Field 'customer' is missing required arguments: id"
    literal = sandbox.gql('{ customers(first: "ten") { nodes { id } } }')
    assert literal["errors"][0]["extensions"]["code"] == "argumentLiteralsIncompatible"
    variable = sandbox.gql(CREATE, {"input": {"email": "x@example.com", "shoeSize": 44}})
    assert variable["errors"][0]["message"] == (
        "Variable $input of type CustomerInput! was provided invalid value for shoeSize "
        "(Field is not defined on CustomerInput)")
    window = sandbox.gql("{ customers { nodes { id } } }")
    assert window["data"] is None
    assert window["errors"][0]["message"] == "you must provide one of first or last"
    too_big = sandbox.gql("{ customers(first: 251) { nodes { id } } }")
    assert too_big["errors"][0]["extensions"]["code"] == "argumentLiteralsIncompatible"
    bad_id = sandbox.gql('{ customer(id: "42") { id } }')
    assert bad_id["errors"][0]["message"] == "Invalid global id '42'"


@pytest.mark.parametrize(("query", "message", "code"), [
    ("{ customers(first: 1, zzz: 1) { nodes { id } } }",
     "Field 'customers' doesn't accept argument 'zzz'", "argumentNotAccepted"),
    ("{ shop }", "Field must have selections (field 'shop' returns Shop but has no selections. "
     "Did you mean 'shop { ... }'?)", "selectionMismatch"),
    ("query A($x: Int) { shop { id } }", "Variable $x is declared by A but not used",
     "variableNotUsed"),
    ("query A($x: String) { customers(first: $x) { nodes { id } } }",
     "Type mismatch on variable $x and argument first (String / Int)", "variableMismatch"),
    ("mutation { customerDelete(input: {}) { deletedCustomerId } }",
     "Argument 'id' on InputObject 'CustomerDeleteInput' is required. Expected type ID!",
     "missingRequiredInputObjectAttribute"),
    ("mutation { customerCreate(input: {email: 5}) { customer { id } } }",
     "Argument 'email' on InputObject 'CustomerInput' has an invalid value (5). Expected type "
     "'String'.", "argumentLiteralsIncompatible"),
])
def test_validation_messages_are_graphql_ruby_wording(query: str, message: str,
                                                      code: str) -> None:
    body = ShopifySimulator(people(), clock=FakeTime().clock).execute(query)
    assert set(body) == {"errors"}
    assert (body["errors"][0]["message"], body["errors"][0]["extensions"]["code"]) == \
        (message, code)


def test_inline_consent_on_create_count_and_introspection() -> None:
    fake = FakeTime()
    simulator = ShopifySimulator(people(), clock=fake.clock, now=fake.now)
    created = simulator.execute("""mutation { customerCreate(input: {email: "c@example.com",
        emailMarketingConsent: {marketingState: SUBSCRIBED, marketingOptInLevel: CONFIRMED_OPT_IN,
        consentUpdatedAt: "2026-10-01T00:00:00Z"}}) { customer { emailMarketingConsent {
        marketingState marketingOptInLevel consentUpdatedAt } } userErrors { message } } }""")
    assert created["data"]["customerCreate"]["customer"]["emailMarketingConsent"] == {
        "marketingState": "SUBSCRIBED", "marketingOptInLevel": "CONFIRMED_OPT_IN",
        "consentUpdatedAt": "2026-10-01T00:00:00Z"}
    counted = simulator.execute('{ vip: customersCount(query: "tag:vip") { count precision } '
                                "all: customersCount(limit: 5) { count precision } }")
    assert counted["data"] == {"vip": {"count": 5, "precision": "EXACT"},
                               "all": {"count": 5, "precision": "AT_LEAST"}}
    introspection = simulator.execute("{ __schema { queryType { name } } }")
    assert introspection["data"]["__schema"]["queryType"]["name"] == "QueryRoot"
    assert introspection["extensions"]["cost"]["actualQueryCost"] == 0


def test_raw_graphql_body_and_version_header(sandbox: Sandbox) -> None:
    response = httpx.post(f"{sandbox.base_url}/admin/api/{VERSION}/graphql.json",
                          content=b"{ shop { name myshopifyDomain } }",
                          headers={"X-Shopify-Access-Token": TOKEN,
                                   "Content-Type": "application/graphql"})
    assert response.headers["X-Shopify-API-Version"] == VERSION
    assert response.json()["data"]["shop"] == {"name": "Hub Sandbox",
                                               "myshopifyDomain": "hub-sandbox.myshopify.com"}


def test_aliases_fragments_and_node(sandbox: Sandbox) -> None:
    body = sandbox.gql("""
      query Both($a: ID!, $b: ID!) {
        first: node(id: $a) { ...Who }
        second: node(id: $b) { id ... on Order { name } }
      }
      fragment Who on Customer { id mail: email }
    """, {"a": "gid://shopify/Customer/7000000000002", "b": "gid://shopify/Order/5000000004"})
    assert body["data"] == {
        "first": {"id": "gid://shopify/Customer/7000000000002", "mail": "ben@example.com"},
        "second": {"id": "gid://shopify/Order/5000000004", "name": "#1002"}}


def test_cost_is_reported_and_refunded(sandbox: Sandbox) -> None:
    body = sandbox.gql("""{ customers(first: 10) { nodes { id orders(first: 5) { nodes { id } } }
                            pageInfo { hasNextPage } } }""")
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 10 * (1 + 2 + 5)
    assert cost["actualQueryCost"] == 2 + 10 * (1 + 2) + 4
    assert cost["throttleStatus"] == {"maximumAvailable": 2000.0,
                                      "currentlyAvailable": 2000.0 - cost["actualQueryCost"],
                                      "restoreRate": 100.0}


def test_orders_of_named_customers(sandbox: Sandbox) -> None:
    body = sandbox.gql("""{
      one: orders(first: 10, query: "customer_id:7000000000001", sortKey: CREATED_AT) {
        nodes { name customer { id } } }
      two: orders(first: 10, query: "customer_id:7000000000001 OR customer_id:7000000000002") {
        nodes { customer { id } } }
      none: orders(first: 10, query: "customer_id:7000000000001 -financial_status:paid") {
        nodes { name } }
      counts: customer(id: "gid://shopify/Customer/7000000000001") { numberOfOrders } }""")
    data = body["data"]
    owners = {n["customer"]["id"] for n in data["one"]["nodes"]}
    assert owners == {"gid://shopify/Customer/7000000000001"}
    assert len(data["one"]["nodes"]) == int(data["counts"]["numberOfOrders"])
    assert {n["customer"]["id"] for n in data["two"]["nodes"]} == {
        "gid://shopify/Customer/7000000000001", "gid://shopify/Customer/7000000000002"}
    assert len(data["none"]["nodes"]) < len(data["one"]["nodes"])  # the rest of the query holds


NODES = """query Tags($ids: [ID!]!) { nodes(ids: $ids) {
    ... on Customer { id tags defaultAddress { city } } ... on Order { id } } }"""


def test_nodes_cost_one_object_per_id(sandbox: Sandbox) -> None:
    ids = ["gid://shopify/Customer/7000000000001", "gid://shopify/Customer/7000000000002",
           "gid://shopify/Customer/7000000009999"]
    cost = sandbox.gql(NODES, {"ids": ids})["extensions"]["cost"]
    # each id may be a Customer with an address object: 1 + 1, the dearer branch
    assert cost["requestedQueryCost"] == 3 * 2
    # two customers found (the third id is unknown), each an object plus its address (if any)
    found = sandbox.gql("""query($ids: [ID!]!) { nodes(ids: $ids) { id } }""", {"ids": ids})
    assert found["extensions"]["cost"] == {**found["extensions"]["cost"],
                                           "requestedQueryCost": 3, "actualQueryCost": 2}


def test_nodes_cost_once_as_a_setting() -> None:
    simulator = ShopifySimulator(people(), limits=ShopifyLimits(nodes_cost_per_id=False),
                                 clock=FakeTime().clock)
    ids = [f"gid://shopify/Customer/700000000000{n}" for n in (1, 2)]
    body = simulator.execute("query($ids: [ID!]!) { nodes(ids: $ids) { id } }", {"ids": ids})
    assert body["extensions"]["cost"]["requestedQueryCost"] == 1
    assert body["extensions"]["cost"]["actualQueryCost"] == 1


def test_throttled_when_bucket_is_drained_then_restored(small_bucket: Sandbox) -> None:
    query = "{ customers(first: 10) { nodes { id } } }"  # costs 12, all of it used
    assert small_bucket.gql(query)["extensions"]["cost"]["throttleStatus"][
        "currentlyAvailable"] == 18.0
    small_bucket.gql(query)
    throttled = small_bucket.gql(query)  # 6 left < 12: HTTP 200, no data
    assert throttled == {
        "errors": [{"message": "Throttled", "extensions": {
            "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
        "extensions": {"cost": {"requestedQueryCost": 12, "actualQueryCost": None,
                                "throttleStatus": {"maximumAvailable": 30.0,
                                                   "currentlyAvailable": 6.0,
                                                   "restoreRate": 5.0}}}}
    small_bucket.time.advance(2.0)  # +10 points
    restored = small_bucket.gql(query)
    assert len(restored["data"]["customers"]["nodes"]) == 10
    assert restored["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 4.0


def test_rate_limited_response_for_storms() -> None:
    simulator = ShopifySimulator(people(), clock=FakeTime().clock)
    response = simulator.rate_limited_response(50)
    assert response.status_code == 200
    body = json.loads(bytes(response.body))
    assert body["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert body["extensions"]["cost"]["requestedQueryCost"] == 50
    assert "data" not in body


def test_single_query_over_max_cost(sandbox: Sandbox) -> None:
    body = sandbox.gql("""{ customers(first: 250) {
        nodes { id orders(first: 10) { nodes { id } } } } }""")
    assert "data" not in body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["cost"] == 2 + 250 * (1 + 2 + 10)
    assert error["message"].startswith(
        "Query cost is 3252, which exceeds the single query max cost limit (1000).")


BULK_RUN = """mutation Run($q: String!) {
  bulkOperationRunQuery(query: $q) { bulkOperation { id status } userErrors { field message code } }
}"""
BULK_POLL = """{ currentBulkOperation {
  id status errorCode createdAt completedAt objectCount rootObjectCount fileSize url partialDataUrl
} }"""


def test_bulk_operation_run_poll_download(sandbox: Sandbox) -> None:
    sandbox.simulator.limits.bulk_concurrency = 1  # one at a time, as before API 2026-01
    sandbox.simulator.reset(people())
    inner = """{ customers(query: "updated_at:<'2026-10-04T00:00:00Z'") { edges { node {
                   id email orders { edges { node { id name } } } } } } }"""
    started = sandbox.gql(BULK_RUN, {"q": inner})["data"]["bulkOperationRunQuery"]
    assert started["userErrors"] == []
    assert started["bulkOperation"]["status"] == "CREATED"
    busy = sandbox.gql(BULK_RUN, {"q": inner})["data"]["bulkOperationRunQuery"]
    assert busy == {"bulkOperation": None, "userErrors": [{
        "field": None, "code": "OPERATION_IN_PROGRESS",
        "message": "A bulk query operation for this app and shop is already in progress: "
                   f"{started['bulkOperation']['id']}."}]}

    done = sandbox.gql(BULK_POLL)["data"]["currentBulkOperation"]
    assert done["status"] == "COMPLETED"
    assert done["id"] == started["bulkOperation"]["id"]
    assert (done["objectCount"], done["rootObjectCount"]) == ("6", "2")
    assert done["url"].startswith(f"{sandbox.base_url}/_sandbox/shopify/bulk/")
    download = httpx.get(done["url"])
    assert download.status_code == 200
    assert done["fileSize"] == str(len(download.content))
    lines = [json.loads(line) for line in download.text.splitlines()]
    # 2026-10 does not group objects by default: the children come after every root
    assert [line.get("__parentId") for line in lines] == [
        None, None, "gid://shopify/Customer/7000000000001", "gid://shopify/Customer/7000000000001",
        "gid://shopify/Customer/7000000000001", "gid://shopify/Customer/7000000000002"]
    assert lines[0] == {"id": "gid://shopify/Customer/7000000000001",
                        "email": "anna@example.com"}
    assert set(lines[2]) == {"id", "name", "__parentId"}


def test_bulk_operation_query_rules_and_cancel() -> None:
    fake = FakeTime()
    simulator = ShopifySimulator(people(), clock=fake.clock, now=fake.now,
                                 limits=ShopifyLimits(bulk_polls_to_complete=3))

    def run(query: str) -> dict[str, Any]:
        body = simulator.execute(BULK_RUN, {"q": query})
        payload: dict[str, Any] = body["data"]["bulkOperationRunQuery"]
        return payload

    assert run("{ shop { name } }")["userErrors"] == [{
        "field": ["query"], "message": "Bulk queries must contain at least one connection.",
        "code": "INVALID"}]
    assert "Selecting via 'nodes' is not supported" in \
        run("{ customers { nodes { id } } }")["userErrors"][0]["message"]
    assert run('{ node(id: "gid://shopify/Customer/1") { id } }')["userErrors"][0]["message"] \
        == "Bulk queries cannot contain a top level `node` field."
    assert run("{ customers { edges { node { email orders { edges { node { id } } } } } } }")[
        "userErrors"][0]["message"].endswith("Connection fields without 'id': customers.")
    assert run("{ customers { edges { node {")["userErrors"][0]["message"] == \
        "Invalid bulk query: syntax error, unexpected end of file"

    started = run("{ orders { edges { node { id } } } }")["bulkOperation"]
    assert simulator.execute(BULK_POLL)["data"]["currentBulkOperation"]["status"] == "RUNNING"
    cancel = simulator.execute("""mutation($id: ID!) { bulkOperationCancel(id: $id) {
        bulkOperation { status } userErrors { field message } } }""", {"id": started["id"]})
    assert cancel["data"]["bulkOperationCancel"] == {"bulkOperation": {"status": "CANCELING"},
                                                     "userErrors": []}
    polled = simulator.execute("query($id: ID!) { node(id: $id) { ... on BulkOperation { "
                               "status url } } }", {"id": started["id"]})
    assert polled["data"]["node"] == {"status": "CANCELED", "url": None}


def test_wrong_token_is_401(sandbox: Sandbox) -> None:
    shopify.ShopifyResource.headers["X-Shopify-Access-Token"] = "shpat_wrong"
    with pytest.raises(urllib.error.HTTPError) as raised:
        shopify.GraphQL().execute("{ shop { name } }")
    assert raised.value.code == 401
    response = httpx.post(f"{sandbox.base_url}/admin/api/{VERSION}/graphql.json",
                          json={"query": "{ shop { name } }"},
                          headers={"X-Shopify-Access-Token": "shpat_wrong"})
    assert response.status_code == 401
    assert response.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


def test_unknown_version_is_404(sandbox: Sandbox) -> None:
    for version in ("2030-01", "2025-02", "latest"):
        response = httpx.post(f"{sandbox.base_url}/admin/api/{version}/graphql.json",
                              json={"query": "{ shop { name } }"},
                              headers={"X-Shopify-Access-Token": TOKEN})
        assert response.status_code == 404, version
        assert response.json() == {"errors": "Not Found"}
    assert httpx.post(f"{sandbox.base_url}/admin/api/{VERSION}/graphql.json", content=b"{}",
                      headers={"X-Shopify-Access-Token": TOKEN}).status_code == 400


def test_delete_refused_with_orders(sandbox: Sandbox) -> None:
    delete = """mutation($id: ID!) { customerDelete(input: {id: $id}) {
        deletedCustomerId userErrors { field message } } }"""
    refused = sandbox.gql(delete, {"id": "gid://shopify/Customer/7000000000001"})
    assert refused["data"]["customerDelete"] == {"deletedCustomerId": None, "userErrors": [{
        "field": ["id"], "message": "Customer can’t be deleted because they have associated "
                                    "orders"}]}
    deleted = sandbox.gql(delete, {"id": "gid://shopify/Customer/7000000000004"})
    assert deleted["data"]["customerDelete"]["deletedCustomerId"] == \
        "gid://shopify/Customer/7000000000004"
    assert {k: v for k, v in sandbox.simulator.summary().items() if k != "points_spent"} \
        == {"customers": 9, "orders": 4}


def test_data_erasure_after_waiting_period() -> None:
    fake = FakeTime()
    simulator = ShopifySimulator(people(), clock=fake.clock, now=fake.now,
                                 limits=ShopifyLimits(erasure_delay=timedelta(days=10)))
    customer = "gid://shopify/Customer/7000000000001"
    read = """query($id: ID!) { customer(id: $id) { email firstName tags numberOfOrders
        emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt } } }"""
    request = simulator.execute("""mutation($id: ID!) { customerRequestDataErasure(customerId:
        $id) { customerId userErrors { field message code } } }""", {"id": customer})
    assert request["data"]["customerRequestDataErasure"] == {"customerId": customer,
                                                             "userErrors": []}
    assert simulator.execute(read, {"id": customer})["data"]["customer"]["email"] == \
        "anna@example.com"
    fake.advance(timedelta(days=10).total_seconds())
    erased = simulator.execute(read, {"id": customer})["data"]["customer"]
    assert erased == {"email": None, "firstName": None, "tags": [], "numberOfOrders": "3",
                      "emailMarketingConsent": {"marketingState": "REDACTED",
                                                "marketingOptInLevel": None,
                                                "consentUpdatedAt": "2026-11-11T09:00:00Z"}}
    unknown = simulator.execute("""mutation { customerCancelDataErasure(customerId:
        "gid://shopify/Customer/7000000000002") { customerId userErrors { code } } }""")
    assert unknown["data"]["customerCancelDataErasure"]["userErrors"] == [
        {"code": "NOT_BEING_ERASED"}]


def test_contract_credentials_summary_reset() -> None:
    simulator = ShopifySimulator(people(), clock=FakeTime().clock)
    assert simulator.system == "shopify"
    assert simulator.credentials("http://127.0.0.1:9") == {
        "base_url": "http://127.0.0.1:9", "shop": "hub-sandbox.myshopify.com",
        "token": TOKEN, "api_version": VERSION}
    simulator.execute('mutation { customerCreate(input: {email: "z@example.com"}) '
                      "{ userErrors { message } } }")
    # a mutation costs 10 points, which the summary counts for the benchmark's time floor
    assert simulator.summary() == {"customers": 11, "orders": 4, "points_spent": 10}
    simulator.reset([])
    assert simulator.summary() == {"customers": 0, "orders": 0, "points_spent": 0}
    empty = simulator.execute("{ customers(first: 5) { nodes { id } pageInfo { hasNextPage } } }")
    assert empty["data"]["customers"] == {"nodes": [], "pageInfo": {"hasNextPage": False}}


def test_seeding_is_deterministic() -> None:
    first = ShopifySimulator(people(), clock=FakeTime().clock)
    second = ShopifySimulator(people(), clock=FakeTime().clock)
    query = "{ customers(first: 20) { nodes { id email orders(first: 5) { nodes { id name } } } } }"
    assert first.execute(query)["data"] == second.execute(query)["data"]


@pytest.mark.parametrize(("query", "expected"), [
    ("tag:vip", [1, 3]),
    ("-tag:vip", [2]),
    ("tag:vip OR email:ben@example.com", [1, 2, 3]),
    ("NOT (tag:vip AND email:anna*)", [2, 3]),
    ("updated_at:>=2026-10-03 updated_at:<='2026-10-04'", [2, 3]),
    ("created_at:<'2026-01-01T00:00:00Z'", [1, 2, 3]),
    ("email:'ANNA@example.com'", [1]),
    ("shoe_size:44", [1, 2, 3]),
    ("anna", [1]),
    ("", [1, 2, 3]),
])
def test_search_syntax(query: str, expected: list[int]) -> None:
    rows = [replace(person.shopify, first_name=str(person.key))
            for person in people()[:3] if person.shopify is not None]
    fields: dict[str, SearchField[Any]] = {
        "tag": SearchField("tags", lambda v: v.tags),
        "email": SearchField("text", lambda v: v.email),
        "updated_at": SearchField("date", lambda v: v.updated_at),
        "created_at": SearchField("date", lambda v: v.created_at),
    }
    search = Search(query, fields, lambda v: (v.email,))
    assert [int(row.first_name or 0) for row in rows if search(row)] == expected
