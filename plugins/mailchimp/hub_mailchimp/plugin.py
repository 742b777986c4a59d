"""The entry point hub loads (``[project.entry-points.hub] mailchimp = "hub_mailchimp.plugin"``)."""

from __future__ import annotations

from collections.abc import Callable

from hub.plugin import Connector, hookimpl
from hub_mailchimp.connector import MailchimpConnector


@hookimpl
def register_connectors(register: Callable[[type[Connector]], None]) -> None:
    """One connector type: ``plugin = "mailchimp"``."""
    register(MailchimpConnector)
