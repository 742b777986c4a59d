"""The GraphQL documents the connector sends, in one place so their cost is easy to see.

A paged customer costs about 31 points (the customer, three objects, and 25 nested orders for
customer value), so 25 customers make a page of ~780, under Shopify's 1000-point cap per query.
Bulk operations cost nothing per object and have no page size.
"""

from __future__ import annotations

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


COUNT = """
query HubCustomersCount($query: String) {
  customersCount(query: $query, limit: null) { count precision }
}
"""

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

BULK_STATUS = """
query HubBulkStatus($id: ID!) {
  bulkOperation(id: $id) {
    id status errorCode objectCount rootObjectCount url partialDataUrl createdAt
  }
}
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

SHOP = "query HubShop { shop { name myshopifyDomain currencyCode } }"

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
