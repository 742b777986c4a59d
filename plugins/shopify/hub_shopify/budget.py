"""Shopify's leaky bucket as the client sees it, so a large sync runs at the limit, not over.

Shopify throttles GraphQL by *query cost*, not by request count: each query reserves its
requested cost from a bucket (1000 points restoring at 50/s on the Standard plan) and refunds
what it did not use. Every answer reports the bucket in ``extensions.cost.throttleStatus``.
`CostBudget` keeps the last report, lets the bucket refill on the clock, and before a query
waits until the query's cost (learned from earlier answers to the same query) fits. Waiting
here is cheaper than a THROTTLED answer: that one is a wasted request plus the same wait.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any


class CostBudget:
    """The bucket's estimated level, corrected by every answer's throttle status."""

    def __init__(self, size: float, rate: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.size = size
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._level = size
        self._stamp = clock()
        self._lock = threading.Lock()
        #: Seconds spent waiting for the bucket (the benchmark compares it to the floor).
        self.waited = 0.0

    def _refilled(self) -> float:
        now = self._clock()
        self._level = min(self.size, self._level + (now - self._stamp) * self.rate)
        self._stamp = now
        return self._level

    def reserve(self, cost: float) -> None:
        """Wait until `cost` points are available, then take them."""
        with self._lock:
            level = self._refilled()
            wanted = min(cost, self.size)
            wait = max(0.0, (wanted - level) / self.rate)
            # may go below zero: the wait below is exactly what refills it
            self._level = level - wanted
        if wait > 0:
            self.waited += wait
            self._sleep(wait)

    def observe(self, cost: Mapping[str, Any] | None) -> None:
        """Adopt the server's view of the bucket from ``extensions.cost``."""
        status = (cost or {}).get("throttleStatus") or {}
        try:
            available = float(status["currentlyAvailable"])
            self.size = float(status.get("maximumAvailable") or self.size)
            self.rate = float(status.get("restoreRate") or self.rate) or self.rate
        except (KeyError, TypeError, ValueError):
            return
        with self._lock:
            self._level = min(self.size, available)
            self._stamp = self._clock()

    def wait_for(self, cost: float) -> float:
        """Seconds until `cost` points would be available (for a THROTTLED retry)."""
        with self._lock:
            return max(0.0, (min(cost, self.size) - self._refilled()) / self.rate)


_SHARED: dict[tuple[str, Callable[[float], None]], CostBudget] = {}
_SHARED_LOCK = threading.Lock()


def shared_budget(app: str, size: float, rate: float, *,
                  sleep: Callable[[float], None] = time.sleep) -> CostBudget:
    """The one budget of `app` (a digest of shop and token) in this process: Shopify's bucket
    is per app and shop, so a connector made after another one drained it must not start
    from a full bucket and be THROTTLED. Budgets with another `sleep` (tests) stay apart."""
    with _SHARED_LOCK:
        budget = _SHARED.get((app, sleep))
        if budget is None:
            budget = _SHARED[(app, sleep)] = CostBudget(size, rate, sleep=sleep)
        return budget
