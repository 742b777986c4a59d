"""Planning a paged read's order follow-ups (the read itself runs against the sandbox in
test_connector.py)."""

from __future__ import annotations

from collections import deque
from typing import Any

from hub_shopify.pages import PagedRead, _Customer, _FollowUp


def _order(number: int, day: int, status: str = "PAID") -> dict[str, Any]:
    return {"id": f"gid://shopify/Order/{number}", "createdAt": f"2026-01-{day:02d}T00:00:00Z",
            "displayFinancialStatus": status, "cancelledAt": None}


def _customer(number: int, orders: int, last: dict[str, Any] | None) -> _Customer:
    return _Customer({"id": f"gid://shopify/Customer/{number}", "numberOfOrders": str(orders),
                      "lastOrder": last})


def test_one_order_is_complete_with_its_last_order() -> None:
    pending: deque[_FollowUp] = deque()
    shared: deque[_Customer] = deque()
    customer = _customer(1, 1, _order(10, 5))
    PagedRead._first_orders(customer, False, pending, shared)
    assert not pending and not shared and not customer.waiting
    assert (customer.totals.paid, customer.totals.first, customer.totals.last) == (
        1, "2026-01-05T00:00:00Z", "2026-01-05T00:00:00Z")


def test_two_orders_share_a_follow_up_and_more_ask_on_their_own() -> None:
    pending: deque[_FollowUp] = deque()
    shared: deque[_Customer] = deque()
    two = _customer(1, 2, _order(10, 5))
    five = _customer(2, 5, _order(20, 9))
    unknown_last = _customer(3, 2, None)
    for customer in (two, five, unknown_last):
        PagedRead._first_orders(customer, False, pending, shared)
    assert list(shared) == [two]
    assert [(item.customer, item.first) for item in pending] == [(five, 4), (unknown_last, 2)]


def test_a_shared_follow_up_that_misses_an_order_asks_for_it_alone() -> None:
    pending: deque[_FollowUp] = deque()
    met = _customer(1, 2, _order(10, 5))
    missed = _customer(2, 2, _order(20, 9))
    for customer in (met, missed):
        PagedRead._first_orders(customer, False, pending, deque())
    # the last order again (it was not the newest by creation) counts once
    answer = {"nodes": [{**_order(11, 2), "customer": {"id": met.node["id"]}},
                        {**_order(20, 9), "customer": {"id": missed.node["id"]}}]}
    PagedRead._absorb_shared([met, missed], answer, pending)
    assert not met.waiting and met.totals.first == "2026-01-02T00:00:00Z"
    assert met.totals.paid == 2
    assert [(item.customer, item.first, item.after) for item in pending] == [(missed, 1, None)]
    assert missed.totals.paid == 1
