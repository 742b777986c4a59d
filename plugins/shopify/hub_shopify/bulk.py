"""Bulk operations: a whole shop's customers and orders in one job instead of 800 pages.

Paging a 20,000-customer shop costs hundreds of queries at Shopify's point budget (hours on
large shops: the complaint that moved other tools to bulk operations). A bulk operation runs
the query on Shopify's side and hands back a JSONL file. Two things users of other tools ran
into are handled here: a job that runs "endlessly" is cancelled after `bulk_timeout_s` and the
read falls back to paging, and a job already running for this app (one at a time per shop)
is adopted when it is ours, waited for when it is not. Before API 2026-01 there is no
`bulkOperation(id:)`: the job is polled as `currentBulkOperation`, and through `node(id:)` if
another job has become the current one meanwhile.

The file lists children as their own lines with ``__parentId``, not necessarily right after
their parent, so it is read twice from a local temporary copy: once to add up each customer's
orders, once to yield the customers.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import IO, Any

import httpx

from hub.plugin import ConnectorError
from hub_shopify.customer import OrderTotals
from hub_shopify.graphql import ShopifyAPI
from hub_shopify.queries import (
    BULK_CANCEL,
    BULK_CURRENT,
    BULK_CUSTOMERS,
    BULK_NODE,
    BULK_RUN,
    bulk_status_query,
)
from hub_shopify.versions import has_bulk_operation_query


class BulkUnavailable(Exception):
    """The bulk operation failed, expired or took too long: page instead."""


class BulkRead:
    """Start (or adopt), wait for and read one bulk customers query."""

    def __init__(self, api: ShopifyAPI, files: Callable[[], httpx.Client], *, version: str,
                 poll_s: float, timeout_s: float, clock: Callable[[], datetime],
                 sleep: Callable[[float], None], count: Callable[[], None]) -> None:
        self.api = api
        self.version = version
        #: A plain client for the result file: it lives on a storage host that must not see
        #: the shop's token, and it is streamed to disk rather than held in memory.
        self._files = files
        self._count = count
        self.poll_s = poll_s
        self.timeout_s = timeout_s
        self.clock = clock
        self.sleep = sleep

    def start(self, *, wait: bool = True) -> str:
        """The id of a running bulk customers query: a new one, or ours if one runs. Another
        bulk query of this app is waited for, or with `wait` False, BulkUnavailable at once."""
        deadline = self.clock() + timedelta(seconds=self.timeout_s)
        while True:
            data = self.api.run(BULK_RUN, {"query": BULK_CUSTOMERS},
                                doing="starting a bulk read of customers")
            payload = data["bulkOperationRunQuery"]
            operation = payload.get("bulkOperation")
            if operation and not payload.get("userErrors"):
                return str(operation["id"])
            errors = payload.get("userErrors") or []
            busy = any(e.get("code") == "OPERATION_IN_PROGRESS"
                       or "in progress" in str(e.get("message", "")).lower() for e in errors)
            if not busy:
                raise ConnectorError(f"connector {self.api.connector!r}: Shopify refused the "
                                     f"bulk query: {'; '.join(e['message'] for e in errors)}")
            current = self.api.run(BULK_CURRENT, doing="looking at the running bulk operation")
            running = current.get("currentBulkOperation") or {}
            if running.get("query", "").split() == BULK_CUSTOMERS.split():
                return str(running["id"])
            if not wait or self.clock() > deadline:
                raise BulkUnavailable("another bulk operation kept running")
            self.sleep(self.poll_s)

    def cancel(self, operation_id: str) -> None:
        """Stop a bulk operation hub no longer needs (its file would go unread)."""
        self.api.run(BULK_CANCEL, {"id": operation_id}, doing="cancelling the bulk read")

    def wait(self, operation_id: str) -> dict[str, Any]:
        """The finished operation (with its file `url`); cancels one that runs too long."""
        deadline = self.clock() + timedelta(seconds=self.timeout_s)
        while True:
            operation = self._status(operation_id)
            if operation is None:
                raise BulkUnavailable(f"bulk operation {operation_id} is gone")
            status = operation["status"]
            if status == "COMPLETED":
                return dict(operation)
            if status in ("FAILED", "CANCELED", "CANCELING", "EXPIRED"):
                raise BulkUnavailable(f"bulk operation {operation_id} ended {status} "
                                      f"({operation.get('errorCode') or 'no error code'})")
            if self.clock() > deadline:
                self.cancel(operation_id)
                raise BulkUnavailable(f"bulk operation {operation_id} ran longer than "
                                      f"{self.timeout_s:.0f} s")
            self.sleep(self.poll_s)

    def _status(self, operation_id: str) -> dict[str, Any] | None:
        """The operation's state, asked the way the API version allows."""
        doing = "polling the bulk read"
        if has_bulk_operation_query(self.version):
            data = self.api.run(bulk_status_query(self.version), {"id": operation_id},
                                doing=doing)
            return data.get("bulkOperation")
        current = self.api.run(bulk_status_query(self.version), doing=doing)
        operation = current.get("currentBulkOperation")
        if operation is not None and operation.get("id") == operation_id:
            return dict(operation)
        node = self.api.run(BULK_NODE, {"id": operation_id}, doing=doing).get("node")
        return dict(node) if node else None

    def customers(self, operation: dict[str, Any],
                  skip: int = 0) -> Iterator[tuple[dict[str, Any], OrderTotals]]:
        """Each customer of the finished operation's file with its order totals."""
        url = operation.get("url")
        if not url:  # no customers at all: Shopify gives no file
            return
        with tempfile.TemporaryFile() as copy:
            self._download(str(url), copy)
            totals: dict[str, OrderTotals] = {}
            for line in _lines(copy):
                parent = line.get("__parentId")
                if parent is not None:
                    totals.setdefault(str(parent), OrderTotals()).add(line)
            seen = 0
            for line in _lines(copy):
                if "__parentId" in line:
                    continue
                seen += 1
                if seen > skip:
                    yield line, totals.get(str(line["id"]), OrderTotals())

    def _download(self, url: str, into: IO[bytes], attempts: int = 3) -> None:
        problem: Exception | None = None
        for attempt in range(attempts):
            into.seek(0)
            into.truncate()
            self._count()
            try:
                with self._files().stream("GET", url) as response:
                    if response.status_code in (403, 404, 410):
                        raise BulkUnavailable("the bulk result file is gone "
                                              f"(HTTP {response.status_code})")
                    if response.status_code >= 400:
                        raise httpx.HTTPStatusError(f"HTTP {response.status_code}",
                                                    request=response.request, response=response)
                    for chunk in response.iter_bytes():
                        into.write(chunk)
                return
            except (httpx.TransportError, httpx.HTTPStatusError) as exc:
                problem = exc
                self.sleep(self.poll_s * 2 ** attempt)
        raise BulkUnavailable(f"downloading the bulk result failed {attempts} times: {problem}")


def _lines(copy: IO[bytes]) -> Iterator[dict[str, Any]]:
    copy.seek(0)
    for number, raw in enumerate(copy, start=1):
        if not raw.strip():
            continue
        try:
            yield json.loads(raw)
        except ValueError:
            raise BulkUnavailable(f"line {number} of the bulk result is not JSON") from None
