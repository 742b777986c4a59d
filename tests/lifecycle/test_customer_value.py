"""Customer value: orders add up across shop records, RFM, dormant and premium."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.lifecycle.config import LifecycleSection
from hub.lifecycle.customer_value import combine, value_of

NOW = datetime(2026, 6, 1, tzinfo=UTC)
T1 = datetime(2026, 1, 1, tzinfo=UTC)
T2 = datetime(2026, 2, 1, tzinfo=UTC)


def test_two_shop_accounts_of_one_person_add_up() -> None:
    combined = combine([
        ({"orders_count": 2, "paid_orders_count": 2, "amount_spent": 300.0, "currency": "EUR",
          "first_order_at": "2025-03-01T00:00:00Z", "last_order_at": "2026-05-01T00:00:00Z"},
         T1),
        ({"orders_count": 1, "paid_orders_count": 0, "amount_spent": 0.0,
          "first_order_at": "2024-01-01T00:00:00Z", "last_order_at": "2024-01-01T00:00:00Z",
          "member_rating": 4}, T2),
    ])
    value = value_of(combined, LifecycleSection(), NOW)
    assert value is not None
    assert (value.orders, value.paid_orders, value.revenue) == (3, 2, 300.0)
    assert value.first_order_at == "2024-01-01T00:00:00Z"
    assert value.last_order_at == "2026-05-01T00:00:00Z"
    assert value.aov == 100.0
    assert value.rfm == "322" and value.segment == "promising"
    assert not value.dormant and not value.premium


def test_dormant_after_the_configured_inactivity_and_premium_by_revenue() -> None:
    signals = combine([({"orders_count": 6, "paid_orders_count": 6, "amount_spent": 1500.0,
                         "last_order_at": "2025-05-01T00:00:00Z"}, T1)])
    value = value_of(signals, LifecycleSection(dormant_after_days=365), NOW)
    assert value is not None and value.dormant and value.premium
    assert value.segment == "at_risk" and value.rfm == "133"
    awake = value_of(signals, LifecycleSection(dormant_after_days=400), NOW)
    assert awake is not None and not awake.dormant
    richer = value_of(signals, LifecycleSection(premium_revenue=2000), NOW)
    assert richer is not None and not richer.premium


def test_no_orders_no_value() -> None:
    assert value_of(combine([({"member_rating": 5}, T1)]), LifecycleSection(), NOW) is None
