"""The entry point hub loads (``[project.entry-points.hub] hubspot = "hub_hubspot.plugin"``)."""

from __future__ import annotations

from collections.abc import Callable

from hub.plugin import Connector, hookimpl
from hub_hubspot.connector import HubSpotConnector


@hookimpl
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """Offer ``plugin = "hubspot"`` to config.toml."""
    register(HubSpotConnector)
