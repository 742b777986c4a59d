"""Shopify's API release calendar, and the documents that differ between versions.

Shopify releases a stable Admin API version on the first day of every quarter (5 pm UTC) and
supports each for at least 12 months; a request for a version past that is answered by the
oldest supported one, and the `X-Shopify-API-Version` response header names the version that
answered (https://shopify.dev/docs/api/usage/versioning). A connector pinned to a version
therefore keeps working after the version ends, but on another version's schema: `check()`
warns before that happens and when it already has.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from hub.plugin import Finding

#: The version a new connector uses: supported until October 2027.
DEFAULT_VERSION = "2026-10"
#: How long before a version's end `hub check` starts warning.
WARN_DAYS = 60

_VERSION = re.compile(r"^(\d{4})-(01|04|07|10)$")


def support_ends(version: str) -> datetime | None:
    """When Shopify stops serving `version` as itself (release + 12 months)."""
    match = _VERSION.match(version)
    if not match:
        return None
    return datetime(int(match.group(1)) + 1, int(match.group(2)), 1, 17, tzinfo=UTC)


def has_bulk_operation_query(version: str) -> bool:
    """`bulkOperation(id:)` exists from 2026-01 (before: `currentBulkOperation`, `node`)."""
    return version >= "2026-01"


def has_count_limit(version: str) -> bool:
    """`customersCount(limit:)` exists from 2025-07 (default 10,000; before: uncapped)."""
    return version >= "2025-07"


def version_findings(connector: str, configured: str, answered: str | None,
                     now: datetime) -> list[Finding]:
    """A warning when `configured` has fallen forward (the answer came from `answered`), or
    will within `WARN_DAYS` by the release calendar."""
    ends = support_ends(configured)
    fix = f"set api_version = \"{DEFAULT_VERSION}\" (or the newest your tests pass with)"
    if answered and answered != configured:
        return [Finding("warning", "api version", f"connector {connector!r}: Shopify no longer "
                        f"supports API version {configured} and answered with {answered} "
                        f"instead — {fix}")]
    if ends is not None and now >= ends - timedelta(days=WARN_DAYS):
        return [Finding("warning", "api version", f"connector {connector!r}: Shopify supports "
                        f"API version {configured} until {ends:%Y-%m-%d}; after that it answers "
                        f"with a newer one — {fix}")]
    return []
