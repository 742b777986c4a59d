"""The entry point hub loads (``[project.entry-points.hub] csv = "hub_csv.plugin"``)."""

from __future__ import annotations

from collections.abc import Callable

from hub.plugin import Connector, hookimpl
from hub_csv.connector import CsvConnector


@hookimpl
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """One connector type: ``plugin = "csv"``."""
    register(CsvConnector)
