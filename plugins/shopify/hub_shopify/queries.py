"""The GraphQL documents the connector sends, in one place so their cost is easy to see.

A paged customer costs about 31 points (the customer, three objects, and 25 nested orders for
customer value), so 25 customers make a page of ~780, under Shopify's 1000-point cap per query.
Bulk operations cost nothing per object and have no page size.

Two documents differ by API version (`hub_shopify.versions`): the count (`limit:` exists from
2025-07) and the bulk poll (`bulkOperation(id:)` exists from 2026-01). `documents(version)`
lists every fixed document for the contract tests, which validate each against Shopify's schema
of every served version.
"""

from __future__ import annotations

from hub_shopify.versions import has_bulk_operation_query, has_count_limit

#: Orders nested per customer in a paged read; customers with more get a follow-up query.
NESTED_ORDERS = 25

_ORDER = "createdAt displayFinancialStatus cancelledAt"
_PROFILE = """
    id email firstName lastName phone tags createdAt updatedAt numberOfOrders
    amountSpent { amount currencyCode }
    emailMarketingConsent { marketingState marketingOptInLevel consentUpdatedAt }
    defaultAddress { address1 address2 city zip province countryCodeV2 company }
"""


def customers_query(nested_orders: int = NESTED_ORDERS) -> str:
    """A page of customers by update time, each with its first `nested_orders` orders."""
    return f"""
query HubCustomers($first: Int!, $after: String, $query: String) {{
  customers(first: $first, after: $after, sortKey: UPDATED_AT, query: $query) {{
    pageInfo {{ hasNextPage endCursor }}
    nodes {{
      {_PROFILE}
      orders(first: {nested_orders}, sortKey: CREATED_AT) {{
        pageInfo {{ hasNextPage endCursor }}
        nodes {{ {_ORDER} }}
      }}
    }}
  }}
}}
"""



def count_query(version: str) -> str:
    """How many customers match; uncapped (`limit: null`) where the version caps by default."""
    limit = ", limit: null" if has_count_limit(version) else ""
    return ("query HubCustomersCount($query: String) {\n"
            f"  customersCount(query: $query{limit}) {{ count precision }}\n}}\n")


MORE_ORDERS = f"""
query HubCustomerOrders($id: ID!, $after: String) {{
  customer(id: $id) {{
    orders(first: 250, after: $after, sortKey: CREATED_AT) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ {_ORDER} }}
    }}
  }}
}}
"""

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
    return {"check": CHECK, "count": count_query(version), "customers": customers_query(),
            "more orders": MORE_ORDERS, "bulk inner query": BULK_CUSTOMERS,
            "bulk run": BULK_RUN, "bulk status": bulk_status_query(version),
            "bulk node": BULK_NODE, "bulk current": BULK_CURRENT, "bulk cancel": BULK_CANCEL,
            "tags": TAGS, "find by email": FIND_BY_EMAIL}
