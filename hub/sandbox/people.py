"""Deterministic seeded people, spread over the three simulated systems.

The same person appears in HubSpot, Shopify and Mailchimp with the differences real data has:
e-mail case and stray whitespace, phone formats, a changed last name, missing fields, every
consent state. Each simulator builds its in-memory state from the per-system view.
The generator is deterministic per (seed, count): same input, same people, same order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Order:
    """A shop order of one customer (for customer value)."""

    id: int
    created_at: datetime
    updated_at: datetime
    total: str  # decimal string, e.g. "129.90"
    currency: str  # "EUR"
    financial_status: str  # PAID, PENDING, REFUNDED, PARTIALLY_REFUNDED, AUTHORIZED
    cancelled_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class HubSpotView:
    """The person as HubSpot holds them (property values as HubSpot would)."""

    email: str
    firstname: str | None
    lastname: str | None
    phone: str | None
    company: str | None
    jobtitle: str | None
    city: str | None
    zip: str | None
    country: str | None
    lifecyclestage: str | None  # subscriber, lead, marketingqualifiedlead, ...
    hs_lead_status: str | None  # NEW, OPEN, ..., UNQUALIFIED
    created_at: datetime
    updated_at: datetime
    subscription_status: str | None  # SUBSCRIBED, NOT_SUBSCRIBED, or None (no status)
    legal_basis: str | None  # CONSENT_WITH_NOTICE, LEGITIMATE_INTEREST_OTHER, ...
    doi_confirmed_at: datetime | None  # DOI evidence when HubSpot ran the double opt-in


@dataclass(frozen=True, slots=True)
class ShopifyView:
    """The person as a Shopify customer."""

    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None  # Shopify keeps E.164
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    marketing_state: str  # SUBSCRIBED, NOT_SUBSCRIBED, PENDING, UNSUBSCRIBED, ...
    opt_in_level: str | None  # SINGLE_OPT_IN, CONFIRMED_OPT_IN, UNKNOWN
    consent_updated_at: datetime | None
    city: str | None
    zip: str | None
    country_code: str | None
    orders: tuple[Order, ...] = ()


@dataclass(frozen=True, slots=True)
class MailchimpView:
    """The person as a Mailchimp audience member."""

    email: str
    status: str  # subscribed, unsubscribed, cleaned, pending, transactional
    fname: str | None
    lname: str | None
    phone: str | None
    language: str | None
    ip_signup: str | None
    timestamp_signup: datetime | None
    ip_opt: str | None
    timestamp_opt: datetime | None  # the DOI confirmation for subscribed members
    last_changed: datetime
    member_rating: int  # 1..5
    avg_open_rate: float
    avg_click_rate: float
    tags: tuple[str, ...] = ()
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Person:
    """One real-world person and how each system sees them (None: not in that system)."""

    key: int
    email: str  # canonical: trimmed, lower-case
    first_name: str
    last_name: str
    phone: str | None  # canonical E.164
    company: str | None
    job_title: str | None
    city: str | None
    zip: str | None
    country: str | None  # ISO 3166-1 alpha-2
    language: str | None
    hubspot: HubSpotView | None = None
    shopify: ShopifyView | None = None
    mailchimp: MailchimpView | None = None
    notes: tuple[str, ...] = field(default=())  # what is deliberately odd about this person
