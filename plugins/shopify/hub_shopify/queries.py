"""The GraphQL documents the connector sends, in one place so their cost is easy to see.

Shopify's cap is 1000 points per query, and what a query is charged depends on its selection
(a real `customers(first: 250)` was answered with a requested cost of 25, far below a
field-count estimate), so `hub_shopify.pages` sizes every document from the costs Shopify
reports, not from a formula. Bulk operations cost nothing per object and have no page size.

Two documents differ by API version (`hub_shopify.versions`): the count (`limit:` exists from
2025-07) and the bulk poll (`bulkOperation(id:)` exists from 2026-01). `documents(version)`
lists every fixed document for the contract tests, which validate each against Shopify's schema
of every served version.
"""

from __future__ import annotations

from collections.abc import Sequence

from hub_shopify.versions import has_bulk_operation_query, has_count_limit

_ORDER = "createdAt displayFinancialStatus cancelledAt"
#: An order in a paged read also names its id: the customer's `lastOrder` comes with the
#: profile, and its other orders are told apart from it by id.
_PAGED_ORDER = f"id {_ORDER}"
_PROFILE = """
    id email firstName lastName phone tags createdAt updatedAt numberOfOrders
    amountSpent { amount currencyCode }
    emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
    defaultAddress { address1 address2 city zip province countryCodeV2 company }
"""


def _count_field(version: str) -> str:
    limit = ", limit: null" if has_count_limit(version) else ""
    return f"customersCount(query: $query{limit}) {{ count precision }}"


def read_query(version: str, *, page: bool = True, count: bool = False, nested: int = 0,
               orders: Sequence[int] = (), shared: int = 0,
               extra: tuple[str, str] | None = None) -> str:
    """One read document: a page of customers by update time (`page`), the number of
    customers matching (`count`, folded into the first page of a full read), and the orders
    of customers met on earlier pages: one aliased field ``o{i}`` per entry of `orders`, each
    asking for that many of the orders matching ``$q{i}`` (``customer_id:…``), oldest first,
    after ``$after{i}``.

    Every customer comes with its `lastOrder` (one object: a customer with one order needs
    nothing more) and with `nested` orders each (the first document of a read, so that a short
    read is one call) or none: a nested connection is charged `first` per customer whether the
    customer has orders or not, while an order follow-up asks for exactly the orders a customer
    has besides its last one. A follow-up is a root `orders` connection filtered by customer
    (2 points and one per order) rather than ``customer(id:) { orders }`` (one more for the
    customer object). With `shared`, one more root `orders` connection (alias ``shared``)
    asks for that many orders matching ``$shared``, each with its `customer { id }`: the one
    missing order of each of several customers. `extra` is one more (declared variables,
    field) to carry, as the first page of a read carries the poll of a bulk operation.
    """
    declared = ([*(["$first: Int!", "$after: String"] if page else []),
                 *(["$query: String"] if page or count else [])]
                + [f"$q{i}: String!, $after{i}: String" for i in range(len(orders))]
                + (["$shared: String!"] if shared else [])
                + ([extra[0]] if extra else []))
    fields = []
    if count:
        fields.append(_count_field(version))
    if page:
        fields.append(f"""customers(first: $first, after: $after, sortKey: UPDATED_AT,
            query: $query) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{ {_PROFILE} lastOrder {{ {_PAGED_ORDER} }} {_nested(nested)} }}
  }}""")
    for i, first in enumerate(orders):
        fields.append(f"o{i}: orders(first: {first}, after: $after{i}, query: $q{i}, "
                      f"sortKey: CREATED_AT) {{ pageInfo {{ hasNextPage endCursor }} "
                      f"nodes {{ {_PAGED_ORDER} }} }}")
    if extra:
        fields.append(extra[1])
    if shared:
        fields.append(f"shared: orders(first: {shared}, query: $shared, sortKey: CREATED_AT) "
                      f"{{ nodes {{ {_PAGED_ORDER} customer {{ id }} }} }}")
    head = f"({', '.join(declared)})" if declared else ""
    return f"query HubRead{head} {{\n  " + "\n  ".join(fields) + "\n}\n"


def _nested(orders: int) -> str:
    if not orders:
        return ""
    return (f"orders(first: {orders}, sortKey: CREATED_AT) {{ pageInfo {{ hasNextPage "
            f"endCursor }} nodes {{ {_PAGED_ORDER} }} }}")


def count_query(version: str) -> str:
    """How many customers match; uncapped (`limit: null`) where the version caps by default."""
    return read_query(version, page=False, count=True)


#: The inner query of a bulk read: every customer with every order (children become their
#: own JSONL lines with ``__parentId``).
BULK_CUSTOMERS = f"""
{{
  customers {{
    edges {{
      node {{
        {_PROFILE}
        orders {{ edges {{ node {{ id {_ORDER} }} }} }}
      }}
    }}
  }}
}}
"""

BULK_RUN = """
mutation HubBulkRun($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { id status }
    userErrors { field message code }
  }
}
"""

_BULK_FIELDS = "id status errorCode objectCount rootObjectCount url partialDataUrl createdAt"


def bulk_status_query(version: str) -> str:
    """A bulk operation's state: by id from 2026-01, before through `currentBulkOperation`."""
    if has_bulk_operation_query(version):
        return (f"query HubBulkStatus($id: ID!) {{\n  bulkOperation(id: $id) {{ {_BULK_FIELDS} }}"
                "\n}\n")
    return (f"query HubBulkStatus {{\n  currentBulkOperation(type: QUERY) {{ {_BULK_FIELDS} }}"
            "\n}\n")


#: The poll of a bulk operation by id that works in every version, as a field another document
#: can carry (alias ``bulk``, variable ``$bulk``).
BULK_POLL_FIELD = f"bulk: node(id: $bulk) {{ ... on BulkOperation {{ {_BULK_FIELDS} }} }}"

#: A bulk operation by id in any version, for when another one has become the current one.
BULK_NODE = f"""
query HubBulkNode($id: ID!) {{
  node(id: $id) {{ ... on BulkOperation {{ {_BULK_FIELDS} }} }}
}}
"""

BULK_CURRENT = """
query HubBulkCurrent {
  currentBulkOperation(type: QUERY) { id status query }
}
"""

BULK_CANCEL = """
mutation HubBulkCancel($id: ID!) {
  bulkOperationCancel(id: $id) { bulkOperation { id status } userErrors { field message } }
}
"""

#: The connection check: the shop, and the scopes the token was granted.
CHECK = """
query HubCheck {
  shop { name myshopifyDomain currencyCode }
  currentAppInstallation { accessScopes { handle } }
}
"""

TAGS = """
query HubTags($ids: [ID!]!) {
  nodes(ids: $ids) { ... on Customer { id tags } }
}
"""

FIND_BY_EMAIL = """
query HubFindCustomer($query: String!) {
  customers(first: 2, query: $query) { nodes { id email } }
}
"""


def documents(version: str) -> dict[str, str]:
    """Every fixed document the connector sends at `version`, by name (mutations that are
    built per batch are in `hub_shopify.writes`)."""
    return {"check": CHECK, "count": count_query(version),
            "customers": read_query(version),
            "first page": read_query(version, count=True, nested=10),
            "first page and bulk poll": read_query(version, count=True, nested=10,
                                                   extra=("$bulk: ID!", BULK_POLL_FIELD)),
            "customers and orders": read_query(version, orders=(3, 250)),
            "customers and shared orders": read_query(version, orders=(2,), shared=50),
            "orders": read_query(version, page=False, orders=(1, 2)),
            "bulk inner query": BULK_CUSTOMERS,
            "bulk run": BULK_RUN, "bulk status": bulk_status_query(version),
            "bulk node": BULK_NODE, "bulk current": BULK_CURRENT, "bulk cancel": BULK_CANCEL,
            "tags": TAGS, "find by email": FIND_BY_EMAIL}
