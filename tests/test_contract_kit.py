"""The contract kit tells a plugin author what their connector still lacks."""

from __future__ import annotations

import pytest

from hub.plugin import Connector, ConnectorSettings, SystemKind
from hub.testing import ConnectorContract


class _Settings(ConnectorSettings):
    pass


class _Undeclared(Connector):
    plugin = "undeclared"
    Settings = _Settings


class _Newsletter(_Undeclared):
    plugin = "newsletter_tool"
    system = SystemKind.NEWSLETTER


def kit_for(connector: type[Connector]) -> ConnectorContract:
    kit = ConnectorContract()
    kit.connector_class = connector  # type: ignore[misc]  # an instance stands in for a subclass
    return kit


def test_a_connector_that_does_not_say_what_its_system_is_fails_the_kit() -> None:
    """A newsletter plugin that forgot `system` would escape hub's consent gate."""
    with pytest.raises(AssertionError, match="SystemKind"):
        kit_for(_Undeclared).test_declares_its_contract()


def test_a_declared_system_passes_the_declarations_check() -> None:
    kit_for(_Newsletter).test_declares_its_contract()
