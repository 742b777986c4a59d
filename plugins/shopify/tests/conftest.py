"""A sandbox on loopback and Shopify connectors pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from hub.connector import ConnectorContext
from hub.secrets import MemoryBackend, Secrets
from hub_sandbox.app import RunningSandbox, Sandbox
from hub_shopify import ShopifyConnector, ShopifySettings

Build = Callable[..., ShopifyConnector]


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    # rate_scale: the bucket refills 1000× faster than Shopify's, so pages need no real wait
    with Sandbox(contacts=400, seed=11, rate_scale=1000).start() as running:
        yield running


@pytest.fixture
def make(sandbox: RunningSandbox) -> Build:
    creds = sandbox.credentials()["shopify"]

    def build(token: str | None = None, **extra: Any) -> ShopifyConnector:
        settings = ShopifySettings.model_validate({
            "plugin": "shopify", "shop": creds["shop"], "token": {"secret": "shop-token"},
            "base_url": creds["base_url"], "api_version": creds["api_version"], **extra})
        context = ConnectorContext(
            name="shop", sleep=lambda _s: None,
            secrets=Secrets(MemoryBackend({"shop-token": token or creds["token"]}), environ={}))
        return ShopifyConnector(settings, context)
    return build


@pytest.fixture
def graphql(sandbox: RunningSandbox) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """Change the shop the way its admin or another app would: through the API."""
    creds = sandbox.credentials()["shopify"]

    def run(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(
            f"{creds['base_url']}/admin/api/{creds['api_version']}/graphql.json",
            json={"query": query, "variables": variables},
            headers={"X-Shopify-Access-Token": creds["token"]})
        body: dict[str, Any] = response.json()
        assert not body.get("errors"), body
        return body["data"]
    return run
