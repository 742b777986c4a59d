"""Paging customers with their orders in as few queries as Shopify's cost cap allows.

Shopify charges a query its *requested* cost before running it and refuses one above 1000
points (MAX_COST_EXCEEDED). What a selection is charged is Shopify's business: its documented
rule (objects 1, connections 2 + `first` × an item) gave ~500 for a `customers(first: 250)`
that a real shop answered with a requested cost of 25. So every document here is planned with
that rule as a *shape* only, and scaled by what Shopify reported for the previous document
(`extensions.cost.requestedQueryCost` ÷ the rule's estimate); a MAX_COST_EXCEEDED answer
doubles the scale (or takes the reported cost) and the same step is sent smaller.

Customers are read with their `lastOrder` (one object each) and without nested orders: a
nested `orders(first: k)` is charged k for every customer, with orders or without. A customer
with one order is then complete. For a customer with more, each document carries, next to the
next page of customers, one aliased ``orders(first: numberOfOrders - 1, query: "customer_id:…")``
(the root connection: 2 points and one per order, where ``customer(id:) { orders }`` adds the
customer object), so a customer's orders cost what it has. Orders are told apart by id, so the
last order met again in a follow-up counts once and the one still missing is asked for. A page
is handed on once every one of its customers' orders is in, pages in order; new pages are only
asked for when every waiting order follow-up fits the document, so the backlog stays one page
deep.

A customer missing exactly one order (two orders, the last one known) would pay 3 points for
a follow-up of its own; those customers share one instead, ``orders(query: "(customer_id:1
-id:9) OR (customer_id:2 -id:8) …")`` with each order's `customer { id }`: 2 points each.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from hub_shopify.customer import OrderTotals
from hub_shopify.graphql import MAX_QUERY_COST, CostExceeded, ShopifyAPI
from hub_shopify.queries import read_query

#: Shopify's largest page ("first/last max 250") and the most follow-ups one document carries.
MAX_PAGE = 250
#: The rule's shape (Shopify's "Calculating query costs": object 1, connection 2 + first ×
#: item): a customer is its node and four objects (amountSpent, emailMarketingConsent,
#: defaultAddress, lastOrder); an order follow-up is its orders connection and one per order
#: asked for; the customers connection and the count add their own.
CUSTOMER_UNITS = 5
FOLLOW_UP_UNITS = 2
#: An order in a shared follow-up: the order and its `customer` object (whose order it is).
SHARED_ORDER_UNITS = 2
#: Customers missing exactly one order share one follow-up of this many at most (a short
#: search string), and only from three on (2 + 2 × 3 points against 3 × 3 apart).
SHARED_MAX = 50
SHARED_MIN = 3
CONNECTION_UNITS = 2
COUNT_UNITS = 1
#: Orders nested per customer in a read's first document: a read of a few changed customers
#: is then one call (most customers have fewer orders; those with more get a follow-up).
FIRST_NESTED = 10


@dataclass
class _Customer:
    node: dict[str, Any]
    totals: OrderTotals = field(default_factory=OrderTotals)
    waiting: bool = False
    #: Ids of the orders counted so far (the last order can come twice).
    seen: set[str] = field(default_factory=set)
    #: The id of the customer's `lastOrder`, when Shopify named one.
    last: str | None = None

    def add(self, order: dict[str, Any]) -> None:
        """Count `order` unless it has been counted."""
        key = str(order.get("id") or "")
        if key and key in self.seen:
            return
        if key:
            self.seen.add(key)
        self.totals.add(order)

    @property
    def missing(self) -> int:
        """Orders Shopify counts for the customer that have not been met yet."""
        return max(0, _number(self.node.get("numberOfOrders")) - len(self.seen))


@dataclass
class _FollowUp:
    customer: _Customer
    first: int
    after: str | None = None


@dataclass
class Batch:
    """One page of customers with complete order totals, and where the read stands."""

    customers: list[tuple[dict[str, Any], OrderTotals]]
    end_cursor: str | None
    has_next: bool


@dataclass(frozen=True)
class Extra:
    """A field the first document of a read carries besides customers (`field` as written,
    with its `declared` variables and their `variables`); its answer is `PagedRead.extra`."""

    alias: str
    field: str
    declared: str
    variables: dict[str, Any]


@dataclass
class _Page:
    customers: list[_Customer]
    end_cursor: str | None
    has_next: bool


class PagedRead:
    """Pages of ``customers(sortKey: UPDATED_AT, query:)`` with each customer's orders."""

    def __init__(self, api: ShopifyAPI, version: str, *, first_page: int,
                 first_nested: int = FIRST_NESTED, max_cost: float = MAX_QUERY_COST) -> None:
        self.api = api
        self.first_nested = first_nested
        self.version = version
        self.first_page = min(MAX_PAGE, max(1, first_page))
        self.max_cost = max_cost
        #: Points Shopify charges per unit of the rule's estimate, learned from its answers;
        #: None until the first answer (the first page is then `first_page` customers).
        self.scale: float | None = None
        #: The count of a full read's first document (`customersCount`), when asked for.
        self.count: dict[str, Any] | None = None
        #: The answer to the first document's `Extra` field, when one was asked for.
        self.extra: dict[str, Any] | None = None

    def read(self, query: str | None, after: str | None, *, count: bool = False,
             stop: Callable[[dict[str, Any]], bool] = lambda _count: False,
             extra: Extra | None = None) -> Iterator[Batch]:
        """Complete pages from `after` on; with `count`, the first document also counts the
        customers matching and `stop(count)` may end the read right there. The first
        document also carries `extra` (its answer is `self.extra` by the time `stop` runs)."""
        pending: deque[_FollowUp] = deque()
        shared: deque[_Customer] = deque()
        pages: deque[_Page] = deque()
        more = True
        while more or pending or shared:
            if len(shared) < SHARED_MIN and not more:
                pending.extend(_FollowUp(customer, 1) for customer in shared)
                shared.clear()
            nested = self.first_nested if self.scale is None else 0
            group, picked, page_size, units = self._plan(shared, pending, more, count, nested)
            variables: dict[str, Any] = {"query": query} if (page_size or count) else {}
            if page_size:
                variables.update(first=page_size, after=after)
            for i, item in enumerate(picked):
                variables[f"q{i}"] = f"customer_id:{_legacy_id(item.customer.node['id'])}"
                variables[f"after{i}"] = item.after
            if group:
                variables["shared"] = " OR ".join(
                    f"(customer_id:{_legacy_id(c.node['id'])} -id:{_legacy_id(c.last)})"
                    for c in group)
            if extra is not None:
                variables.update(extra.variables)
            document = read_query(self.version, page=bool(page_size), count=count,
                                  nested=nested, orders=[item.first for item in picked],
                                  shared=len(group),
                                  extra=(extra.declared, extra.field) if extra else None)
            try:
                data = self.api.run(document, variables, doing="reading customers",
                                    cost=units * (self.scale or 1.0))
            except CostExceeded as refused:
                # the same step again, smaller: by what Shopify reported, at least halved
                reported = refused.requested / units if refused.requested else 0.0
                self.scale = max(2 * (self.scale or 1.0), reported)
                pending.extendleft(reversed(picked))
                shared.extendleft(reversed(group))
                continue
            self._learn(units)
            if extra is not None:
                self.extra = data.get(extra.alias)
                extra = None
            if count:
                count = False
                self.count = dict(data.get("customersCount") or {})
                if stop(self.count):
                    return
            for i, item in enumerate(picked):
                self._absorb(item, data.get(f"o{i}"), pending)
            if group:
                self._absorb_shared(group, data.get("shared"), pending)
            if page_size:
                connection = data["customers"]
                customers = [_Customer(node) for node in connection["nodes"]]
                for customer in customers:
                    self._first_orders(customer, bool(nested), pending, shared)
                info = connection["pageInfo"]
                more = bool(info["hasNextPage"])
                after = info["endCursor"] or after
                pages.append(_Page(customers, after, more))
            while pages and not any(c.waiting for c in pages[0].customers):
                done = pages.popleft()
                yield Batch([(c.node, c.totals) for c in done.customers], done.end_cursor,
                            done.has_next)

    def _plan(self, shared: deque[_Customer], pending: deque[_FollowUp], more: bool,
              count: bool, nested: int) -> tuple[list[_Customer], list[_FollowUp], int, float]:
        """What the next document carries: follow-ups first (the shared one, then one per
        customer), then a page if all of them fit."""
        budget = self.max_cost / (self.scale or 1.0)
        units = CONNECTION_UNITS + (COUNT_UNITS if count else 0) if more else 0.0
        group: list[_Customer] = []
        if len(shared) >= SHARED_MIN:
            room = math.floor((budget - units - FOLLOW_UP_UNITS) / SHARED_ORDER_UNITS)
            while shared and len(group) < min(SHARED_MAX, room):
                group.append(shared.popleft())
            if group:
                units += FOLLOW_UP_UNITS + SHARED_ORDER_UNITS * len(group)
        picked: list[_FollowUp] = []
        while pending and len(picked) < MAX_PAGE:
            item = pending[0]
            cost = FOLLOW_UP_UNITS + item.first
            if units + cost > budget:
                if picked or group:
                    break
                # a single customer's orders over budget: ask for fewer of them
                item.first = max(1, math.floor(budget - units - FOLLOW_UP_UNITS))
                cost = FOLLOW_UP_UNITS + item.first
            picked.append(pending.popleft())
            units += cost
        page_size = 0
        per_customer = CUSTOMER_UNITS + (CONNECTION_UNITS + nested if nested else 0)
        if more and not pending and len(shared) < SHARED_MIN:
            fits = math.floor((budget - units) / per_customer)
            page_size = max(1, min(MAX_PAGE, fits if self.scale is not None
                                   else self.first_page))
        if not page_size and more:
            units -= CONNECTION_UNITS + (COUNT_UNITS if count else 0)
        if page_size:
            units += per_customer * page_size
        return group, picked, page_size, max(units, 1.0)

    def _learn(self, units: float) -> None:
        requested = self.api.last_cost.get("requestedQueryCost")
        if requested is not None and units > 0:
            self.scale = max(float(requested) / units, 1e-3)

    @staticmethod
    def _first_orders(customer: _Customer, nested: bool, pending: deque[_FollowUp],
                      shared: deque[_Customer]) -> None:
        """The last order and nested orders a customer came with; a follow-up for the rest
        (a shared one for a customer missing one order besides its known last one)."""
        last = customer.node.pop("lastOrder", None)
        if last:
            customer.add(last)
            customer.last = str(last.get("id") or "") or None
        orders = customer.node.pop("orders", None) if nested else None
        after = None
        if orders is not None:
            for order in orders.get("nodes") or ():
                customer.add(order)
            info = orders.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return
            after = info.get("endCursor")
        if customer.missing == 0:
            return
        customer.waiting = True
        if customer.missing == 1 and after is None and customer.last is not None:
            shared.append(customer)
            return
        pending.append(_FollowUp(customer, min(MAX_PAGE, customer.missing), after))

    @staticmethod
    def _absorb_shared(group: list[_Customer], answer: dict[str, Any] | None,
                       pending: deque[_FollowUp]) -> None:
        """Hand the shared follow-up's orders to their customers; a customer still missing
        one (an order placed since, a last order that was not the newest) asks on its own."""
        by_id = {str(c.node["id"]): c for c in group}
        for order in (answer or {}).get("nodes") or ():
            owner = by_id.get(str((order.get("customer") or {}).get("id")))
            if owner is not None:
                owner.add(order)
        for customer in group:
            if customer.missing and answer is not None:
                pending.append(_FollowUp(customer, min(MAX_PAGE, customer.missing)))
            else:
                customer.waiting = False

    @staticmethod
    def _absorb(item: _FollowUp, answer: dict[str, Any] | None,
                pending: deque[_FollowUp]) -> None:
        """Add a follow-up's orders; ask again where Shopify has more than were met."""
        customer = item.customer
        nodes = (answer or {}).get("nodes") or ()
        for order in nodes:
            customer.add(order)
        info = (answer or {}).get("pageInfo") or {}
        if answer is not None and info.get("hasNextPage") and customer.missing:
            pending.appendleft(_FollowUp(customer, min(MAX_PAGE, customer.missing),
                                         info.get("endCursor")))
        else:
            customer.waiting = False


def _legacy_id(gid: Any) -> str:
    """The number at the end of a global id (``gid://shopify/Customer/123`` → 123), which is
    what the `customer_id:` search filter takes."""
    return str(gid).rsplit("/", 1)[-1].split("?", 1)[0]


def _number(value: Any) -> int:
    """An UnsignedInt64 (Shopify serializes it as a string)."""
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0
