"""The entry point hub loads (``[project.entry-points.hub] shopify = "hub_shopify.plugin"``)."""

from __future__ import annotations

from collections.abc import Callable

from hub.plugin import Connector, hookimpl
from hub_shopify.connector import ShopifyConnector


@hookimpl
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """One connector type: ``plugin = "shopify"``."""
    register(ShopifyConnector)
