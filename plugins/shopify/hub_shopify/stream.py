"""Reading customers: a bulk operation for a large shop's first full read, then pages.

See `hub_shopify.cursor` for the phases. Choosing needs the number of customers, a query,
and the bulk job is started by a mutation: one document cannot hold both, so asking first
would cost a large shop a call more than the job itself (start, poll, file). So a first read
starts the job at once and asks the count in the first document it sends anyway, the job's
first poll, which also carries the first page of customers: at `bulk_threshold` customers or
more the read goes on with the job (that page is dropped; the file has them), otherwise the
job is cancelled (when it still runs) and the read goes on paging from that page, a call or
two more than paging alone, once per shop. `bulk_threshold = 0` reads every shop in bulk
without counting; `bulk_reads = false` pages every shop (the count then rides along with the
first page, for the progress total). While another bulk job of this app runs, the first read
pages. Every later read pages through the customers changed since the last one, starting
where the bulk job started: changes made while the job ran are read then, not by an extra
query right after the file.
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
from hub_shopify.pages import FIRST_NESTED, Extra, PagedRead
from hub_shopify.queries import BULK_POLL_FIELD
from hub_shopify.settings import ShopifySettings

#: Customers per page handed to the engine from a bulk file (each page is one commit).
BULK_PAGE = 1000


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class CustomerStream:
    """One read of the customers stream, from a committed cursor."""

    def __init__(self, api: ShopifyAPI, bulk: BulkRead, settings: ShopifySettings, *,
                 clock: Callable[[], datetime], log: Callable[[str], None],
                 bulk_page: int = BULK_PAGE, nested_orders: int = FIRST_NESTED) -> None:
        self.api = api
        self.bulk_page = bulk_page
        self.paged = PagedRead(api, settings.api_version, first_page=settings.page_size,
                               first_nested=nested_orders)
        self.bulk = bulk
        self.settings = settings
        self.clock = clock
        self.log = log

    def read(self, text: str | None) -> Iterator[Page]:
        """Pages of customers changed since the cursor `text` (None: all of them)."""
        cursor = Cursor.load(text)
        threshold = self.settings.bulk_threshold
        operation: dict[str, Any] | None = None
        if cursor is None and threshold == 0 and self.settings.bulk_reads:
            cursor = Cursor(phase="bulk")
        elif cursor is None:
            started = self.clock()
            bulk_id = self._start_quietly() if self.settings.bulk_reads else None
            if bulk_id is None:
                yield from self._pages(Cursor(), count=lambda _counted: False)
                return
            big: list[bool] = []

            def to_bulk(counted: dict[str, Any]) -> bool:
                big.append(int(counted.get("count") or 0) >= threshold)
                polled = self.paged.extra or {}
                if not big[0] and polled.get("status") in ("CREATED", "RUNNING"):
                    self.bulk.cancel(bulk_id)
                return big[0]

            poll = Extra("bulk", BULK_POLL_FIELD, "$bulk: ID!", {"bulk": bulk_id})
            yield from self._pages(Cursor(), count=to_bulk, extra=poll)
            if not big or not big[0]:
                return
            cursor = Cursor(phase="bulk", bulk_id=bulk_id, bulk_started=_iso(started))
            polled = self.paged.extra or {}
            operation = dict(polled) if polled.get("status") == "COMPLETED" else None
        if cursor.phase == "bulk":
            try:
                yield from self._bulk(cursor, operation)
                return
            except BulkUnavailable as why:
                self.log(f"bulk read unavailable ({why}); paging instead")
                cursor = Cursor()
        yield from self._pages(cursor)

    def _start_quietly(self) -> str | None:
        """A bulk job started for a first read whose size is not known yet; None (page
        instead) when another bulk job of this app is running."""
        try:
            return self.bulk.start(wait=False)
        except BulkUnavailable as why:
            self.log(f"bulk read unavailable ({why}); paging instead")
            return None

    # -- bulk ----------------------------------------------------------------------------------
    def _bulk(self, cursor: Cursor,
              operation: dict[str, Any] | None = None) -> Generator[Page, None, Cursor]:
        """The job's file as pages; `operation` is the job when it is known to be done."""
        if operation is None and cursor.bulk_id is not None:
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
    def _pages(self, cursor: Cursor, count: Callable[[dict[str, Any]], bool] | None = None,
               extra: Extra | None = None) -> Iterator[Page]:
        """Customers updated since `cursor.since`, with their orders; `count` (a full read's
        first document) is told how many customers there are and may stop the read; `extra`
        rides along with the first document."""
        query = f"updated_at:>='{cursor.since}'" if cursor.since else None
        newest = cursor.newest
        total: int | None = None
        batches = self.paged.read(query, cursor.after, count=count is not None,
                                  stop=count or (lambda _c: False), extra=extra)
        for batch in batches:
            counted = self.paged.count or {}
            if counted.get("precision") == "EXACT":
                total = int(counted.get("count") or 0)
            records = []
            for node, orders in batch.customers:
                records.append(self._record(node, orders))
                newest = max(newest or "", node.get("updatedAt") or "") or None
            if batch.has_next:
                yield Page(records, cursor.advanced(phase="page", after=batch.end_cursor,
                                                    newest=newest).dump(), total=total)
                continue
            since, moment = cursor.since, when(newest)
            if moment is not None:
                since = _iso(moment - timedelta(seconds=self.settings.overlap_s))
            yield Page(records, Cursor(phase="page", since=since).dump(), total=total)
            return

    def _record(self, node: dict[str, Any], orders: OrderTotals) -> SourceRecord:
        return to_record(node, orders, shop=self.settings.shop,
                         tag_prefix=self.settings.tag_prefix)
