"""Reading customers: a bulk operation for a large shop's first full read, then pages.

See `hub_shopify.cursor` for the phases. A first read asks how many customers the shop has
(one cheap query): at `bulk_threshold` or more it reads them all through one bulk operation,
otherwise it pages. Every later read pages through the customers changed since the last one.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from hub.plugin import Page, SourceRecord
from hub_shopify.bulk import BulkRead, BulkUnavailable
from hub_shopify.cursor import Cursor
from hub_shopify.customer import OrderTotals, to_record, when
from hub_shopify.graphql import ShopifyAPI
from hub_shopify.queries import MORE_ORDERS, NESTED_ORDERS, count_query, customers_query
from hub_shopify.settings import ShopifySettings

#: Customers per page handed to the engine from a bulk file (each page is one commit).
BULK_PAGE = 1000


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CustomerStream:
    """One read of the customers stream, from a committed cursor."""

    def __init__(self, api: ShopifyAPI, bulk: BulkRead, settings: ShopifySettings, *,
                 clock: Callable[[], datetime], log: Callable[[str], None],
                 bulk_page: int = BULK_PAGE, nested_orders: int = NESTED_ORDERS) -> None:
        self.api = api
        self.bulk_page = bulk_page
        self.query = customers_query(nested_orders)
        self.bulk = bulk
        self.settings = settings
        self.clock = clock
        self.log = log

    def read(self, text: str | None) -> Iterator[Page]:
        """Pages of customers changed since the cursor `text` (None: all of them)."""
        cursor = Cursor.load(text)
        total: int | None = None
        if cursor is None:
            count = self.api.run(count_query(self.settings.api_version), {"query": None},
                                 doing="counting customers")
            counted = count.get("customersCount") or {}
            total = int(counted.get("count") or 0) if counted.get("precision") == "EXACT" \
                else None
            big = int(counted.get("count") or 0) >= self.settings.bulk_threshold
            cursor = Cursor(phase="bulk") if big else Cursor()
        if cursor.phase == "bulk":
            try:
                cursor = yield from self._bulk(cursor)
            except BulkUnavailable as why:
                self.log(f"bulk read unavailable ({why}); paging instead")
                cursor = Cursor()
        yield from self._pages(cursor, total)

    # -- bulk ----------------------------------------------------------------------------------
    def _bulk(self, cursor: Cursor) -> Generator[Page, None, Cursor]:
        operation: dict[str, Any] | None = None
        if cursor.bulk_id is not None:
            try:
                operation = self.bulk.wait(cursor.bulk_id)
            except BulkUnavailable:
                cursor = Cursor(phase="bulk")  # dropped by Shopify: start again from scratch
        if operation is None:
            started = self.clock()
            bulk_id = self.bulk.start()
            cursor = Cursor(phase="bulk", bulk_id=bulk_id, bulk_started=_iso(started))
            operation = self.bulk.wait(bulk_id)
        total = int(operation.get("rootObjectCount") or 0)
        done = cursor.bulk_done
        batch: list[SourceRecord] = []
        for node, orders in self.bulk.customers(operation, skip=done):
            batch.append(self._record(node, orders))
            if len(batch) >= self.bulk_page:
                done += len(batch)
                yield Page(batch, cursor.advanced(bulk_done=done).dump(), total=total)
                batch = []
        done += len(batch)
        started = when(cursor.bulk_started) or self.clock()
        since = _iso(started - timedelta(seconds=self.settings.overlap_s))
        after_bulk = Cursor(phase="page", since=since)
        yield Page(batch, after_bulk.dump(), total=total)
        return after_bulk

    # -- pages ---------------------------------------------------------------------------------
    def _pages(self, cursor: Cursor, total: int | None) -> Iterator[Page]:
        query = f"updated_at:>='{cursor.since}'" if cursor.since else None
        after, newest = cursor.after, cursor.newest
        while True:
            data = self.api.run(self.query, {"first": self.settings.page_size, "after": after,
                                            "query": query}, doing="reading customers")
            connection = data["customers"]
            records = []
            for node in connection["nodes"]:
                records.append(self._record(node, self._orders(node)))
                newest = max(newest or "", node.get("updatedAt") or "") or None
            info = connection["pageInfo"]
            if info["hasNextPage"]:
                after = info["endCursor"]
                yield Page(records, cursor.advanced(phase="page", after=after,
                                                    newest=newest).dump(), total=total)
                continue
            since, moment = cursor.since, when(newest)
            if moment is not None:
                since = _iso(moment - timedelta(seconds=self.settings.overlap_s))
            yield Page(records, Cursor(phase="page", since=since).dump(), total=total)
            return

    def _orders(self, node: dict[str, Any]) -> OrderTotals:
        """Order totals of a paged customer, fetching past the nested first page if needed."""
        orders = node.get("orders") or {}
        totals = OrderTotals.of(orders.get("nodes") or ())
        info = orders.get("pageInfo") or {}
        while info.get("hasNextPage"):
            data = self.api.run(MORE_ORDERS, {"id": node["id"], "after": info["endCursor"]},
                                doing="reading a customer's orders")
            more = (data.get("customer") or {}).get("orders") or {}
            for order in more.get("nodes") or ():
                totals.add(order)
            info = more.get("pageInfo") or {}
        return totals

    def _record(self, node: dict[str, Any], orders: OrderTotals) -> SourceRecord:
        return to_record(node, orders, shop=self.settings.shop,
                         tag_prefix=self.settings.tag_prefix)
