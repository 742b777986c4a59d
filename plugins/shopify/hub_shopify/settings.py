"""The ``[connectors.NAME]`` table of a Shopify connector.

Example::

    [connectors.shop]
    plugin = "shopify"
    shop = "example.myshopify.com"
    token = { secret = "shopify-token" }      # an Admin API access token (shpat_…)
    api_version = "2026-10"
    # create_customers = true                 # a shop's customer list is the shop's: off by default
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from hub.plugin import ConnectorSettings, SecretRef
from hub_shopify.versions import DEFAULT_VERSION

_VERSION = re.compile(r"^20\d\d-(01|04|07|10)$")
_SHOP = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")


class ShopifySettings(ConnectorSettings):
    """Settings of one shop, reached through a custom app's Admin API token."""

    #: The shop's permanent domain, ``example.myshopify.com`` (not a custom domain).
    shop: str
    #: The custom app's Admin API access token (Settings → Apps → Develop apps).
    token: SecretRef
    #: Shopify's quarterly API version (``YYYY-01/04/07/10``); each is supported for a year,
    #: then answered by the oldest supported one (`hub check` warns 60 days before).
    api_version: str = DEFAULT_VERSION
    #: The API root; None means ``https://<shop>``. The sandbox or a proxy only differ here.
    base_url: str | None = None
    #: Whether hub may create customers in the shop. A shop's customer list is the shop's, so
    #: by default hub only updates customers it has read from it.
    create_customers: bool = False
    #: A first full read uses a bulk operation when the shop has at least this many customers
    #: (one job instead of a page per ~190 customers, and no query cost); smaller shops are
    #: paged. The job is started before the count is known (the count rides along with its
    #: first poll), so a smaller shop's first read costs one call more; 0 reads every shop in
    #: bulk without counting.
    bulk_threshold: int = Field(default=2500, ge=0)
    #: False: never a bulk operation, every read pages (no job is started to be counted).
    bulk_reads: bool = True
    #: Seconds between polls of a running bulk operation, and how long to wait for one before
    #: cancelling it and paging instead (bulk jobs on dense shops have run "endlessly").
    bulk_poll_s: float = Field(default=2.0, gt=0)
    bulk_timeout_s: float = Field(default=3600.0, gt=0)
    #: Customers in the first page of a paged read; every later page is sized from the query
    #: cost Shopify reported for the one before (one query may cost at most 1000 points).
    page_size: int = Field(default=50, ge=1, le=250)
    #: The app's leaky bucket until Shopify's first answer reports the real one (size and
    #: restore rate in points; the restore rate is the plan's: Standard 100/s, Advanced 200,
    #: Plus 1000, Enterprise 2000).
    bucket_size: float = Field(default=2000.0, gt=0)
    restore_rate: float = Field(default=100.0, gt=0)
    #: Lead-status tags start with this; hub replaces its own tags and leaves the shop's alone.
    tag_prefix: str = "hub:"
    #: Also keep the lead stage and score in a JSON metafield (namespace.key); "" turns it off.
    lead_metafield: str = "hub.lead"
    #: Incremental reads start this many seconds before the newest change read last time, so
    #: two changes within one second are not split across runs; re-read records are skipped.
    overlap_s: int = Field(default=60, ge=0)

    @field_validator("shop")
    @classmethod
    def _permanent_domain(cls, value: str) -> str:
        value = value.strip().lower().removeprefix("https://").removeprefix("http://")
        value = value.rstrip("/")
        if "." not in value:
            value = f"{value}.myshopify.com"
        if not _SHOP.match(value):
            raise ValueError(f"shop {value!r} must be the shop's .myshopify.com domain, like "
                             "example.myshopify.com (Settings → Domains shows it)")
        return value

    @field_validator("api_version")
    @classmethod
    def _quarterly(cls, value: str) -> str:
        if not _VERSION.match(value):
            raise ValueError(f"api_version {value!r} is not a Shopify API version; use a "
                             f"quarterly one like {DEFAULT_VERSION}")
        return value

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"base_url {value!r} must start with https:// (or http:// for "
                             "the local sandbox)")
        return value.rstrip("/") if value else value

    @field_validator("lead_metafield")
    @classmethod
    def _namespaced(cls, value: str) -> str:
        if value and not re.match(r"^[a-zA-Z0-9_-]{3,255}\.[a-zA-Z0-9_-]{2,64}$", value):
            raise ValueError(f"lead_metafield {value!r} must be namespace.key (like hub.lead), "
                             "or \"\" for none")
        return value

    @property
    def endpoint(self) -> str:
        """The GraphQL endpoint, relative to `root`."""
        return f"/admin/api/{self.api_version}/graphql.json"

    @property
    def root(self) -> str:
        """Where the Admin API lives."""
        return self.base_url or f"https://{self.shop}"
