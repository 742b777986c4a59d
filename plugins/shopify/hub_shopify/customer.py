"""A Shopify customer in hub's terms: golden fields, consent evidence and customer value.

Consent follows docs/consent.md. Only ``SUBSCRIBED`` with ``CONFIRMED_OPT_IN`` *and* the
time it was given is a confirmed double opt-in; ``SINGLE_OPT_IN`` or ``UNKNOWN`` is a single
opt-in however long ago it happened; ``REDACTED`` means Shopify erased the person, which
hub records as an erasure of that record (the address is gone, the record id remains).

A customer's `locale` is not read as a language: Shopify fills it with the shop's default
for everyone who never chose one, so it would outvote what the CRM or newsletter know.

Customer value comes from the orders Shopify shows: all of them in a bulk read, the last one
with the customer plus follow-ups for the others in a paged read. Without the
``read_all_orders`` scope Shopify shows only the last 60 days, so first-order dates can be
late; `numberOfOrders` and `amountSpent` are Shopify's own totals and always complete.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.plugin import ConsentObservation, SourceRecord

#: Financial states in which the shop has the customer's money (wholly or partly).
PAID_STATES = frozenset({"PAID", "PARTIALLY_PAID", "PARTIALLY_REFUNDED"})


def when(value: Any) -> datetime | None:
    """A Shopify DateTime (``2024-01-31T09:00:00Z``) as an aware datetime."""
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass
class OrderTotals:
    """What a customer's orders add up to, built order by order (bulk lines come one by one)."""

    paid: int = 0
    first: str | None = None
    last: str | None = None

    def add(self, order: Mapping[str, Any]) -> None:
        """Count one order (cancelled ones count for dates, not as paid)."""
        created = order.get("createdAt")
        if created:
            self.first = min(self.first or created, created)
            self.last = max(self.last or created, created)
        if order.get("displayFinancialStatus") in PAID_STATES and not order.get("cancelledAt"):
            self.paid += 1

    @classmethod
    def of(cls, orders: Iterable[Mapping[str, Any]]) -> OrderTotals:
        """Totals of `orders`."""
        totals = cls()
        for order in orders:
            totals.add(order)
        return totals


def consent_of(node: Mapping[str, Any], shop: str) -> tuple[ConsentObservation, ...]:
    """What Shopify's ``emailMarketingConsent`` proves, per docs/consent.md (never more)."""
    state = node.get("emailMarketingConsent")
    if not state:
        return ()
    marketing = state.get("marketingState")
    level = state.get("marketingOptInLevel")
    at = when(state.get("consentUpdatedAt"))
    evidence = {"shop": shop, "marketingState": str(marketing),
                "marketingOptInLevel": str(level)}
    if at is not None:
        evidence["consentUpdatedAt"] = str(state["consentUpdatedAt"])
    if marketing == "SUBSCRIBED":
        if level == "CONFIRMED_OPT_IN" and at is not None:
            return (ConsentObservation("doi_confirmed", at, evidence=evidence),)
        if level == "CONFIRMED_OPT_IN":
            evidence["note"] = "confirmed opt-in without a time: not provable as DOI"
        return (ConsentObservation("single_opt_in", at, evidence=evidence),)
    if marketing == "PENDING":
        return (ConsentObservation("doi_requested", at, evidence=evidence),)
    if marketing == "UNSUBSCRIBED":
        return (ConsentObservation("opt_out", at, evidence=evidence),)
    if marketing == "INVALID":
        return (ConsentObservation("bounce", at, evidence=evidence),)
    if marketing == "REDACTED":
        return (ConsentObservation("erasure", at, evidence=evidence),)
    return ()


def _address_fields(address: Mapping[str, Any] | None) -> dict[str, Any]:
    if not address:
        return {}
    street = " ".join(p for p in (address.get("address1"), address.get("address2")) if p)
    fields = {"street": street or None, "city": address.get("city"), "zip": address.get("zip"),
              "region": address.get("province"), "country": address.get("countryCodeV2"),
              "company": address.get("company")}
    return {k: v for k, v in fields.items() if v}


def to_record(node: Mapping[str, Any], orders: OrderTotals, *, shop: str,
              tag_prefix: str) -> SourceRecord:
    """One customer as a `SourceRecord` (`orders` are its order totals)."""
    fields: dict[str, Any] = {"email": node.get("email"), "first_name": node.get("firstName"),
                              "last_name": node.get("lastName"), "phone": node.get("phone")}
    fields.update(_address_fields(node.get("defaultAddress")))
    tags = [t for t in node.get("tags") or () if not t.startswith(tag_prefix)]
    if tags:
        fields["tags"] = tags
    spent = node.get("amountSpent") or {}
    signals: dict[str, Any] = {"orders_count": int(node.get("numberOfOrders") or 0),
                               "paid_orders_count": orders.paid,
                               "amount_spent": float(spent.get("amount") or 0),
                               "currency": spent.get("currencyCode"),
                               "first_order_at": orders.first, "last_order_at": orders.last}
    consent = consent_of(node, shop)
    return SourceRecord(
        id=str(node["id"]), fields={k: v for k, v in fields.items() if v not in (None, "")},
        updated_at=when(node.get("updatedAt")),
        deleted=any(c.kind == "erasure" for c in consent),
        consent=consent, signals={k: v for k, v in signals.items() if v is not None})


def customer_input(fields: Mapping[str, Any], write_fields: Sequence[str]) -> dict[str, Any]:
    """The ``CustomerInput`` for the golden fields this connector writes."""
    names = {"email": "email", "first_name": "firstName", "last_name": "lastName",
             "phone": "phone"}
    data: dict[str, Any] = {}
    for golden, shopify in names.items():
        if golden in write_fields and golden in fields:
            data[shopify] = fields[golden] or None
    address = {"address1": fields.get("street"), "city": fields.get("city"),
               "zip": fields.get("zip"), "company": fields.get("company"),
               "countryCode": fields.get("country")}
    wanted = {k: v for k, v in address.items()
              if v and {"address1": "street", "countryCode": "country"}.get(k, k) in write_fields}
    if wanted:
        data["addresses"] = [wanted]
    return data
