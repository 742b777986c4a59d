"""The read resolvers: every object type's fields answered from the simulated shop's state.

`shopify_schema.load_schema` binds them (and `shopify_mutations`' resolvers) to the SDL, so a
client's own selections, aliases and fragments are answered by graphql-core, not by us.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLResolveInfo,
    get_named_type,
)

from hub_sandbox.shopify.bulk import BulkOperation, BulkOperations
from hub_sandbox.shopify.connection import SortKey, paginate
from hub_sandbox.shopify.schema import Resolver, format_datetime
from hub_sandbox.shopify.scopes import SCOPES, grants
from hub_sandbox.shopify.search import Search, SearchField
from hub_sandbox.shopify.shop import (
    SHOP_ID,
    AppInstallation,
    Customer,
    Metafield,
    Shop,
    ShopOrder,
    country_name,
    gid,
    parse_gid,
)

if TYPE_CHECKING:
    from hub_sandbox.shopify.simulator import ShopifyLimits

Info: TypeAlias = "GraphQLResolveInfo[Context]"

#: Without the `read_all_orders` scope Shopify shows only this much order history.
RECENT_ORDERS = timedelta(days=60)


@dataclass
class Context:
    """What every resolver of one request sees."""

    shop: Shop
    limits: ShopifyLimits
    now: datetime
    base_url: str
    bulk: BulkOperations
    #: The API version answering this request (the token's scopes are `limits.scopes`).
    version: str
    unbounded: bool = False


def ctx(info: Info) -> Context:
    """The request context of a resolver call."""
    return info.context


# lookups ---------------------------------------------------------------------------------------

def invalid_gid(value: str) -> GraphQLError:
    """What Shopify answers for an `ID!` argument that is not a global id."""
    return GraphQLError(f"Invalid global id '{value}'",
                        extensions={"code": "argumentLiteralsIncompatible",
                                    "typeName": "CoercionError"})


def visible(context: Context, order: ShopOrder) -> bool:
    """Orders older than 60 days are hidden unless the token has `read_all_orders`."""
    return grants(context.limits.scopes, "read_all_orders") \
        or order.created_at >= context.now - RECENT_ORDERS


def find(context: Context, value: str, *, kinds: tuple[str, ...] | None = None,
         poll: bool = True) -> Any:
    """The object a gid names (None if unknown or of another kind); bad gids raise."""
    parsed = parse_gid(value)
    if parsed is None:
        raise invalid_gid(value)
    kind, number = parsed
    if kinds is not None and kind not in kinds:
        return None
    shop = context.shop
    if kind == "Customer":
        return shop.customers.get(number)
    if kind == "Order":
        order = shop.orders.get(number)
        return order if order is not None and visible(context, order) else None
    if kind == "BulkOperation":
        operation = context.bulk.get(number)
        if operation is not None and poll:
            context.bulk.poll(operation)
        return operation
    if kind == "Shop":
        return shop if number == SHOP_ID else None
    if kind == "MailingAddress":
        return next((a for c in shop.customers.values() for a in c.addresses
                     if a.id == number), None)
    if kind == "Metafield":
        return next((m for m in _all_metafields(shop) if m.id == number), None)
    return None


def _all_metafields(shop: Shop) -> list[Metafield]:
    found = list(shop.shop_metafields.values())
    for customer in shop.customers.values():
        found.extend(customer.metafields.values())
    for order in shop.orders.values():
        found.extend(order.metafields.values())
    return found


# field helpers ---------------------------------------------------------------------------------

def attr(name: str) -> Resolver:
    """Resolve a field from a same-meaning attribute with a Python name."""
    return lambda obj, _info, **_args: getattr(obj, name)


def const(value: Any) -> Resolver:
    """A field whose value the simulator does not model beyond a fixed answer."""
    return lambda _obj, _info, **_args: value


def money(context: Context, amount: Decimal, currency: str | None = None) -> dict[str, Any]:
    """A MoneyV2 dict."""
    return {"amount": amount, "currencyCode": currency or context.shop.currency}


def page(context: Context, items: Sequence[Any], key: Callable[[Any], SortKey],
         args: dict[str, Any], field: str) -> dict[str, Any]:
    """One connection page with the shop's page-size limit (whole connections in bulk runs)."""
    return paginate(items, key, args, field=field, unbounded=context.unbounded,
                    max_page=context.limits.max_page_size)


def iso(moment: datetime) -> str:
    """Sortable text of a timestamp for sort keys and cursors."""
    return format_datetime(moment)


def metafield_resolvers() -> dict[str, Resolver]:
    """`metafield` and `metafields` for any owner with a `metafields` dict."""
    def holder(obj: Any) -> dict[tuple[str, str], Metafield]:
        return cast(dict[tuple[str, str], Metafield],
                    obj.shop_metafields if isinstance(obj, Shop) else obj.metafields)

    def one(obj: Any, info: Info, key: str,
            namespace: str | None = None) -> Metafield | None:
        return holder(obj).get((namespace or ctx(info).limits.app_namespace, key))

    def many(obj: Any, info: Info, **args: Any) -> dict[str, Any]:
        items = [m for m in holder(obj).values()
                 if (args.get("namespace") is None or m.namespace == args["namespace"])
                 and (args.get("keys") is None or f"{m.namespace}.{m.key}" in args["keys"])]
        return page(ctx(info), items, lambda m: (m.id, m.id), args, "metafields")

    return {"metafield": one, "metafields": many}


# customers -------------------------------------------------------------------------------------

def _customer_sort(sort_key: str) -> Callable[[Customer], SortKey]:
    if sort_key == "UPDATED_AT":
        return lambda c: (iso(c.updated_at), c.id)
    if sort_key == "CREATED_AT":
        return lambda c: (iso(c.created_at), c.id)
    if sort_key == "NAME":
        return lambda c: (c.display_name.lower(), c.id)
    if sort_key == "LOCATION":
        def location(c: Customer) -> SortKey:
            address = c.addresses[0] if c.addresses else None
            place = f"{address.country_code or ''}|{address.city or ''}" if address else ""
            return place.lower(), c.id
        return location
    return lambda c: (c.id, c.id)


def customer_search(context: Context, query: str | None) -> Search[Customer]:
    """The customer search fields Shopify documents (the common ones)."""
    shop = context.shop
    fields: dict[str, SearchField[Customer]] = {
        "id": SearchField("number", lambda c: c.id),
        "created_at": SearchField("date", lambda c: c.created_at),
        "updated_at": SearchField("date", lambda c: c.updated_at),
        "email": SearchField("text", lambda c: c.email),
        "first_name": SearchField("text", lambda c: c.first_name),
        "last_name": SearchField("text", lambda c: c.last_name),
        "phone": SearchField("text", lambda c: c.phone),
        "tag": SearchField("tags", lambda c: c.tags),
        "country": SearchField("text", lambda c: c.addresses[0].country_code
                               if c.addresses else None),
        "state": SearchField("enum", lambda c: "DISABLED"),
        "orders_count": SearchField("number", lambda c: len(shop.orders_of(c))),
        "total_spent": SearchField("number", shop.amount_spent),
        "amount_spent": SearchField("number", shop.amount_spent),
    }
    return Search(query, fields, lambda c: (c.first_name, c.last_name, c.email, c.phone))


def customers(_root: Any, info: Info, **args: Any) -> dict[str, Any]:
    """`customers(first, after, query, sortKey, reverse)`."""
    context = ctx(info)
    matches = customer_search(context, args.get("query"))
    rows = [c for c in context.shop.customers.values() if matches(c)]
    return page(context, rows, _customer_sort(args.get("sortKey", "ID")), args,
                "customers")


def customers_count(_root: Any, info: Info, query: str | None = None,
                    limit: int | None = None) -> dict[str, Any]:
    """`customersCount`: exact up to `limit`, AT_LEAST beyond.

    From 2025-07 the schema gives `limit` its default of 10000; before, there is no `limit`
    and the count is not capped.
    """
    context = ctx(info)
    matches = customer_search(context, query)
    count = sum(1 for c in context.shop.customers.values() if matches(c))
    if limit is not None and count > limit:
        return {"count": limit, "precision": "AT_LEAST"}
    return {"count": count, "precision": "EXACT"}


def email_consent(customer: Customer, _info: Info) -> dict[str, Any] | None:
    """Null without an e-mail address, except after erasure (then REDACTED)."""
    if customer.email is None and not customer.redacted:
        return None
    consent = customer.consent
    return {"marketingState": consent.state, "marketingOptInLevel": consent.opt_in_level,
            "consentUpdatedAt": consent.updated_at}


def default_email(customer: Customer, _info: Info) -> dict[str, Any] | None:
    """`defaultEmailAddress` (newer API versions' home of the e-mail consent)."""
    if customer.email is None:
        return None
    consent = customer.consent
    return {"emailAddress": customer.email, "marketingState": consent.state,
            "marketingOptInLevel": consent.opt_in_level, "marketingUpdatedAt": consent.updated_at}


def default_phone(customer: Customer, _info: Info) -> dict[str, Any] | None:
    """`defaultPhoneNumber`; SMS consent is not simulated, so it is never subscribed."""
    if customer.phone is None:
        return None
    return {"phoneNumber": customer.phone, "marketingState": "NOT_SUBSCRIBED",
            "marketingOptInLevel": "SINGLE_OPT_IN", "marketingUpdatedAt": None,
            "marketingCollectedFrom": None}


def customer_orders(customer: Customer, info: Info, **args: Any) -> dict[str, Any]:
    """`Customer.orders`."""
    context = ctx(info)
    return _orders(context, context.shop.orders_of(customer), args)


def customer_field(_root: Any, info: Info, id: str) -> Any:
    """`customer(id:)`."""
    return find(ctx(info), id, kinds=("Customer",))


CUSTOMER: dict[str, Resolver] = {
    "id": attr("gid"),
    "legacyResourceId": attr("id"),
    "firstName": attr("first_name"),
    "lastName": attr("last_name"),
    "displayName": attr("display_name"),
    "createdAt": attr("created_at"),
    "updatedAt": attr("updated_at"),
    "taxExempt": attr("tax_exempt"),
    "state": const("DISABLED"),
    "verifiedEmail": lambda c, _info: c.email is not None,
    "canDelete": lambda c, info: not ctx(info).shop.orders_of(c),
    "numberOfOrders": lambda c, info: len(ctx(info).shop.orders_of(c)),
    "amountSpent": lambda c, info: money(ctx(info), ctx(info).shop.amount_spent(c)),
    "emailMarketingConsent": email_consent,
    "defaultEmailAddress": default_email,
    "defaultPhoneNumber": default_phone,
    "defaultAddress": lambda c, _info: c.addresses[0] if c.addresses else None,
    "addresses": lambda c, _info, first=None: c.addresses[:first] if first else c.addresses,
    "lastOrder": lambda c, info: ctx(info).shop.last_order(c),
    "orders": customer_orders,
    **metafield_resolvers(),
}

ADDRESS: dict[str, Resolver] = {
    "id": lambda a, _info: gid("MailingAddress", a.id) + "?model_name=CustomerAddress",
    "countryCodeV2": lambda a, info: a.country_code
    if a.country_code in cast(GraphQLEnumType, get_named_type(info.return_type)).values else None,
    "country": lambda a, _info: country_name(a.country_code),
    "firstName": attr("first_name"),
    "lastName": attr("last_name"),
    "name": lambda a, _info: " ".join(p for p in (a.first_name, a.last_name) if p) or None,
    "province": attr("province_code"),
    "provinceCode": attr("province_code"),
    "formatted": lambda a, _info, withName=False, withCompany=True: [
        line for line in (
            " ".join(p for p in (a.first_name, a.last_name) if p) if withName else None,
            a.company if withCompany else None, a.address1, a.address2,
            " ".join(p for p in (a.zip, a.city) if p), country_name(a.country_code))
        if line],
}


# orders ----------------------------------------------------------------------------------------

def _order_sort(context: Context, sort_key: str) -> Callable[[ShopOrder], SortKey]:
    shop = context.shop
    keys: dict[str, Callable[[ShopOrder], Any]] = {
        "CREATED_AT": lambda o: iso(o.created_at),
        "UPDATED_AT": lambda o: iso(o.updated_at),
        "PROCESSED_AT": lambda o: iso(o.processed_at),
        "ORDER_NUMBER": lambda o: o.number,
        "TOTAL_PRICE": lambda o: float(o.total),
        "FINANCIAL_STATUS": lambda o: o.financial_status,
        "CUSTOMER_NAME": lambda o: (shop.customers[o.customer_id].display_name.lower()
                                    if o.customer_id in shop.customers else ""),
    }
    value = keys.get(sort_key, _order_id)
    return lambda o: (value(o), o.id)


def _order_id(order: ShopOrder) -> int:
    return order.id


def order_search(context: Context, query: str | None) -> Search[ShopOrder]:
    """The order search fields a sync uses."""
    fields: dict[str, SearchField[ShopOrder]] = {
        "id": SearchField("number", lambda o: o.id),
        "created_at": SearchField("date", lambda o: o.created_at),
        "updated_at": SearchField("date", lambda o: o.updated_at),
        "processed_at": SearchField("date", lambda o: o.processed_at),
        "customer_id": SearchField("number", lambda o: o.customer_id),
        "email": SearchField("text", lambda o: o.email),
        "name": SearchField("text", lambda o: o.name),
        "financial_status": SearchField("enum", lambda o: o.financial_status),
        "tag": SearchField("tags", lambda o: o.tags),
    }
    return Search(query, fields, lambda o: (o.name, o.email))


def _orders(context: Context, rows: list[ShopOrder], args: dict[str, Any]) -> dict[str, Any]:
    matches = order_search(context, args.get("query"))
    shown = [o for o in rows if visible(context, o) and matches(o)]
    return page(context, shown, _order_sort(context, args.get("sortKey", "ID")), args, "orders")


def orders(_root: Any, info: Info, **args: Any) -> dict[str, Any]:
    """Top-level `orders(first, after, query, sortKey)`; a query naming customers
    (``customer_id:…``) starts from their orders rather than the whole shop's."""
    context = ctx(info)
    shop = context.shop
    customers = order_search(context, args.get("query")).pinned("customer_id")
    if customers is None:
        return _orders(context, list(shop.orders.values()), args)
    rows = [order for number in sorted(customers) if number.isdigit()
            for order in shop.orders_of_id(int(number))]
    return _orders(context, rows, args)


def _money_bag(order: ShopOrder, amount: Decimal, info: Info) -> dict[str, Any]:
    value = money(ctx(info), amount, order.currency)
    return {"shopMoney": value, "presentmentMoney": value}


ORDER: dict[str, Resolver] = {
    "id": attr("gid"),
    "legacyResourceId": attr("id"),
    "createdAt": attr("created_at"),
    "updatedAt": attr("updated_at"),
    "processedAt": attr("processed_at"),
    "cancelledAt": attr("cancelled_at"),
    "closed": const(False),
    "test": const(False),
    "currencyCode": attr("currency"),
    "displayFinancialStatus": attr("financial_status"),
    "totalPriceSet": lambda o, info: _money_bag(o, o.total, info),
    "currentTotalPriceSet": lambda o, info: _money_bag(o, o.current_total, info),
    "customer": lambda o, info: ctx(info).shop.customers.get(o.customer_id),
    **metafield_resolvers(),
}


# the rest --------------------------------------------------------------------------------------

def _json_value(metafield: Metafield, _info: Info) -> Any:
    if metafield.type == "json":
        return json.loads(metafield.value)
    if metafield.type == "number_integer":
        return int(metafield.value)
    if metafield.type == "boolean":
        return metafield.value == "true"
    return metafield.value


METAFIELD: dict[str, Resolver] = {
    "id": lambda m, _info: gid("Metafield", m.id),
    "jsonValue": _json_value,
    "description": const(None),
    "ownerType": attr("owner_type"),
    "createdAt": attr("created_at"),
    "updatedAt": attr("updated_at"),
}

SHOP: dict[str, Resolver] = {
    "id": const(gid("Shop", SHOP_ID)),
    "name": lambda _s, info: ctx(info).limits.shop_name,
    "email": lambda _s, info: f"owner@{ctx(info).limits.shop}",
    "myshopifyDomain": lambda _s, info: ctx(info).limits.shop,
    "currencyCode": attr("currency"),
    "ianaTimezone": const("Europe/Berlin"),
    **metafield_resolvers(),
}


def current_bulk_operation(_root: Any, info: Info,
                           type: str = "QUERY") -> BulkOperation | None:
    """`currentBulkOperation`: the newest operation; reading it is a poll."""
    context = ctx(info)
    operation = context.bulk.current(type)
    if operation is not None:
        context.bulk.poll(operation)
    return operation


BULK_OPERATION: dict[str, Resolver] = {
    "id": attr("gid"),
    "type": attr("kind"),
    "errorCode": attr("error_code"),
    "createdAt": attr("created_at"),
    "completedAt": attr("completed_at"),
    "objectCount": attr("object_count"),
    "rootObjectCount": attr("root_object_count"),
    "fileSize": lambda op, _info: op.file_size if op.status == "COMPLETED" else None,
    "url": lambda op, info: ctx(info).bulk.url(op, ctx(info).base_url),
    "partialDataUrl": const(None),
}

QUERY_ROOT: dict[str, Resolver] = {
    "shop": lambda _root, info: ctx(info).shop,
    "node": lambda _root, info, id: find(ctx(info), id),
    "nodes": lambda _root, info, ids: [find(ctx(info), value) for value in ids],
    "customer": customer_field,
    "customers": customers,
    "customersCount": customers_count,
    "order": lambda _root, info, id: find(ctx(info), id, kinds=("Order",)),
    "orders": orders,
    "bulkOperation": lambda _root, info, id: find(
        ctx(info), id, kinds=("BulkOperation",)),
    "currentBulkOperation": current_bulk_operation,
    "currentAppInstallation": lambda _root, info: AppInstallation(APP_INSTALLATION_ID,
                                                                  ctx(info).limits.scopes),
}

#: The sandbox app's installation id (one app per token).
APP_INSTALLATION_ID = 900_000_000_001

APP_INSTALLATION: dict[str, Resolver] = {
    "id": attr("gid"),
    "accessScopes": lambda app, _info: [{"handle": scope, "description": SCOPES[scope]}
                                        for scope in sorted(app.scopes)],
}

READ_RESOLVERS: dict[str, dict[str, Resolver]] = {
    "QueryRoot": QUERY_ROOT,
    "Customer": CUSTOMER,
    "MailingAddress": ADDRESS,
    "Order": ORDER,
    "Metafield": METAFIELD,
    "Shop": SHOP,
    "BulkOperation": BULK_OPERATION,
    "AppInstallation": APP_INSTALLATION,
}
