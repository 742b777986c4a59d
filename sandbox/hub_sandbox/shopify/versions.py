"""Shopify's API versions: the release calendar, fall-forward, and what changed in each.

Sources, all Shopify's own:

- *About Shopify API versioning* (https://shopify.dev/docs/api/usage/versioning): a stable
  version is released every quarter (`YYYY-01/04/07/10`) on the first of the month at 5 pm UTC
  and "is supported for a minimum of 12 months"; the release table shows each supported until
  the same day a year later. A request for a version that is no longer supported is answered
  by the oldest supported stable version, and the `X-Shopify-API-Version` response header names
  the version that answered (Shopify staff on community.shopify.com, topic 164634).
- The reference schema is Shopify's own dump (Shopify/cli, "unstable" on 2024-12-18); the
  changes since, per version, are the `CHANGES` below, each with its changelog entry.

A version this module cannot describe (older than `SERVED[0]`, or not yet released) is not
served as itself: an old one falls forward, a future one is answered 404 (a setting of no
source: what Shopify answers for an unreleased version is not documented).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

#: The versions whose schema the simulator builds, oldest first.
SERVED = ("2025-04", "2025-07", "2025-10", "2026-01", "2026-04", "2026-07", "2026-10")

_VERSION = re.compile(r"^(\d{4})-(01|04|07|10)$")

#: "Stable versions are released at 5pm UTC" (versioning guide).
RELEASE_HOUR = 17
#: "Each stable version is supported for a minimum of 12 months" (versioning guide).
SUPPORT_MONTHS = 12


def released(version: str) -> datetime | None:
    """When a quarterly stable version was (or will be) released; None for anything else."""
    match = _VERSION.match(version)
    if not match:
        return None
    return datetime(int(match.group(1)), int(match.group(2)), 1, RELEASE_HOUR, tzinfo=UTC)


def supported_until(version: str) -> datetime | None:
    """The end of a stable version's support window (release + 12 months)."""
    start = released(version)
    if start is None:
        return None
    return start.replace(year=start.year + SUPPORT_MONTHS // 12)


def supported(at: datetime) -> tuple[str, ...]:
    """The served versions Shopify supports at `at`, oldest first."""
    return tuple(v for v in SERVED
                 if (released(v) or at) <= at < (supported_until(v) or at))


def answering(requested: str, at: datetime) -> str | None:
    """The version that answers a request for `requested` at `at` (None: 404).

    A supported version answers itself; an older stable one falls forward to the oldest
    supported; a future or malformed one is not found.
    """
    start = released(requested)
    live = supported(at)
    if start is None or not live:
        return None
    if requested in live:
        return requested
    if start < (released(live[0]) or start):
        return live[0]
    return None


@dataclass(frozen=True)
class Change:
    """One documented difference from the reference schema, from version `since` on.

    `definition` is the field's SDL as of `since`: it replaces the reference's field of that
    name on `type_name`, or is added to it.
    """

    since: str
    type_name: str
    definition: str
    source: str

    @property
    def field(self) -> str:
        """The changed field's name."""
        return self.definition.split("(", 1)[0].split(":", 1)[0].strip()


_EMAIL_ADDRESS = ("https://shopify.dev/changelog/adding-defaultemailaddress-field-to-customer "
                  "(2025-04): Customer.defaultEmailAddress with emailAddress, marketingState, "
                  "marketingOptInLevel, marketingUpdatedAt")

CHANGES: tuple[Change, ...] = (
    Change("2025-04", "Customer", "defaultEmailAddress: CustomerEmailAddress", _EMAIL_ADDRESS),
    Change("2025-04", "CustomerEmailAddress",
           "marketingOptInLevel: CustomerMarketingOptInLevel", _EMAIL_ADDRESS),
    Change("2025-04", "CustomerEmailAddress", "marketingUpdatedAt: DateTime", _EMAIL_ADDRESS),
    Change("2025-04", "Customer", "defaultPhoneNumber: CustomerPhoneNumber",
           "https://shopify.dev/changelog/adding-defaultphonenumber-field-to-customer (2025-04)"),
    Change("2025-07", "QueryRoot", "customersCount(query: String, limit: Int = 10000): Count",
           "https://shopify.dev/changelog/uncapped-graphql-counts (2025-07): every count gets "
           "`limit`, default 10000; `null` counts uncapped"),
    Change("2025-07", "Mutation",
           "bulkOperationRunQuery(query: String!, groupObjects: Boolean! = true): "
           "BulkOperationRunQueryPayload",
           "https://shopify.dev/changelog/optional-groupobjects-argument-in-bulk-operations-"
           "mutations-that-offers-faster-and-more-reliable-job-execution (2025-07); the 2025-10 "
           "reference page: `groupObjects: Boolean!`, default true"),
    Change("2026-01", "Mutation",
           "bulkOperationRunQuery(query: String!, groupObjects: Boolean! = false): "
           "BulkOperationRunQueryPayload",
           "https://shopify.dev/changelog/bulk-operations-group-objects-default-changed-to-false "
           "(2026-01)"),
    Change("2026-01", "QueryRoot", "bulkOperation(id: ID!): BulkOperation",
           "https://shopify.dev/changelog/new-queries-for-bulk-operations (2026-01); its "
           "sibling `bulkOperations` is not modelled"),
)


def bulk_concurrency(version: str) -> int:
    """Bulk query operations an app may run at once per shop.

    "In API versions 2026-01 and higher apps can run up to five bulk query operations at a
    time per shop. In API versions prior to 2026-01, apps are limited to running a single bulk
    operation" (https://shopify.dev/api/usage/bulk-operations/queries).
    """
    return 5 if version >= "2026-01" else 1
