"""The client-side picture of Shopify's leaky bucket, on a fake clock."""

from __future__ import annotations

from hub_shopify.budget import CostBudget


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_queries_wait_exactly_for_the_refill_they_need() -> None:
    clock = Clock()
    budget = CostBudget(1000, 50, clock=clock, sleep=clock.sleep)
    for _ in range(4):
        budget.reserve(250)
    assert clock.slept == []  # a full bucket pays four 250-point queries at once
    budget.reserve(250)
    assert clock.slept == [5.0]  # 250 points at 50/s
    budget.reserve(100)
    assert clock.slept == [5.0, 2.0]
    assert budget.waited == 7.0


def test_the_servers_report_corrects_the_estimate() -> None:
    clock = Clock()
    budget = CostBudget(1000, 50, clock=clock, sleep=clock.sleep)
    budget.observe({"throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 100.0,
                                       "restoreRate": 100.0}})
    assert (budget.size, budget.rate) == (2000.0, 100.0)
    assert budget.wait_for(300) == 2.0
    budget.reserve(300)
    assert clock.slept == [2.0]
    budget.observe({"requestedQueryCost": 5})  # no throttle status: nothing changes
    assert budget.size == 2000.0


def test_a_query_dearer_than_the_bucket_waits_for_a_full_bucket_only() -> None:
    clock = Clock()
    budget = CostBudget(1000, 50, clock=clock, sleep=clock.sleep)
    budget.reserve(1000)
    budget.reserve(5000)
    assert clock.slept == [20.0]


def test_connectors_of_one_app_share_its_bucket() -> None:
    from hub_shopify.budget import shared_budget

    def sleep(_s: float) -> None:
        return None

    one = shared_budget("app-a", 2000, 100, sleep=sleep)
    assert shared_budget("app-a", 2000, 100, sleep=sleep) is one
    assert shared_budget("app-b", 2000, 100, sleep=sleep) is not one
