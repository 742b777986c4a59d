"""The simulated shop's state: customers with their orders, addresses and metafields.

Seeded from each person's `ShopifyView`, kept in memory, changed only by the mutation resolvers.
Ids are deterministic: a seeded customer is `CUSTOMER_ID_BASE + person.key`, a seeded order keeps
the id the generator gave it, and everything created later counts up from the highest id in use,
so the same seed always yields the same gids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from phonenumbers.geodata.locale import LOCALE_DATA

from hub_sandbox.people import Person, ShopifyView

CUSTOMER_ID_BASE = 7_000_000_000_000
ADDRESS_ID_BASE = 9_000_000_000_000
METAFIELD_ID_BASE = 30_000_000_000_000
SHOP_ID = 63_000_000_000
FIRST_ORDER_NUMBER = 1001

#: Financial states whose money the shop actually holds (what `amountSpent` adds up).
SPENDING_STATUSES = frozenset({"PAID", "PARTIALLY_PAID", "PARTIALLY_REFUNDED", "REFUNDED"})

_GID = re.compile(r"^gid://shopify/([A-Za-z]+)/(\d+)(?:\?.*)?$")


def gid(kind: str, number: int) -> str:
    """`gid://shopify/Customer/123`: the global id Shopify gives every object."""
    return f"gid://shopify/{kind}/{number}"


def parse_gid(value: str) -> tuple[str, int] | None:
    """(kind, number) of a well-formed gid, None for anything else."""
    match = _GID.match(value)
    return (match.group(1), int(match.group(2))) if match else None


def to_second(moment: datetime) -> datetime:
    """UTC, whole seconds: Shopify's DateTime has no fraction, so filters and cursors match."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(microsecond=0)


def country_name(code: str | None) -> str | None:
    """English name of an ISO country code (the `country` Shopify shows next to the code)."""
    if not code:
        return None
    names = LOCALE_DATA.get(code.upper())
    if not names:
        return code.upper()
    name = str(names.get("en", ""))
    if name.startswith("*"):
        name = str(names.get(name[1:], ""))
    return name or code.upper()


@dataclass
class EmailConsent:
    """`emailMarketingConsent`: state, opt-in level and when it last changed."""

    state: str
    opt_in_level: str | None
    updated_at: datetime | None


@dataclass
class Address:
    """One of a customer's mailing addresses."""

    id: int
    address1: str | None = None
    address2: str | None = None
    city: str | None = None
    company: str | None = None
    country_code: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    province_code: str | None = None
    zip: str | None = None


@dataclass
class Metafield:
    """A typed key/value pair attached to a customer, an order or the shop."""

    id: int
    owner: str
    owner_type: str
    namespace: str
    key: str
    value: str
    type: str
    created_at: datetime
    updated_at: datetime


@dataclass
class Customer:
    """A shop customer as the Admin API exposes it."""

    id: int
    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    created_at: datetime
    updated_at: datetime
    consent: EmailConsent
    tags: list[str] = field(default_factory=list)
    note: str | None = None
    locale: str = "en"
    tax_exempt: bool = False
    addresses: list[Address] = field(default_factory=list)
    metafields: dict[tuple[str, str], Metafield] = field(default_factory=dict)
    erasure_due_at: datetime | None = None
    redacted: bool = False

    @property
    def gid(self) -> str:
        """`gid://shopify/Customer/<id>`."""
        return gid("Customer", self.id)

    @property
    def display_name(self) -> str:
        """Name if there is one, else the e-mail, else the phone (Shopify's `displayName`)."""
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return name or self.email or self.phone or ""


@dataclass
class ShopOrder:
    """An order, reduced to what customer value needs."""

    id: int
    number: int
    customer_id: int | None
    email: str | None
    created_at: datetime
    updated_at: datetime
    processed_at: datetime
    total: Decimal
    currency: str
    financial_status: str
    cancelled_at: datetime | None = None
    tags: list[str] = field(default_factory=list)
    metafields: dict[tuple[str, str], Metafield] = field(default_factory=dict)

    @property
    def gid(self) -> str:
        """`gid://shopify/Order/<id>`."""
        return gid("Order", self.id)

    @property
    def name(self) -> str:
        """`#1001`: the number merchants see."""
        return f"#{self.number}"

    @property
    def current_total(self) -> Decimal:
        """Total after refunds and cancellation: what the shop still holds."""
        if self.cancelled_at is not None or self.financial_status in ("REFUNDED", "VOIDED"):
            return Decimal("0")
        return self.total


@dataclass(frozen=True)
class AppInstallation:
    """The app behind the token: `currentAppInstallation`, with the scopes it was granted."""

    id: int
    scopes: frozenset[str]

    @property
    def gid(self) -> str:
        """`gid://shopify/AppInstallation/<id>`."""
        return gid("AppInstallation", self.id)


def sorted_tags(tags: Iterable[str]) -> list[str]:
    """Trimmed, de-duplicated (case-insensitively) and sorted, as Shopify returns tags."""
    seen: dict[str, str] = {}
    for tag in tags:
        for part in tag.split(","):
            cleaned = part.strip()
            if cleaned and cleaned.lower() not in seen:
                seen[cleaned.lower()] = cleaned
    return sorted(seen.values(), key=str.lower)


class Shop:
    """Everything the simulator holds: customers, orders, their indexes and id counters."""

    def __init__(self, people: Sequence[Person], *, currency: str = "EUR") -> None:
        self.currency = currency
        self.customers: dict[int, Customer] = {}
        self.orders: dict[int, ShopOrder] = {}
        self.shop_metafields: dict[tuple[str, str], Metafield] = {}
        self._orders_by_customer: dict[int, list[int]] = {}
        #: Customers with an erasure request still waiting (see `apply_due_erasures`).
        self.pending_erasures: set[int] = set()
        seeded: list[tuple[Customer, ShopifyView]] = []
        for person in people:
            if person.shopify is not None:
                seeded.append((self._seed_customer(person.key, person.shopify), person.shopify))
        self._seed_orders(seeded)
        self._next_customer_id = max(self.customers, default=CUSTOMER_ID_BASE) + 1
        addresses = [a.id for c in self.customers.values() for a in c.addresses]
        self._next_address_id = max(addresses, default=ADDRESS_ID_BASE) + 1
        self._next_metafield_id = METAFIELD_ID_BASE + 1

    def _seed_customer(self, key: int, view: ShopifyView) -> Customer:
        customer_id = CUSTOMER_ID_BASE + key
        consent = EmailConsent(view.marketing_state, view.opt_in_level,
                               to_second(view.consent_updated_at)
                               if view.consent_updated_at else None)
        addresses = []
        if view.city or view.zip or view.country_code:
            addresses.append(Address(id=ADDRESS_ID_BASE + key, city=view.city, zip=view.zip,
                                     country_code=view.country_code,
                                     first_name=view.first_name, last_name=view.last_name))
        customer = Customer(
            id=customer_id, email=view.email, first_name=view.first_name,
            last_name=view.last_name, phone=view.phone, created_at=to_second(view.created_at),
            updated_at=to_second(view.updated_at), consent=consent, tags=sorted_tags(view.tags),
            addresses=addresses, redacted=view.marketing_state == "REDACTED")
        self.customers[customer_id] = customer
        self._orders_by_customer[customer_id] = []
        return customer

    def _seed_orders(self, seeded: list[tuple[Customer, ShopifyView]]) -> None:
        placed = sorted(((order, customer) for customer, view in seeded for order in view.orders),
                        key=lambda pair: (pair[0].created_at, pair[0].id))
        for number, (order, customer) in enumerate(placed, start=FIRST_ORDER_NUMBER):
            self.orders[order.id] = ShopOrder(
                id=order.id, number=number, customer_id=customer.id, email=customer.email,
                created_at=to_second(order.created_at), updated_at=to_second(order.updated_at),
                processed_at=to_second(order.created_at), total=Decimal(order.total),
                currency=order.currency, financial_status=order.financial_status,
                cancelled_at=to_second(order.cancelled_at) if order.cancelled_at else None)
            self._orders_by_customer[customer.id].append(order.id)

    # lookups ---------------------------------------------------------------------------------

    def customer_by_email(self, email: str) -> Customer | None:
        """The customer holding this address (ignoring case and whitespace), if any."""
        wanted = "".join(email.split()).lower()
        for customer in self.customers.values():
            if customer.email and "".join(customer.email.split()).lower() == wanted:
                return customer
        return None

    def customer_by_phone(self, phone: str) -> Customer | None:
        """The customer holding this E.164 number, if any."""
        for customer in self.customers.values():
            if customer.phone == phone:
                return customer
        return None

    def orders_of(self, customer: Customer) -> list[ShopOrder]:
        """The customer's orders, oldest first."""
        return self.orders_of_id(customer.id)

    def orders_of_id(self, customer_id: int) -> list[ShopOrder]:
        """The orders of the customer with this (numeric) id, oldest first."""
        return [self.orders[order_id] for order_id in self._orders_by_customer.get(customer_id, [])]

    def amount_spent(self, customer: Customer) -> Decimal:
        """Money the shop holds from this customer: paid orders net of refunds."""
        return sum((order.current_total for order in self.orders_of(customer)
                    if order.financial_status in SPENDING_STATUSES), Decimal("0"))

    def last_order(self, customer: Customer) -> ShopOrder | None:
        """The customer's most recent order."""
        orders = self.orders_of(customer)
        return max(orders, key=lambda o: (o.created_at, o.id)) if orders else None

    # changes ---------------------------------------------------------------------------------

    def add_customer(self, *, created_at: datetime) -> Customer:
        """A new, empty customer with the next id (the caller fills it in)."""
        customer = Customer(id=self._next_customer_id, email=None, first_name=None,
                            last_name=None, phone=None, created_at=created_at,
                            updated_at=created_at,
                            consent=EmailConsent("NOT_SUBSCRIBED", "SINGLE_OPT_IN", None))
        self._next_customer_id += 1
        self.customers[customer.id] = customer
        self._orders_by_customer[customer.id] = []
        return customer

    def delete_customer(self, customer: Customer) -> None:
        """Remove a customer that has no orders."""
        del self.customers[customer.id]
        self._orders_by_customer.pop(customer.id, None)

    def new_address_id(self) -> int:
        """Next mailing-address id."""
        self._next_address_id += 1
        return self._next_address_id - 1

    def new_metafield_id(self) -> int:
        """Next metafield id."""
        self._next_metafield_id += 1
        return self._next_metafield_id - 1

    def apply_due_erasures(self, now: datetime) -> list[Customer]:
        """Carry out every erasure request whose waiting period is over; returns the erased."""
        erased = []
        for customer_id in sorted(self.pending_erasures):
            customer = self.customers.get(customer_id)
            if customer is None:
                self.pending_erasures.discard(customer_id)
            elif customer.erasure_due_at is not None and customer.erasure_due_at <= now:
                self.erase(customer, now)
                erased.append(customer)
        return erased

    def request_erasure(self, customer: Customer, due: datetime) -> None:
        """Schedule the erasure (a repeated request keeps the first date)."""
        if customer.erasure_due_at is None:
            customer.erasure_due_at = due
        self.pending_erasures.add(customer.id)

    def cancel_erasure(self, customer: Customer) -> None:
        """Drop a waiting erasure request."""
        customer.erasure_due_at = None
        self.pending_erasures.discard(customer.id)

    def erase(self, customer: Customer, at: datetime) -> None:
        """Remove the personal data, keep the record, its id and its orders' money.

        What remains is what Shopify keeps after a GDPR erasure: an anonymous customer whose
        e-mail consent reads REDACTED, so a sync sees the erasure instead of a vanished record.
        """
        customer.email = customer.first_name = customer.last_name = None
        customer.phone = customer.note = None
        customer.tags = []
        customer.addresses = []
        customer.metafields = {}
        customer.consent = EmailConsent("REDACTED", None, at)
        customer.erasure_due_at = None
        self.pending_erasures.discard(customer.id)
        customer.redacted = True
        customer.updated_at = at
        for order in self.orders_of(customer):
            order.email = None
