"""The Shopify connector: customers, their order totals and e-mail consent (Admin GraphQL).

It declares what it can do and wires the parts: `stream.CustomerStream` reads (bulk for a
large shop's first read, pages after), `writes.CustomerWrites` writes, `budget.CostBudget`
keeps the query cost under Shopify's leaky bucket and `graphql.classify` makes hub's HTTP
layer retry THROTTLED answers that arrive as HTTP 200.

The shop's customer list is the shop's: hub updates customers it has read from it and creates
new ones only with ``create_customers = true``.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC
from functools import cached_property
from typing import ClassVar

import httpx

from hub.plugin import (
    Capability,
    Connector,
    ConnectorContext,
    ConnectorError,
    ConnectorSettings,
    Finding,
    OutboundRecord,
    Page,
    SystemKind,
    WriteResult,
)
from hub_shopify.budget import CostBudget, shared_budget
from hub_shopify.bulk import BulkRead
from hub_shopify.graphql import ShopifyAPI, classify
from hub_shopify.queries import CHECK
from hub_shopify.scopes import scope_findings
from hub_shopify.settings import ShopifySettings
from hub_shopify.stream import BULK_PAGE, CustomerStream
from hub_shopify.versions import version_findings
from hub_shopify.writes import CustomerWrites

log = logging.getLogger(__name__)


class ShopifyConnector(Connector):
    """``plugin = "shopify"``: one shop through a custom app's Admin API token."""

    plugin: ClassVar[str] = "shopify"
    system: ClassVar[SystemKind] = SystemKind.SHOP
    Settings: ClassVar[type[ConnectorSettings]] = ShopifySettings
    capabilities: ClassVar[frozenset[Capability]] = frozenset({
        Capability.READ_CONTACTS, Capability.WRITE_CONTACTS, Capability.WRITE_LEAD_STATUS,
        Capability.READ_ORDERS, Capability.READ_CONSENT, Capability.WRITE_CONSENT,
        Capability.DELETE_CONTACTS,
    })
    streams: ClassVar[tuple[str, ...]] = ("contacts",)
    page_size: ClassVar[int] = BULK_PAGE
    #: A mutation costs 10 points and a document at most 1000 (99 mutations): 95 records fit one
    #: request with a mutation each, or with a `tagsAdd` each and their 4 `metafieldsSet`
    #: (25 metafields a call); records needing more mutations are split over more documents.
    batch_size: ClassVar[int] = 95
    #: Profile fields a shop usually lets a CRM correct; addresses only when config says so
    #: (Shopify replaces the address list on update).
    default_write_fields: ClassVar[tuple[str, ...]] = ("first_name", "last_name", "phone")

    settings: ShopifySettings

    def __init__(self, settings: ConnectorSettings, context: ConnectorContext) -> None:
        if not isinstance(settings, ShopifySettings):
            settings = ShopifySettings.model_validate(settings.model_dump())
        super().__init__(settings, context)
        self.creates_records = self.settings.create_customers

    @cached_property
    def budget(self) -> CostBudget:
        """The app's leaky bucket as hub sees it, one per shop and token in this process
        (a digest of them is the key, never the token itself)."""
        token = self.context.secret(self.settings.token).get_secret_value()
        app = hashlib.sha256(f"{self.settings.root}\0{token}".encode()).hexdigest()
        return shared_budget(app, self.settings.bucket_size, self.settings.restore_rate,
                             sleep=self.context.sleep)

    # -- clients (built on first use, so a connector that is never run needs no secret) -----
    @cached_property
    def client(self) -> httpx.Client:
        """The Admin API, with hub's retries; THROTTLED inside a 200 is retried too."""
        token = self.context.secret(self.settings.token).get_secret_value()
        return self.context.client(base_url=self.settings.root, classify=classify,
                                   headers={"X-Shopify-Access-Token": token,
                                            "Accept": "application/json"})

    @cached_property
    def files(self) -> httpx.Client:
        """Bulk result files: another host, no token, streamed to disk."""
        return httpx.Client(transport=self.context.transport, timeout=300.0,
                            follow_redirects=True)

    @cached_property
    def api(self) -> ShopifyAPI:
        """The GraphQL endpoint under the cost budget."""
        return ShopifyAPI(self.client, self.settings.endpoint, self.budget,
                          connector=self.name, token=self.settings.token)

    # -- the contract ------------------------------------------------------------------------
    def check(self) -> Sequence[Finding]:
        """One cheap query: the token works, the version exists, the shop is the one named;
        findings for missing scopes and an API version that has fallen forward or soon will."""
        data = self.api.run(CHECK, doing="checking the connection")
        domain = str(data["shop"].get("myshopifyDomain", ""))
        if domain and domain != self.settings.shop:
            raise ConnectorError(f"connector {self.name!r}: the token belongs to {domain}, not "
                                 f"to shop = {self.settings.shop!r} — fix shop or the token")
        handles = [str(s.get("handle")) for s in
                   (data.get("currentAppInstallation") or {}).get("accessScopes") or ()]
        return [*scope_findings(self.name, handles),
                *version_findings(self.name, self.settings.api_version,
                                  self.api.answered_version, self.context.clock())]

    def read(self, stream: str, cursor: str | None) -> Iterator[Page]:
        """Customers changed since `cursor` (None: all), with order totals and consent."""
        if stream != "contacts":
            raise ConnectorError(f"connector {self.name!r}: Shopify has no stream {stream!r} "
                                 f"(streams: {', '.join(self.streams)})")
        bulk = BulkRead(self.api, lambda: self.files, version=self.settings.api_version,
                        poll_s=self.settings.bulk_poll_s,
                        timeout_s=self.settings.bulk_timeout_s, clock=self.context.clock,
                        sleep=self.context.sleep, count=self._count_file)
        reader = CustomerStream(self.api, bulk, self.settings, clock=self.context.clock,
                                log=lambda text: self.context.logger.warning(
                                    "connector %s: %s", self.name, text))
        yield from reader.read(cursor)

    def write(self, records: Sequence[OutboundRecord]) -> list[WriteResult]:
        """Update (or, if allowed, create) customers, hub's tags, consent, lead metafield."""
        now = self.context.clock().astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return CustomerWrites(self.api, self.settings, self.write_fields, now).write(records)

    def close(self) -> None:
        """Close the HTTP clients that were opened."""
        for name in ("client", "files"):
            opened = self.__dict__.pop(name, None)
            if opened is not None:
                opened.close()
        self.__dict__.pop("api", None)

    def _count_file(self) -> None:
        self.context.api_calls += 1
