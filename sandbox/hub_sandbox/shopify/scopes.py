"""Access scopes: what the sandbox token was granted, and Shopify's refusal of the rest.

Which field needs which scope is Shopify's reference ("Requires `read_customers` access scope"
on `customers`, `customersCount`, `CustomerEmailMarketingConsentState`; `write_customer_data_
erasure` on `customerRequestDataErasure`, shopify.dev/docs/api/admin-graphql/2024-07/mutations/
customerRequestDataErasure). "Any scope that writes a resource also grants read access to it"
(https://shopify.dev/docs/api/usage/access-scopes). Without `read_all_orders` only the last 60
days of orders are visible (resolvers.visible).

A field the token may not see is refused the way Shopify refuses it, HTTP 200 with the field
null (and its non-null parents, so often `"data": null`) and an error quoted from a real answer
(Shopify/subscriptions-reference-app#13)::

    {"message": "Access denied for subscriptionContracts field.", "locations": [...],
     "path": [...], "extensions": {"code": "ACCESS_DENIED",
                                   "documentation": "https://shopify.dev/api/usage/access-scopes"}}

Real messages add which scope is missing ("Access denied for metaobject field. Required access:
`read_metaobjects` access scope.", quoted in several public repositories); the sandbox does too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo

from hub_sandbox.shopify.shop import parse_gid

ACCESS_SCOPES_DOCS = "https://shopify.dev/api/usage/access-scopes"

#: Every scope the sandbox knows, with the description `AccessScope.description` gives.
SCOPES: dict[str, str] = {
    "read_customers": "Read customers",
    "write_customers": "Modify customers",
    "read_orders": "Read orders, transactions and fulfillments",
    "write_orders": "Modify orders, transactions and fulfillments",
    "read_all_orders": "Read all orders beyond the last 60 days",
    "read_customer_data_erasure": "Read customer data erasure requests",
    "write_customer_data_erasure": "Request and cancel customer data erasure",
}

#: (parent type, field) → the scope it needs; fields whose owner decides are in `_BY_OWNER`.
REQUIRED: dict[tuple[str, str], str] = {
    ("QueryRoot", "customer"): "read_customers",
    ("QueryRoot", "customers"): "read_customers",
    ("QueryRoot", "customersCount"): "read_customers",
    ("QueryRoot", "order"): "read_orders",
    ("QueryRoot", "orders"): "read_orders",
    ("Customer", "orders"): "read_orders",
    ("Customer", "lastOrder"): "read_orders",
    ("Order", "customer"): "read_customers",
    ("Mutation", "customerCreate"): "write_customers",
    ("Mutation", "customerUpdate"): "write_customers",
    ("Mutation", "customerDelete"): "write_customers",
    ("Mutation", "customerEmailMarketingConsentUpdate"): "write_customers",
    ("Mutation", "customerRequestDataErasure"): "write_customer_data_erasure",
    ("Mutation", "customerCancelDataErasure"): "write_customer_data_erasure",
}

#: Mutations that need the write scope of the object they change.
_BY_OWNER = {("Mutation", "tagsAdd"): "id", ("Mutation", "tagsRemove"): "id"}
_OWNER_SCOPES = {"Customer": "write_customers", "Order": "write_orders"}


def normalized(scopes: Iterable[str]) -> frozenset[str]:
    """The scopes as given, checked against the ones the sandbox knows."""
    chosen = frozenset(s.strip() for s in scopes if s.strip())
    unknown = sorted(chosen - set(SCOPES))
    if unknown:
        raise ValueError(f"unknown Shopify access scope(s) {', '.join(unknown)}; known: "
                         f"{', '.join(SCOPES)}")
    return chosen


def grants(granted: frozenset[str], scope: str) -> bool:
    """Whether `granted` includes `scope` (a write scope includes its read scope)."""
    return scope in granted or (scope.startswith("read_")
                                and "write_" + scope.removeprefix("read_") in granted)


def access_denied(field: str, scope: str) -> GraphQLError:
    """Shopify's refusal of a field the token's scopes do not cover."""
    return GraphQLError(f"Access denied for {field} field. Required access: `{scope}` access "
                        "scope.", extensions={"code": "ACCESS_DENIED",
                                              "documentation": ACCESS_SCOPES_DOCS})


def _needed(info: GraphQLResolveInfo[Any], args: dict[str, Any]) -> str | None:
    key = (info.parent_type.name, info.field_name)
    if key in REQUIRED:
        return REQUIRED[key]
    if key in _BY_OWNER:
        parsed = parse_gid(str(args.get(_BY_OWNER[key], "")))
        return _OWNER_SCOPES.get(parsed[0]) if parsed else None
    if key == ("Mutation", "metafieldsSet"):
        for item in args.get("metafields") or ():
            parsed = parse_gid(str(item.get("ownerId", "")))
            if parsed and parsed[0] in _OWNER_SCOPES:
                return _OWNER_SCOPES[parsed[0]]
    return None


class ScopeGuard:
    """graphql-core middleware: refuse each field the token's scopes do not cover."""

    def __init__(self, granted: frozenset[str]) -> None:
        self.granted = granted

    def resolve(self, next_: Callable[..., Any], root: Any, info: GraphQLResolveInfo[Any],
                **args: Any) -> Any:
        """Resolve the field, or raise ACCESS_DENIED."""
        scope = _needed(info, args)
        if scope is not None and not grants(self.granted, scope):
            raise access_denied(info.field_name, scope)
        return next_(root, info, **args)
