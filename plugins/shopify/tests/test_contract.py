"""The Shopify connector passes hub's plugin contract kit against the Shopify simulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.connector import OutboundRecord
from hub.testing import ConnectorContract, ContractEnvironment
from hub_sandbox.app import Sandbox
from hub_shopify import ShopifyConnector


class TestShopifyContract(ConnectorContract):
    connector_class = ShopifyConnector

    @pytest.fixture
    def contract_environment(self, tmp_path: Path) -> Iterator[ContractEnvironment]:
        with Sandbox(contacts=250, seed=6, rate_scale=1000).start() as running:
            creds = running.credentials()["shopify"]
            shop = running.sandbox.shopify.shop
            customers = sorted(shop.customers.values(), key=lambda c: c.id)

            def mutate() -> str:
                target = customers[0]
                httpx.post(f"{creds['base_url']}/admin/api/{creds['api_version']}/graphql.json",
                           json={"query": "mutation($i: CustomerInput!) { customerUpdate("
                                          "input: $i) { userErrors { message } } }",
                                 "variables": {"i": {"id": target.gid,
                                                     "lastName": "Geändert"}}},
                           headers={"X-Shopify-Access-Token": creds["token"]})
                return target.gid

            yield ContractEnvironment(
                settings={"plugin": "shopify", "shop": creds["shop"],
                          "token": {"secret": "shop-token"}, "base_url": creds["base_url"],
                          "api_version": creds["api_version"]},
                secrets={"shop-token": creds["token"]},
                sample_records=[OutboundRecord(f"s{i}", i, {"first_name": f"Kit{i}",
                                                            "lead.tags": ["hub:lead"],
                                                            "lead.stage": "lead"},
                                               external_id=c.gid)
                                for i, c in enumerate(customers[1:4])],
                bad_record=OutboundRecord("bad", 99, {"phone": "12"},
                                          external_id=customers[5].gid),
                faults=running.sandbox.controls.set_faults,
                mutate=mutate,
                invalid_settings=[
                    ({"plugin": "shopify", "shop": "my shop", "token": {"secret": "t"}}, "shop"),
                    ({"plugin": "shopify", "shop": "x.myshopify.com", "token": {"secret": "t"},
                      "api_version": "2025-02"}, "api_version"),
                    ({"plugin": "shopify", "shop": "x.myshopify.com", "token": {"secret": "t"},
                      "page_size": 251}, "page_size")],
            )
