"""Shopify connector for hub: customers, their order totals and e-mail marketing consent."""

from hub_shopify.connector import ShopifyConnector
from hub_shopify.settings import ShopifySettings

__all__ = ["ShopifyConnector", "ShopifySettings"]
