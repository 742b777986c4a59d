"""Customer value: what a contact's orders say about them, across every shop that knows them.

Existing customers matter more than new leads: their order count, revenue, first and last
order, average order value, an RFM (recency, frequency, monetary) segment, whether they went
to sleep (`dormant`, for win-back campaigns) and whether they are `premium`. The inputs are
the signals shop connectors report per customer record (`orders_count`, `paid_orders_count`,
`amount_spent`, `currency`, `first_order_at`, `last_order_at`); one person with two shop
accounts is one customer whose orders add up.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.lifecycle.config import LifecycleSection

#: Signals that add up over a contact's records (two shop accounts, one person).
ADDITIVE = frozenset({"orders_count", "paid_orders_count", "amount_spent"})


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from an ISO-8601 string or datetime; None when it is neither."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def combine(records: Iterable[tuple[Mapping[str, Any], datetime | None]]
            ) -> dict[str, tuple[Any, datetime | None]]:
    """One contact's signals from all its records: (value, when the record said so).

    Order counts and revenue add up, the first order is the earliest and the last the latest;
    any other signal is taken from the record that changed most recently.
    """
    combined: dict[str, tuple[Any, datetime | None]] = {}
    for signals, at in sorted(records, key=lambda item: item[1] or datetime.min.replace(
            tzinfo=UTC)):
        for name, value in signals.items():
            if value is None:
                continue
            before = combined.get(name)
            if before is None:
                combined[name] = (value, at)
            elif name in ADDITIVE and _is_number(value) and _is_number(before[0]):
                combined[name] = (before[0] + value, _latest(before[1], at))
            elif name == "first_order_at":
                combined[name] = min(before, (value, at), key=lambda v: str(v[0]))
            elif name == "last_order_at":
                combined[name] = max(before, (value, at), key=lambda v: str(v[0]))
            else:
                combined[name] = (value, at)
    return combined


@dataclass(frozen=True, slots=True)
class CustomerValue:
    """Order figures of one contact, plus the segment and flags the config derives."""

    orders: int
    paid_orders: int
    revenue: float
    currency: str | None
    first_order_at: str | None
    last_order_at: str | None
    aov: float | None
    rfm: str | None
    segment: str | None
    dormant: bool
    premium: bool

    @property
    def is_customer(self) -> bool:
        """At least one paid order."""
        return self.paid_orders > 0

    def as_dict(self) -> dict[str, Any]:
        """Stored with the lead row and shown by `hub contacts explain`."""
        return {"orders": self.orders, "paid_orders": self.paid_orders,
                "revenue": round(self.revenue, 2), "currency": self.currency,
                "first_order_at": self.first_order_at, "last_order_at": self.last_order_at,
                "aov": None if self.aov is None else round(self.aov, 2), "rfm": self.rfm,
                "segment": self.segment, "dormant": self.dormant, "premium": self.premium}


def value_of(signals: Mapping[str, tuple[Any, datetime | None]], section: LifecycleSection,
             now: datetime) -> CustomerValue | None:
    """The customer value from combined signals; None for a contact that never ordered."""
    def get(name: str) -> Any:
        found = signals.get(name)
        return found[0] if found else None

    orders = _int(get("orders_count"))
    paid = _int(get("paid_orders_count"))
    if orders == 0 and paid == 0:
        return None
    revenue = _float(get("amount_spent"))
    last = parse_time(get("last_order_at"))
    recency = None if last is None else max(0, (now - last).days)
    counted = max(orders, paid)
    aov = revenue / counted if counted else None
    rfm = segment = None
    if recency is not None:
        r = _band_low(recency, section.rfm_recency_days)
        f = _band_high(counted, section.rfm_frequency)
        m = _band_high(revenue, section.rfm_monetary)
        rfm = f"{r}{f}{m}"
        segment = _segment(r, f, m)
    dormant = paid > 0 and (recency is None or recency >= section.dormant_after_days)
    premium = section.premium_revenue is not None and paid > 0 \
        and revenue >= section.premium_revenue
    first = get("first_order_at")
    return CustomerValue(orders=orders, paid_orders=paid, revenue=revenue,
                         currency=get("currency"), first_order_at=first and str(first),
                         last_order_at=last.isoformat().replace("+00:00", "Z") if last else None,
                         aov=aov, rfm=rfm, segment=segment, dormant=dormant, premium=premium)


def _segment(r: int, f: int, m: int) -> str:
    """A name marketing can target, from the three 1-3 scores (3 is best)."""
    if r == 3 and f == 3:
        return "champion"
    if r >= 2 and f == 3:
        return "loyal"
    if r == 3 and f == 1:
        return "new"
    if r == 1 and f >= 2:
        return "at_risk"
    if r == 1:
        return "hibernating"
    return "big_spender" if m == 3 else "promising"


def _band_low(value: float, limits: tuple[float, float]) -> int:
    return 3 if value <= limits[0] else 2 if value <= limits[1] else 1


def _band_high(value: float, limits: tuple[float, float]) -> int:
    return 3 if value >= limits[1] else 2 if value >= limits[0] else 1


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _float(value: Any) -> float:
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        return 0.0
