"""HubSpot CRM connector for hub: contacts, lifecycle signals and e-mail subscriptions."""

from hub_hubspot.connector import HubSpotConnector
from hub_hubspot.settings import HubSpotSettings

__all__ = ["HubSpotConnector", "HubSpotSettings"]
